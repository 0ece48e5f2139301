import { DiscoveryRequest } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { decodeDiscoveryRequest, digestOfRun, resourceNamesRun } from "./request-decoder.js";

const full: DiscoveryRequest = {
  versionInfo: "v1",
  node: { id: "n1", cluster: "c", userAgentName: "envoy" },
  resourceNames: ["a", "b", "xdstp://x/envoy.config.cluster.v3.Cluster/c"],
  typeUrl: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  responseNonce: "7",
  errorDetail: { code: 3, message: "bad", details: [] },
};

describe("decodeDiscoveryRequest", () => {
  it("decodes every field the server reads exactly as the generated decoder does", () => {
    const bytes = DiscoveryRequest.encode(full).finish();
    const lazy = decodeDiscoveryRequest(bytes);
    const eager = DiscoveryRequest.decode(bytes);
    expect(lazy.versionInfo).toBe(eager.versionInfo);
    expect(lazy.node).toEqual(eager.node);
    expect(lazy.typeUrl).toBe(eager.typeUrl);
    expect(lazy.responseNonce).toBe(eager.responseNonce);
    expect(lazy.errorDetail).toEqual(eager.errorDetail);
    expect(lazy.resourceNames).toEqual(eager.resourceNames);
  });

  it("exposes the names' bytes as one run: equal subscriptions equal, any change differs, none without names", () => {
    const run = (names: string[]) =>
      resourceNamesRun(
        decodeDiscoveryRequest(
          DiscoveryRequest.encode({ ...full, resourceNames: names, responseNonce: String(Math.random()) }).finish(),
        ),
      );
    const digest = (names: string[]) => {
      const bytes = run(names);
      return bytes && digestOfRun(bytes);
    };
    expect(Buffer.from(run(["a", "b"]) ?? [])).toEqual(
      Buffer.from(DiscoveryRequest.encode({ resourceNames: ["a", "b"] }).finish()),
    );
    expect(digest(["a", "b"])).toBe(digest(["a", "b"]));
    expect(digest(["a", "b"])).not.toBe(digest(["b", "a"]));
    expect(digest(["a", "b"])).not.toBe(digest(["a", "bb"]));
    expect(run([])).toBeUndefined();
    // A name of 128 bytes or more has a two-byte length.
    const long = "x".repeat(300);
    expect(
      decodeDiscoveryRequest(DiscoveryRequest.encode({ resourceNames: ["a", long, "b"] }).finish()).resourceNames,
    ).toEqual(["a", long, "b"]);
  });

  it("refuses malformed bytes", () => {
    expect(() => decodeDiscoveryRequest(Uint8Array.from([0x1a, 0x05, 0x61]))).toThrow(/truncated/);
    expect(() => decodeDiscoveryRequest(Uint8Array.from([0x08, 0x01]))).toThrow(/wire type/);
  });
});

describe("decodeDiscoveryRequest with names split around other fields", () => {
  it("still decodes every name (eagerly)", () => {
    const head = DiscoveryRequest.encode({ resourceNames: ["a"] }).finish();
    const middle = DiscoveryRequest.encode({ typeUrl: "t" }).finish();
    const tail = DiscoveryRequest.encode({ resourceNames: ["b"] }).finish();
    const bytes = Buffer.concat([head, middle, tail]);
    const lazy = decodeDiscoveryRequest(bytes);
    expect(lazy.resourceNames).toEqual(["a", "b"]);
    expect(lazy.typeUrl).toBe("t");
    expect(resourceNamesRun(lazy)).toBeUndefined();
  });
});
