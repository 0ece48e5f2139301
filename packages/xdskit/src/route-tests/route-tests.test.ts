import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "@xdskit/translate";
import { describe, expect, it } from "vitest";
import { parseRouteTestFile } from "./load.js";
import { RouteTestFileError } from "./model.js";
import { formatJunit, formatRun } from "./report.js";
import { runRouteTests } from "./run.js";
import { targetOfConfig } from "./source.js";

const example = new URL("../../../../examples/route-tests", import.meta.url).pathname;
const meshFiles = fs
  .readdirSync(path.join(example, "mesh"))
  .map((f) => ({ file: f, text: fs.readFileSync(path.join(example, "mesh", f), "utf8") }));
const gateway = targetOfConfig(loadConfig(meshFiles), {}, () => {});
const CART_V1 = "outbound|80|v1|cart.shop.svc.cluster.local";
const CART_V2 = "outbound|80|v2|cart.shop.svc.cluster.local";

const run = (text: string, file = "t.yaml") => {
  const warnings: string[] = [];
  const cases = parseRouteTestFile(file, text, (w) => void warnings.push(w));
  return { report: runRouteTests(cases, gateway.resources), cases, warnings };
};
const parseError = (text: string) => {
  try {
    parseRouteTestFile("t.yaml", text, () => {});
  } catch (error) {
    expect(error).toBeInstanceOf(RouteTestFileError);
    return (error as Error).message;
  }
  throw new Error("expected a RouteTestFileError");
};

describe("the default proxy", () => {
  it("is a gateway with the selector of the config's Gateway, when no workload has its labels", () => {
    expect(gateway.proxy).toBe("router~127.0.0.1~istio-ingressgateway.istio-system~istio-system.svc.cluster.local");
    expect(gateway.resources.routes?.map((r) => r.name)).toEqual(["http.8080"]);
  });
});

