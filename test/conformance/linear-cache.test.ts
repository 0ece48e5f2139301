// A LinearCache behind the server: its views share one live map, so the server must never keep what a client
// holds relative to them (held-versions.ts). Every change has to reach SotW and delta streams.
import { ClusterLoadAssignment, createLinearCache, resourceTypes } from "@xdskit/core";
import { createXdsServer, type XdsServer } from "@xdskit/server";
import { afterEach, describe, expect, it } from "vitest";
import { endpoints } from "../fixtures/resources.js";
import { RawXdsClient, testNode } from "./raw-ads-client.js";

const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;
const portOf = (value: Uint8Array | undefined) =>
  ClusterLoadAssignment.decode(value ?? new Uint8Array()).endpoints?.[0]?.lbEndpoints?.[0]?.endpoint?.address
    ?.socketAddress?.portValue;

describe("LinearCache behind the server", () => {
  let server: XdsServer | undefined;
  let client: RawXdsClient | undefined;
  afterEach(async () => {
    client?.close();
    await server?.close({ graceMs: 200 });
  });

  it("every change of a resource reaches a SotW and a delta stream, one after another", async () => {
    const cache = createLinearCache(resourceTypes.ClusterLoadAssignment, {
      resources: [endpoints("a", 1000), endpoints("b", 2000)],
    });
    server = createXdsServer({ cache });
    client = new RawXdsClient(`127.0.0.1:${await server.listen("127.0.0.1:0")}`);
    const sotw = client.sotw();
    const delta = client.delta();
    sotw.send({ node: testNode("n1"), typeUrl: EDS, resourceNames: ["a", "b"] });
    delta.send({ node: testNode("n2"), typeUrl: EDS, resourceNamesSubscribe: ["a", "b"] });
    let s = await sotw.next();
    let d = await delta.next();
    expect(s.resources).toHaveLength(2);
    expect(d.resources).toHaveLength(2);
    for (const port of [1001, 1002, 1003]) {
      sotw.send({ typeUrl: EDS, resourceNames: ["a", "b"], versionInfo: s.versionInfo, responseNonce: s.nonce });
      delta.send({ typeUrl: EDS, responseNonce: d.nonce });
      cache.setResource(endpoints("a", port));
      s = await sotw.next();
      d = await delta.next();
      expect(s.resources?.map((r) => portOf(r.value))).toEqual([port]);
      expect(d.resources?.map((r) => r.name)).toEqual(["a"]);
      expect(portOf(d.resources?.[0]?.resource?.value)).toBe(port);
    }
  });
});
