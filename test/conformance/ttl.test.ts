// TTL and heartbeats (XDS-RULES R29-R31), delta and SotW.
import {
  type Any,
  Cluster,
  ClusterLoadAssignment,
  type DeltaDiscoveryResponse,
  type DiscoveryResponse,
  prepareResource,
  Resource,
  resourceTypes,
  typeUrlOf,
} from "@xdskit/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { edsCluster, endpoints } from "../fixtures/resources.js";
import { type DeltaStream, type SotwStream, testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const CDS = resourceTypes.Cluster.typeUrl;
const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;
const RESOURCE_WRAPPER = typeUrlOf("envoy.service.discovery.v3.Resource");
const TTL = "xds.config.supports-resource-ttl";
const IN_SOTW = "xds.config.supports-resource-in-sotw";

const node = (id: string, ...clientFeatures: string[]) => testNode(id, { clientFeatures });
const ms = (d: { seconds?: number; nanos?: number } | undefined) =>
  d === undefined ? undefined : Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
const names = (r: DeltaDiscoveryResponse) => (r.resources ?? []).map((x) => x.name ?? "").sort();
const ackDelta = (s: DeltaStream, r: DeltaDiscoveryResponse) => s.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });
const ackSotw = (s: SotwStream, r: DiscoveryResponse, resourceNames: string[] = []) =>
  s.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames });
const ttlEds = (name: string, ttlMs: number, port = 1) =>
  prepareResource(resourceTypes.ClusterLoadAssignment, endpoints(name, port), { ttlMs });

/** A SotW resource: wrapped (discovery.v3.Resource) or plain. */
function unwrap(any: Any) {
  if (any.typeUrl !== RESOURCE_WRAPPER)
    return { wrapped: false, body: any, name: undefined, version: undefined, ttl: undefined };
  const r = Resource.decode(any.value ?? new Uint8Array());
  return { wrapped: true, body: r.resource, name: r.name, version: r.version, ttl: ms(r.ttl) };
}
const claName = (any: Any | undefined) => ClusterLoadAssignment.decode(any?.value ?? new Uint8Array()).clusterName;

