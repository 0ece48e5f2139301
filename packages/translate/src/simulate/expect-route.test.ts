import type { RouteConfiguration } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { expectRoute, RouteExpectationError } from "./expect-route.js";

const routes: RouteConfiguration[] = [
  {
    name: "reviews",
    virtualHosts: [
      {
        name: "reviews",
        domains: ["reviews", "reviews:9080"],
        routes: [
          {
            name: "jason",
            match: { prefix: "/", headers: [{ name: "end-user", stringMatch: { exact: "jason" } }] },
            route: { cluster: "reviews-v2", timeout: { seconds: 3 } },
          },
          { name: "old", match: { prefix: "/old" }, redirect: { pathRedirect: "/new", responseCode: 1 } },
          { name: "teapot", match: { path: "/tea" }, directResponse: { status: 418, body: { inlineString: "short" } } },
          {
            name: "split",
            match: { prefix: "/" },
            route: {
              weightedClusters: {
                clusters: [
                  { name: "reviews-v1", weight: 100 },
                  { name: "reviews-v3", weight: 0 },
                ],
              },
              prefixRewrite: "/api/",
            },
          },
        ],
      },
    ],
  },
];

describe("expectRoute", () => {
  it("passes when every given field agrees and returns the result", () => {
    const result = expectRoute({ routes }, { url: "http://reviews:9080/r/1", headers: { "end-user": "jason" } }).toGo({
      cluster: "reviews-v2",
      route: "jason",
      virtualHost: "reviews",
      timeoutMs: 3000,
    });
    expect(result.route?.index).toBe(0);
    expectRoute({ routes }, { url: "http://reviews/r/1" }).toGo({
      cluster: "reviews-v1",
      route: 3,
      weightedClusters: { "reviews-v1": 100, "reviews-v3": 0 },
      path: "/api/r/1",
      host: "reviews",
    });
    expectRoute({ routes }, { url: "http://reviews/old?x=1" }).toGo({ redirect: "http://reviews/new?x=1" });
    expectRoute({ routes }, { url: "http://reviews/old" }).toGo({ redirect: { status: 302 } });
    expectRoute({ routes }, { url: "http://reviews/tea" }).toGo({ directResponse: { status: 418, body: "short" } });
    expectRoute({ routes }, { url: "http://ratings/" }).toGo({ localReply: 404 });
  });

  it("fails with the compared fields, a diff-ready error and the explain() trace", () => {
    let error: unknown;
    try {
      expectRoute({ routes }, { url: "http://reviews/r", headers: { "end-user": "mary" } }).toGo({
        cluster: "reviews-v2",
        route: "jason",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RouteExpectationError);
    const failure = error as RouteExpectationError;
    expect(failure.expected).toEqual({ route: "jason", cluster: "reviews-v2" });
    expect(failure.actual).toEqual({ route: "split", cluster: "reviews-v1" });
    expect(failure.showDiff).toBe(true);
    expect(failure.message).toContain("expected GET http://reviews/r [end-user: mary] to go to");
    expect(failure.message).toContain('header end-user: "mary" is not exact "jason"');
  });

  it("a redirect expected where the request is forwarded fails", () => {
    expect(() => expectRoute({ routes }, { url: "http://reviews/x" }).toGo({ redirect: "http://reviews/new" })).toThrow(
      RouteExpectationError,
    );
  });

  it("rejects an empty or misspelled expectation", () => {
    expect(() => expectRoute({ routes }, { url: "http://reviews/" }).toGo({})).toThrow(/at least one field/);
    expect(() => expectRoute({ routes }, { url: "http://reviews/" }).toGo({ clustr: "x" } as never)).toThrow(
      /unknown field\(s\) clustr/,
    );
  });
});