describe("xdskit's format", () => {
  it("passes what the config does and fails, field by field, what it does not", () => {
    const { report } = run(`
tests:
- name: beta
  request: { url: http://shop.example/cart, headers: { x-beta: "1" } }
  expect: { route: cart-beta, cluster: ${CART_V2}, status: 200 }
- name: wrong cluster
  requests: [{ url: http://shop.example/cart }, { authority: shop.example, path: /cart/x, randomValue: 95 }]
  expect: { cluster: ${CART_V1} }
- name: headers and fault
  request: { url: http://shop.example/v1/orders/1 }
  expect: { requestHeaders: { x-api-version: v2, x-absent: null }, fault: null, path: /orders/1 }
`);
    expect(report.cases.map((c) => c.status)).toEqual(["failed", "failed", "failed"]);
    const [beta, wrong, headers] = report.cases;
    // status 200 is not a status Envoy answers itself: the forward has none.
    expect(beta?.requests[0]?.mismatches).toEqual([{ field: "status", expected: 200, actual: null }]);
    // Without randomValue a 90/10 split names no single cluster; 95 picks v2.
    expect(wrong?.requests.map((r) => r.mismatches[0]?.actual)).toEqual([null, CART_V2]);
    expect(wrong?.requests[1]?.matched).toEqual({
      routeConfiguration: "http.8080",
      virtualHost: "shop.example:8080",
      route: "cart",
    });
    expect(wrong?.requests[1]?.trace).toMatch(/✓ route #1 "cart"/);
    expect(headers?.requests[0]?.mismatches).toEqual([
      { field: "requestHeaders.x-api-version", expected: "v2", actual: "v1" },
    ]);
  });

  it("checks redirects, faults and local replies", () => {
    const { report } = run(`
tests:
- name: redirect
  request: { url: http://shop.example/home }
  expect: { redirect: http://shop.example/, status: 301 }
- name: bots
  request: { url: http://shop.example/x, headers: { x-request-class: bot } }
  expect: { fault: { abort: { httpStatus: 403, percent: 100 } }, cluster: outbound|80||catalog.shop.svc.cluster.local }
- name: no such host
  request: { url: http://nope.example/ }
  expect: { localReply: 404, status: 404 }
`);
    expect(report.cases.map((c) => [c.name, c.status, c.requests[0]?.mismatches])).toEqual([
      ["redirect", "passed", []],
      ["bots", "passed", []],
      ["no such host", "passed", []],
    ]);
  });

  it("rejects unknown fields and incomplete tests, naming file, test and field", () => {
    expect(parseError("tests: [{ name: a, request: { url: http://x/ }, expect: { clutser: a } }]")).toMatch(
      /^t\.yaml: test "a"\.expect\.clutser: unknown field; known: listener, /,
    );
    expect(parseError("tests: [{ request: { url: http://x/ }, expect: { cluster: a } }]")).toBe(
      "t.yaml: tests[0].name: give the test a name",
    );
    expect(parseError("tests: [{ name: a, request: { url: http://x/ }, expect: {} }]")).toBe(
      't.yaml: test "a".expect: give at least one field to expect',
    );
    expect(parseError("tests: [{ name: a, request: { uri: /x }, expect: { cluster: a } }]")).toMatch(
      /^t\.yaml: test "a"\.request\.uri: unknown field/,
    );
    expect(parseError("foo: 1")).toMatch(/^t\.yaml: not a route test file/);
    expect(parseError("tests: [ { name: a")).toMatch(/^t\.yaml:1:\d+: /);
  });
});

describe("istio-config-validator's format", () => {
  it("sends every uri × authority × method, in the tool's order", () => {
    const { cases } = run(`
testCases:
- description: combos
  wantMatch: true
  request: { authority: [a.example, b.example], method: [GET, POST], uri: [/x, /y], headers: { h: v } }
  route: [{ destination: { host: cart } }]
`);
    expect(cases[0]?.requests.map((r) => `${r.request.method} ${r.request.authority}${r.request.path}`)).toEqual([
      "GET a.example/x",
      "POST a.example/x",
      "GET b.example/x",
      "POST b.example/x",
      "GET a.example/y",
      "POST a.example/y",
      "GET b.example/y",
      "POST b.example/y",
    ]);
    expect(cases[0]?.requests[0]?.request.headers).toEqual({ h: "v" });
  });

  it("compares the matched VirtualService route's fields, wantMatch true or false (false when absent)", () => {
    const { report } = run(`
testCases:
- description: v2 for beta testers
  wantMatch: true
  request: { authority: [shop.example], method: [GET], uri: [/cart] , headers: { x-beta: "1" } }
  route: [{ destination: { host: cart, subset: v2 } }]
- description: without wantMatch the fields must differ
  request: { authority: [shop.example], method: [GET], uri: [/cart] }
  route: [{ destination: { host: cart, subset: v2 } }]
- description: a bot on /cart matches the cart route first, so no fault
  wantMatch: true
  request: { authority: [shop.example], method: [GET], uri: [/, /cart], headers: { x-request-class: bot } }
  fault: { abort: { httpStatus: 403, percentage: { value: 100 } } }
- description: weights must be given when the route has them
  wantMatch: true
  request: { authority: [shop.example], method: [GET], uri: [/cart] }
  route: [{ destination: { host: cart, subset: v1 } }, { destination: { host: cart, subset: v2 } }]
`);
    expect(report.cases.map((c) => c.status)).toEqual(["passed", "passed", "failed", "failed"]);
    const bots = report.cases[2];
    expect(bots?.requests.map((r) => r.passed)).toEqual([true, false]);
    expect(bots?.requests[1]?.mismatches).toEqual([
      {
        field: "fault",
        expected: { abort: { httpStatus: 403, percentage: { value: 100 } } },
        actual: null,
        wantMatch: true,
      },
    ]);
    expect(report.cases[3]?.requests[0]?.mismatches[0]?.actual).toEqual([
      { destination: { host: "cart", subset: "v1" }, weight: 90 },
      { destination: { host: "cart", subset: "v2" }, weight: 10 },
    ]);
  });

  it("tests delegated routes: the root's delegate and the delegate's own route and rewrite", () => {
    const { report } = run(`
testCases:
- description: delegated
  wantMatch: true
  request: { authority: [shop.example], method: [GET], uri: [/merchants/v2/a] }
  delegate: { name: merchants, namespace: merchants }
  route: [{ destination: { host: merchants.merchants.svc.cluster.local } }]
  rewrite: { uri: /v2 }
- description: another delegate
  wantMatch: true
  request: { authority: [shop.example], method: [GET], uri: [/merchants] }
  delegate: { name: sellers }
`);
    expect(report.cases.map((c) => c.status)).toEqual(["passed", "failed"]);
    expect(report.cases[1]?.requests[0]?.mismatches[0]).toMatchObject({
      field: "delegate",
      actual: { name: "merchants", namespace: "merchants" },
    });
  });

  it("reads multi-document files and refuses what the tool would not take", () => {
    const { cases, warnings } = run(
      "testCases:\n- { description: a, request: { authority: [x], method: [GET], uri: [/] } }\n---\ntestCases: []\nextra: 1\n",
    );
    expect(cases.map((c) => c.name)).toEqual(["a"]);
    expect(warnings).toEqual(["t.yaml (document 2): extra: not an istio-config-validator field (ignored)"]);
    expect(parseError("testCases: [{ description: a, request: { authority: [], method: [GET], uri: [/] } }]")).toBe(
      "t.yaml: testCases[0].request.authority: authority list is empty",
    );
    expect(parseError("testCases: [{ request: { authority: [x], method: [GET], uri: [/], port: [80] } }]")).toMatch(
      /request\.port: not supported/,
    );
    expect(
      parseError(
        "testCases: [{ request: { authority: [x], method: [GET], uri: [/] }, route: [{ destination: { hots: x } }] }]",
      ),
    ).toMatch(/^t\.yaml: testCases\[0\]\.route\[0\]: /);
  });
});

describe("Envoy router_check_tool's format", () => {
  it("validates cluster, virtual host, rewrites, redirects and headers with the tool's meanings", () => {
    const { report } = run(
      JSON.stringify({
        tests: [
          {
            test_name: "ok",
            input: { authority: "shop.example", path: "/v1/orders/7", method: "GET" },
            validate: {
              cluster_name: "outbound|80||orders.shop.svc.cluster.local",
              virtual_host_name: "shop.example:8080",
              path_rewrite: "/orders/7",
              host_rewrite: "shop.example",
              virtual_cluster_name: "",
              request_header_matches: [{ name: "x-api-version", string_match: { exact: "v1" } }],
            },
          },
          {
            test_name: "redirect has no cluster",
            input: { authority: "shop.example", path: "/home", method: "GET", ssl: true },
            validate: {
              cluster_name: "",
              virtual_host_name: "",
              path_redirect: "https://shop.example/",
              code_redirect: 301,
            },
          },
          {
            test_name: "random_value defaults to 0: the first weighted cluster",
            input: { authority: "shop.example", path: "/cart", method: "GET" },
            validate: { cluster_name: CART_V2 },
          },
          {
            test_name: "header presence",
            input: {
              authority: "shop.example",
              path: "/cart",
              method: "GET",
              additional_response_headers: [{ key: "x-r", value: "1" }],
            },
            validate: {
              response_header_matches: [{ name: "x-r", present_match: true }],
              request_header_matches: [{ name: "x-api-version", present_match: true }],
            },
          },
        ],
      }),
      "t.json",
    );
    expect(report.cases.map((c) => c.status)).toEqual(["passed", "passed", "failed", "failed"]);
    expect(report.cases[2]?.requests[0]?.mismatches).toEqual([
      { field: "cluster_name", expected: CART_V2, actual: CART_V1 },
    ]);
    expect(report.cases[3]?.requests[0]?.mismatches.map((m) => m.field)).toEqual([
      "request_header_matches.x-api-version",
    ]);
  });

  it("reads the older format: a top-level list with :authority and additional_headers", () => {
    const { report } = run(
      JSON.stringify([
        {
          test_name: "old",
          input: {
            ":authority": "shop.example",
            ":path": "/cart",
            ":method": "GET",
            additional_headers: [{ field: "x-beta", value: "1" }],
          },
          validate: { cluster_name: CART_V2 },
        },
      ]),
    );
    expect(report.cases[0]?.status).toBe("passed");
  });

  it("enables a runtime fraction only for the test's runtime key, a numerator of 0 counting as 1, as the tool does", () => {
    const config = structuredClone(gateway.resources.routes?.[0]);
    const route = config?.virtualHosts?.[0]?.routes?.[0];
    if (!route?.match || route.name !== "cart-beta") throw new Error("fixture: cart-beta first");
    route.match.runtimeFraction = { defaultValue: { numerator: 0, denominator: 0 }, runtimeKey: "beta.enabled" };
    const resources = { ...gateway.resources, routes: [config as NonNullable<typeof config>] };
    const test = (input: object) =>
      JSON.stringify({
        runtime: { "re2.max_program_size.error_level": 32768 },
        tests: [
          {
            test_name: "t",
            input: {
              authority: "shop.example",
              path: "/cart",
              method: "GET",
              additional_request_headers: [{ key: "x-beta", value: "1" }],
              ...input,
            },
            validate: { cluster_name: CART_V2 },
          },
        ],
      });
    const cluster = (input: object) => {
      const report = runRouteTests(
        parseRouteTestFile("t.json", test(input), () => {}),
        resources,
      );
      return report.cases[0]?.requests[0]?.mismatches[0]?.actual ?? CART_V2;
    };
    expect(cluster({ runtime: "beta.enabled" })).toBe(CART_V2);
    expect(cluster({ runtime: "beta.enabled", random_value: 1 })).toBe(CART_V1);
    expect(cluster({})).toBe(CART_V1);
    expect(cluster({ runtime: "other.key" })).toBe(CART_V1);
    // The route table itself is left as it was.
    expect(route.match.runtimeFraction.defaultValue?.numerator).toBe(0);
  });

  it("refuses what it cannot simulate, with the field named", () => {
    const base = { test_name: "x", validate: { cluster_name: "" } };
    const file = (input: object) =>
      JSON.stringify({ tests: [{ ...base, input: { authority: "a", path: "/", ...input } }] });
    expect(parseError(file({ runtime: 5 }))).toBe('t.yaml: test "x".input.runtime: expected a string');
    expect(parseError(file({ dynamic_metadata: [] }))).toMatch(
      /input\.dynamic_metadata: dynamic metadata is not supported/,
    );
    expect(
      parseError(JSON.stringify({ tests: [{ ...base, input: { authority: "a", path: "/" } }], other: 1 })),
    ).toMatch(/other: unknown top-level field/);
    expect(parseError(file({ bogus: 1 }))).toMatch(/input\.bogus: unknown field/);
    expect(
      parseError(JSON.stringify({ tests: [{ test_name: "x", input: { path: "/" }, validate: { cluster_name: "" } }] })),
    ).toMatch(/authority and path are required/);
  });
});

describe("header operations", () => {
  it("apply in Envoy's order (route, virtual host, route configuration: the last wins); a formatter is an error", () => {
    const config = structuredClone(gateway.resources.routes?.[0]) as NonNullable<
      typeof gateway.resources.routes
    >[number];
    const vhost = config.virtualHosts?.[0];
    const route = vhost?.routes?.[1];
    if (!vhost || route?.name !== "cart") throw new Error("fixture: cart second");
    route.requestHeadersToAdd = [{ header: { key: "x-level", value: "route" }, appendAction: 2 }];
    vhost.requestHeadersToAdd = [{ header: { key: "x-level", value: "vhost" }, appendAction: 2 }];
    config.requestHeadersToAdd = [
      { header: { key: "x-level", value: "config" }, appendAction: 2 },
      { header: { key: "x-client", value: "%DOWNSTREAM_REMOTE_ADDRESS%" }, appendAction: 2 },
    ];
    const test = (header: string, value: string) =>
      `tests: [{ name: ${header}, request: { url: http://shop.example/cart }, expect: { requestHeaders: { ${header}: ${value} } } }]`;
    const runOf = (text: string, routes = [config]) =>
      runRouteTests(
        parseRouteTestFile("t.yaml", text, () => {}),
        { ...gateway.resources, routes },
      );
    const check = (text: string, routes = [config]) => runOf(text, routes).cases[0];
    expect(check(test("x-level", "config"))?.status).toBe("passed");
    const specific = { ...config, mostSpecificHeaderMutationsWins: true };
    expect(check(test("x-level", "config"), [specific])?.requests[0]?.mismatches).toEqual([
      { field: "requestHeaders.x-level", expected: "config", actual: "route" },
    ]);
    const formatter = runOf(test("x-client", "127.0.0.1"));
    expect(formatter.cases[0]?.status).toBe("error");
    expect(formatter.errors).toBe(1);
    expect(formatter.cases[0]?.requests[0]?.error).toBe(
      'header x-client: "%DOWNSTREAM_REMOTE_ADDRESS%" uses a formatter, which is not simulated',
    );
    expect(formatJunit(formatter)).toMatch(
      /<error message="header x-client: &quot;%DOWNSTREAM_REMOTE_ADDRESS%&quot; uses a formatter/,
    );
  });
});

describe("reports", () => {
  const { report } = run(`
tests:
- name: good
  request: { url: http://shop.example/home }
  expect: { status: 301 }
- name: "bad <one>"
  request: { url: http://shop.example/home }
  expect: { status: 302 }
`);

  it("measure which routes the tests exercised, per route configuration and virtual host", () => {
    expect(report.coverage).toMatchObject({ total: 16, covered: 1, routeConfigurations: [{ name: "http.8080" }] });
    expect(report.coverage.percent).toBeCloseTo(6.25);
    expect(report.coverage.routeConfigurations[0]?.uncovered).toContainEqual({
      virtualHost: "shop.example:8080",
      index: 0,
      name: "cart-beta",
    });
  });

  it("as text: a diff with the route that matched, coverage and a summary", () => {
    const text = formatRun(report);
    expect(text).toMatch(/^PASS {2}t\.yaml: good$/m);
    expect(text).toMatch(
      /^FAIL {2}t\.yaml: bad <one>\n {6}GET http:\/\/shop\.example\/home\n {8}status:\n {10}expected 302\n {10}actual {3}301$/m,
    );
    expect(text).toMatch(
      /matched: route "home" of virtual host "shop.example:8080" in route configuration "http.8080" → redirect 301/,
    );
    expect(text).toMatch(/not exercised: shop\.example:8080 \/ route #0 "cart-beta"/);
    expect(text).toMatch(/\n1 passed, 1 failed, 0 errors \(2 requests\)\n$/);
  });

  it("as JUnit XML: one suite per file, failures escaped", () => {
    const xml = formatJunit(report);
    expect(xml).toMatch(/<testsuites name="xdskit test" tests="2" failures="1" errors="0"/);
    expect(xml).toMatch(/<testsuite name="t.yaml" tests="2" failures="1" errors="0" skipped="0"/);
    expect(xml).toMatch(/<testcase name="good" classname="t.yaml" time="[\d.]+"\/>/);
    expect(xml).toMatch(
      /<testcase name="bad &lt;one&gt;"[^>]*>\n {6}<failure message="GET http:\/\/shop.example\/home: status differ">/,
    );
  });
});