describe("TTL and heartbeats", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("R29: delta carries Resource.ttl; a new TTL resends the resource, dropping the TTL resends it without", async () => {
    h.set("n1", { ClusterLoadAssignment: [ttlEds("a", 30_000), endpoints("b", 2)] });
    const s = h.client().delta();
    s.send({ node: node("n1", TTL), typeUrl: EDS, resourceNamesSubscribe: ["a", "b"] });
    const r1 = await s.next();
    const byName = new Map((r1.resources ?? []).map((r) => [r.name, r]));
    expect(ms(byName.get("a")?.ttl)).toBe(30_000);
    expect(byName.get("b")?.ttl).toBeUndefined();
    ackDelta(s, r1);

    // Same content, new TTL: resent, with the new TTL (and a new version, so a NACK can be told apart).
    h.set("n1", { ClusterLoadAssignment: [ttlEds("a", 1500), endpoints("b", 2)] });
    const r2 = await s.next();
    expect(names(r2)).toEqual(["a"]);
    expect(ms(r2.resources?.[0]?.ttl)).toBe(1500);
    expect(claName(r2.resources?.[0]?.resource)).toBe("a");
    expect(r2.resources?.[0]?.version).not.toBe(byName.get("a")?.version);
    ackDelta(s, r2);

    // No TTL any more: resent without one, which removes the TTL on the client.
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 2)] });
    const r3 = await s.next();
    expect(names(r3)).toEqual(["a"]);
    expect(r3.resources?.[0]?.ttl).toBeUndefined();
    expect(r3.resources?.[0]?.resource).toBeDefined();
  });

  it("R30: delta heartbeats: the accepted version, no body, the TTL, at TTL/2, only for TTL'd resources", async () => {
    const a = ttlEds("a", 300);
    h.set("n1", { ClusterLoadAssignment: [a, endpoints("b", 2)] });
    const s = h.client().delta();
    s.send({ node: node("n1", TTL), typeUrl: EDS, resourceNamesSubscribe: ["a", "b"] });
    const r1 = await s.next();
    ackDelta(s, r1);
    const t0 = Date.now();
    const hb1 = await s.next(1000);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(80);
    expect(elapsed).toBeLessThan(300);
    expect(hb1.nonce).toBeTruthy();
    expect(hb1.nonce).not.toBe(r1.nonce);
    expect(hb1.removedResources ?? []).toEqual([]);
    expect(hb1.resources).toHaveLength(1);
    const beat = hb1.resources?.[0];
    expect(beat?.name).toBe("a");
    expect(beat?.version).toBe(a.version);
    expect(beat?.resource).toBeUndefined();
    expect(ms(beat?.ttl)).toBe(300);
    ackDelta(s, hb1);
    // Periodic, and an answered heartbeat is not a configuration ACK.
    const hb2 = await s.next(1000);
    expect(names(hb2)).toEqual(["a"]);
    expect(hb2.resources?.[0]?.resource).toBeUndefined();
    ackDelta(s, hb2);
    const status = h.cache.tracker.status("n1")?.types.get(EDS);
    expect(status?.state).toBe("SYNCED");
    expect(status?.acked?.nonce).toBe(r1.nonce);

    // A new version goes out whole; no heartbeat names it before the client accepted it.
    const a2 = ttlEds("a", 300, 7);
    h.set("n1", { ClusterLoadAssignment: [a2, endpoints("b", 2)] });
    let r2 = await s.next();
    while (r2.resources?.[0]?.resource === undefined) r2 = await s.next(); // a heartbeat already in flight
    expect(r2.resources?.[0]?.version).toBe(a2.version);
    expect(await s.silence(400)).toBeUndefined();
    ackDelta(s, r2);
    const hb3 = await s.next(1000);
    expect(hb3.resources?.map((r) => [r.name, r.version, r.resource])).toEqual([["a", a2.version, undefined]]);
    ackDelta(s, hb3);

    // Unsubscribed: no more heartbeats.
    s.send({ typeUrl: EDS, resourceNamesUnsubscribe: ["a"] });
    await s.silence(50); // a heartbeat may have crossed the unsubscribe
    expect(await s.silence(400)).toBeUndefined();
  });

  it("R30: no heartbeats for clients that do not announce TTL support (the TTL is still sent)", async () => {
    h.set("n1", { ClusterLoadAssignment: [ttlEds("a", 200)] });
    const s = h.client().delta();
    s.send({ node: node("n1"), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    const r1 = await s.next();
    expect(ms(r1.resources?.[0]?.ttl)).toBe(200);
    ackDelta(s, r1);
    expect(await s.silence(400)).toBeUndefined();
  });

  it("R30: a client that rejects a heartbeat gets no more of them (and its configuration is untouched)", async () => {
    h.set("n1", { ClusterLoadAssignment: [ttlEds("a", 200)] });
    const s = h.client().delta();
    s.send({ node: node("n1", TTL), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    const r1 = await s.next();
    ackDelta(s, r1);
    const hb = await s.next(1000);
    expect(hb.resources?.[0]?.resource).toBeUndefined();
    s.send({ typeUrl: EDS, responseNonce: hb.nonce, errorDetail: { code: 3, message: "what is this" } });
    expect(await s.silence(400)).toBeUndefined();
    const status = h.cache.tracker.status("n1")?.types.get(EDS);
    expect(status?.state).toBe("SYNCED");
    expect(status?.nacked).toBeUndefined();
  });

  it("R30: heartbeatIntervalMs overrides the TTL/2 default", async () => {
    await h.close();
    h = await startHarness({ heartbeatIntervalMs: 100 });
    h.set("n1", { ClusterLoadAssignment: [ttlEds("a", 60_000)] });
    const s = h.client().delta();
    s.send({ node: node("n1", TTL), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    ackDelta(s, await s.next());
    const t0 = Date.now();
    const hb = await s.next(1000);
    expect(Date.now() - t0).toBeLessThan(400);
    expect(hb.resources?.map((r) => [r.name, ms(r.ttl), r.resource])).toEqual([["a", 60_000, undefined]]);
  });

  it("R26/R30: a reconnecting delta client gets its TTL'd resources again (restarting the TTL), not the others", async () => {
    const a = ttlEds("a", 60_000);
    const b = prepareResource(resourceTypes.ClusterLoadAssignment, endpoints("b", 2));
    h.set("n1", { ClusterLoadAssignment: [a, b] });
    const s = h.client().delta();
    s.send({
      node: node("n1", TTL),
      typeUrl: EDS,
      resourceNamesSubscribe: ["a", "b"],
      initialResourceVersions: { a: a.version, b: b.version },
    });
    const r1 = await s.next();
    expect(names(r1)).toEqual(["a"]);
    expect(ms(r1.resources?.[0]?.ttl)).toBe(60_000);
    ackDelta(s, r1);
    expect(await s.silence(200)).toBeUndefined();
  });

  it("R31: SotW wraps TTL'd resources in discovery.v3.Resource only for clients announcing both features", async () => {
    const a = ttlEds("a", 30_000);
    h.set("n1", { ClusterLoadAssignment: [a, endpoints("b", 2)] });
    const cases: Array<[string[], boolean]> = [
      [[TTL, IN_SOTW], true],
      [[TTL, "xds.config.resource-in-sotw"], true], // the spelling gRPC clients use
      [[TTL], false],
      [[IN_SOTW], false],
      [[], false],
    ];
    for (const [features, wrapped] of cases) {
      const s = h.client().sotw();
      s.send({ node: node("n1", ...features), typeUrl: EDS, resourceNames: ["a", "b"] });
      const r = await s.next();
      const out = new Map((r.resources ?? []).map((any) => [claName(unwrap(any).body), unwrap(any)]));
      expect(out.get("a")?.wrapped, features.join()).toBe(wrapped);
      expect(out.get("b")?.wrapped, features.join()).toBe(false);
      if (wrapped) {
        expect(out.get("a")?.name).toBe("a");
        expect(out.get("a")?.version).toBe(a.version);
        expect(out.get("a")?.ttl).toBe(30_000);
        expect(out.get("a")?.body?.typeUrl).toBe(EDS);
      }
      s.close();
    }
  });

  it("R29/R31: SotW: a new TTL resends the resource wrapped with it; no TTL resends it plain", async () => {
    h.set("n1", { ClusterLoadAssignment: [ttlEds("a", 30_000), endpoints("b", 2)] });
    const s = h.client().sotw();
    s.send({ node: node("n1", TTL, IN_SOTW), typeUrl: EDS, resourceNames: ["a", "b"] });
    const r1 = await s.next();
    expect(r1.resources).toHaveLength(2);
    ackSotw(s, r1, ["a", "b"]);
    h.set("n1", { ClusterLoadAssignment: [ttlEds("a", 45_000), endpoints("b", 2)] });
    const r2 = await s.next();
    expect(r2.resources?.map((any) => [unwrap(any).wrapped, unwrap(any).ttl, claName(unwrap(any).body)])).toEqual([
      [true, 45_000, "a"],
    ]);
    ackSotw(s, r2, ["a", "b"]);
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 2)] });
    const r3 = await s.next();
    expect(r3.resources?.map((any) => [unwrap(any).wrapped, claName(unwrap(any).body)])).toEqual([[false, "a"]]);
  });

  it("R30/R31: SotW EDS heartbeat: wrapped Resources without body at the accepted version_info", async () => {
    const a = ttlEds("a", 300);
    h.set("n1", { ClusterLoadAssignment: [a, endpoints("b", 2)] });
    const s = h.client().sotw();
    s.send({ node: node("n1", TTL, IN_SOTW), typeUrl: EDS, resourceNames: ["a", "b"] });
    const r1 = await s.next();
    ackSotw(s, r1, ["a", "b"]);
    const hb = await s.next(1000);
    expect(hb.versionInfo).toBe(r1.versionInfo);
    expect(hb.typeUrl).toBe(EDS);
    expect(hb.nonce).not.toBe(r1.nonce);
    expect(hb.resources?.map((any) => unwrap(any))).toEqual([
      { wrapped: true, body: undefined, name: "a", version: a.version, ttl: 300 },
    ]);
    // The client answers the heartbeat like any response; that is not a new configuration ACK.
    ackSotw(s, hb, ["a", "b"]);
    const hb2 = await s.next(1000);
    expect(hb2.versionInfo).toBe(r1.versionInfo);
    expect(hb2.resources).toHaveLength(1);
    expect(h.cache.tracker.status("n1")?.types.get(EDS)?.acked?.nonce).toBe(r1.nonce);
    // No heartbeat while a newer response awaits its answer.
    ackSotw(s, hb2, ["a", "b"]);
    h.set("n1", { ClusterLoadAssignment: [ttlEds("a", 300, 9), endpoints("b", 2)] });
    let r2 = await s.next();
    while (unwrap(r2.resources?.[0] ?? {}).body === undefined) r2 = await s.next();
    expect(r2.versionInfo).not.toBe(r1.versionInfo);
    expect(await s.silence(400)).toBeUndefined();
  });

  it("R12/R30/R31: a SotW CDS heartbeat resends the whole accepted set, so no cluster is dropped", async () => {
    const a = prepareResource(resourceTypes.Cluster, edsCluster("a"), { ttlMs: 300 });
    h.set("n1", { Cluster: [a, edsCluster("b")] });
    const s = h.client().sotw();
    s.send({ node: node("n1", TTL, IN_SOTW), typeUrl: CDS });
    const r1 = await s.next();
    ackSotw(s, r1);
    const hb = await s.next(1000);
    expect(hb.versionInfo).toBe(r1.versionInfo);
    const out = (hb.resources ?? []).map((any) => {
      const u = unwrap(any);
      return [Cluster.decode(u.body?.value ?? new Uint8Array()).name, u.wrapped, u.ttl];
    });
    expect(out.sort()).toEqual([
      ["a", true, 300],
      ["b", false, undefined],
    ]);
    ackSotw(s, hb);
    expect(h.cache.tracker.status("n1")?.types.get(CDS)?.state).toBe("SYNCED");
  });

  it("R16/R30: a reconnecting SotW client at the current version gets TTL'd resources again", async () => {
    h.set("n1", { Cluster: [prepareResource(resourceTypes.Cluster, edsCluster("a"), { ttlMs: 60_000 })] });
    const version = h.cache.getSnapshot("n1")?.versionOf(CDS);
    const plain = h.client().sotw();
    plain.send({ node: node("n1"), typeUrl: CDS, versionInfo: version });
    expect(await plain.silence(200)).toBeUndefined(); // no TTL for this client: R16 applies
    const s = h.client().sotw();
    s.send({ node: node("n1", TTL, IN_SOTW), typeUrl: CDS, versionInfo: version });
    const r = await s.next();
    expect(r.versionInfo).toBe(version);
    expect(unwrap(r.resources?.[0] ?? {}).ttl).toBe(60_000);
  });
});
