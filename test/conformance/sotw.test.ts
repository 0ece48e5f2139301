import { Cluster, ClusterLoadAssignment, resourceTypes } from "@xdskit/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { edsCluster, endpoints, httpListener, routeTo } from "../fixtures/resources.js";
import { testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const CDS = resourceTypes.Cluster.typeUrl;
const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;
const LDS = resourceTypes.Listener.typeUrl;
const RDS = resourceTypes.RouteConfiguration.typeUrl;

const names = (resources: { typeUrl?: string; value?: Uint8Array }[] | undefined, decode = Cluster.decode) =>
  (resources ?? []).map((r) => (decode(r.value ?? new Uint8Array()) as { name?: string }).name).sort();
const claNames = (resources: { value?: Uint8Array }[] | undefined) =>
  (resources ?? []).map((r) => ClusterLoadAssignment.decode(r.value ?? new Uint8Array()).clusterName).sort();

describe("SotW conformance", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("R1: the first request must carry node; later requests belong to it", async () => {
    const bad = h.client().sotw();
    bad.send({ typeUrl: CDS });
    const status = await bad.ended();
    expect(status.code).toBe(3);
    expect(status.details).toMatch(/first request on a stream must carry node/);

    h.set("n1", { Cluster: [edsCluster("a")] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const first = await s.next();
    s.send({ typeUrl: EDS, resourceNames: ["a"] }); // no node: still n1's stream
    h.set("n1", { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("a", 1)] });
    const eds = await s.next();
    expect(first.typeUrl).toBe(CDS);
    expect(eds.typeUrl).toBe(EDS);
    expect(claNames(eds.resources)).toEqual(["a"]);
  });

  it("R2/R3: nonces are unique per stream and version_info is per type on ADS", async () => {
    h.set("n1", { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("a", 1)] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    s.send({ typeUrl: EDS, resourceNames: ["a"] });
    const r1 = await s.next();
    const r2 = await s.next();
    expect(r1.nonce).not.toBe(r2.nonce);
    const byType = new Map([r1, r2].map((r) => [r.typeUrl, r]));
    expect(byType.get(CDS)?.versionInfo).toBe(h.cache.getSnapshot("n1")?.versionOf(CDS));
    expect(byType.get(EDS)?.versionInfo).toBe(h.cache.getSnapshot("n1")?.versionOf(EDS));
    expect(byType.get(CDS)?.versionInfo).not.toBe(byType.get(EDS)?.versionInfo);
  });

  it("R4/R5/R6: NACK is detected by error_detail, tracked, and the rejected set is never resent", async () => {
    h.set("n1", { Cluster: [edsCluster("a")] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const r1 = await s.next();
    s.send({ typeUrl: CDS, versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    expect(await s.silence()).toBeUndefined();
    expect(h.cache.tracker.status("n1")?.types.get(CDS)?.state).toBe("SYNCED");

    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    const r2 = await s.next();
    // NACK: version_info stays the last accepted version; error_detail present.
    s.send({
      typeUrl: CDS,
      versionInfo: r1.versionInfo,
      responseNonce: r2.nonce,
      errorDetail: { code: 3, message: "bad b" },
    });
    expect(await s.silence(400)).toBeUndefined();
    const status = h.cache.tracker.status("n1")?.types.get(CDS);
    expect(status?.state).toBe("NACKED");
    expect(status?.nacked?.errorMessage).toBe("bad b");
    expect(status?.nacked?.version).toBe(r2.versionInfo);
    expect(status?.acked?.version).toBe(r1.versionInfo);

    // A newer version goes out.
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("c")] });
    const r3 = await s.next();
    expect(names(r3.resources)).toEqual(["a", "c"]);
  });

  it("R7/R8: a request answering an older response is ignored", async () => {
    h.set("n1", { Cluster: [edsCluster("a")] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const r1 = await s.next();
    h.set("n1", { Cluster: [edsCluster("b")] });
    s.send({ typeUrl: CDS, versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    const r2 = await s.next();
    expect(names(r2.resources)).toEqual(["b"]);
    // A late request with r1's nonce must not produce a response.
    s.send({ typeUrl: CDS, versionInfo: r1.versionInfo, responseNonce: r1.nonce, resourceNames: [] });
    expect(await s.silence()).toBeUndefined();
  });

  it("R9: names newly added are sent even when unchanged and sent before", async () => {
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 2)] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: EDS, resourceNames: ["a"] });
    const r1 = await s.next();
    expect(claNames(r1.resources)).toEqual(["a"]);
    s.send({ typeUrl: EDS, resourceNames: ["b"], versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    const r2 = await s.next();
    expect(claNames(r2.resources)).toEqual(["b"]);
    s.send({ typeUrl: EDS, resourceNames: ["a", "b"], versionInfo: r2.versionInfo, responseNonce: r2.nonce });
    const r3 = await s.next();
    expect(claNames(r3.resources)).toEqual(["a"]);
  });

  it("R9: streams subscribing with identical name lists stay independent when one of them changes its list", async () => {
    // Both streams send the same resource_names bytes, so the server shares one name set between them.
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 2)] });
    h.set("n2", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 2)] });
    const one = h.client().sotw();
    const two = h.client().sotw();
    one.send({ node: testNode("n1"), typeUrl: EDS, resourceNames: ["a", "b"] });
    two.send({ node: testNode("n2"), typeUrl: EDS, resourceNames: ["a", "b"] });
    const r1 = await one.next();
    const r2 = await two.next();
    expect(claNames(r1.resources)).toEqual(["a", "b"]);
    expect(claNames(r2.resources)).toEqual(["a", "b"]);
    // One narrows its list, then widens it again: it gets "b" again (R9); the other keeps its list.
    one.send({ typeUrl: EDS, resourceNames: ["a"], versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    expect(await one.silence(100)).toBeUndefined();
    one.send({ typeUrl: EDS, resourceNames: ["a", "b"], versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    expect(claNames((await one.next()).resources)).toEqual(["b"]);
    two.send({ typeUrl: EDS, resourceNames: ["a", "b"], versionInfo: r2.versionInfo, responseNonce: r2.nonce });
    expect(await two.silence(100)).toBeUndefined();
    h.set("n2", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 3)] });
    expect(claNames((await two.next()).resources)).toEqual(["b"]);
  });

  it("R10/R11: empty first request is a wildcard; '*' plus names; later names drop the wildcard", async () => {
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const r1 = await s.next();
    expect(names(r1.resources)).toEqual(["a", "b"]);
    s.send({ typeUrl: CDS, resourceNames: ["a"], versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b"), edsCluster("c")] });
    // Only "a" is subscribed now; adding "c" is invisible to this stream.
    expect(await s.silence()).toBeUndefined();

    const t = h.client().sotw();
    t.send({ node: testNode("n1"), typeUrl: CDS, resourceNames: ["*", "a"] });
    expect(names((await t.next()).resources)).toEqual(["a", "b", "c"]);

    const u = h.client().sotw();
    u.send({ node: testNode("n1"), typeUrl: EDS, resourceNames: ["x"] });
    h.set("n1", { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("x", 1)] });
    const ux = await u.next();
    // After names were sent, an empty list unsubscribes from everything.
    u.send({ typeUrl: EDS, resourceNames: [], versionInfo: ux.versionInfo, responseNonce: ux.nonce });
    h.set("n1", { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("x", 2)] });
    expect(await u.silence()).toBeUndefined();
  });

  it("R12: LDS/CDS responses carry every subscribed resource; an empty response deletes all", async () => {
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const r1 = await s.next();
    s.send({ typeUrl: CDS, versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b", { connectTimeout: { seconds: 2, nanos: 0 } })] });
    const r2 = await s.next();
    expect(names(r2.resources)).toEqual(["a", "b"]);
    s.send({ typeUrl: CDS, versionInfo: r2.versionInfo, responseNonce: r2.nonce });
    h.set("n1", { Cluster: [] });
    const r3 = await s.next();
    expect(r3.resources ?? []).toHaveLength(0);
  });

  it("R13/R15: EDS carries only what changed; names that do not exist yet are pushed when they appear", async () => {
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 1)] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: EDS, resourceNames: ["a", "b", "later"] });
    const r1 = await s.next();
    expect(claNames(r1.resources)).toEqual(["a", "b"]);
    s.send({ typeUrl: EDS, resourceNames: ["a", "b", "later"], versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 2), endpoints("b", 1)] });
    const r2 = await s.next();
    expect(claNames(r2.resources)).toEqual(["a"]);
    s.send({ typeUrl: EDS, resourceNames: ["a", "b", "later"], versionInfo: r2.versionInfo, responseNonce: r2.nonce });
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 2), endpoints("b", 1), endpoints("later", 9)] });
    const r3 = await s.next();
    expect(claNames(r3.resources)).toEqual(["later"]);
  });

  it("R14: two resources with one name are refused when the snapshot is built", () => {
    expect(() => h.set("n1", { Cluster: [edsCluster("a"), edsCluster("a")] })).toThrow(/duplicate Cluster name "a"/);
  });

  it("R16: a reconnecting wildcard client at the current version gets no resend", async () => {
    h.set("n1", { Cluster: [edsCluster("a")] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const r1 = await s.next();
    s.close();
    const again = h.client().sotw();
    again.send({ node: testNode("n1"), typeUrl: CDS, versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    expect(await again.silence()).toBeUndefined();
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    expect(names((await again.next()).resources)).toEqual(["a", "b"]);
    // With explicit names the subscription may hold names it never got: resend.
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1)] });
    const e = h.client().sotw();
    e.send({
      node: testNode("n1"),
      typeUrl: EDS,
      resourceNames: ["a"],
      versionInfo: h.cache.getSnapshot("n1")?.versionOf(EDS),
    });
    expect(claNames((await e.next()).resources)).toEqual(["a"]);
  });

  it("R17: after a cluster changes, its endpoints are sent again even if unchanged", async () => {
    h.set("n1", { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("a", 1)] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const c1 = await s.next();
    s.send({ typeUrl: EDS, resourceNames: ["a"] });
    const e1 = await s.next();
    s.send({ typeUrl: CDS, versionInfo: c1.versionInfo, responseNonce: c1.nonce });
    s.send({ typeUrl: EDS, resourceNames: ["a"], versionInfo: e1.versionInfo, responseNonce: e1.nonce });
    h.set("n1", {
      Cluster: [edsCluster("a", { connectTimeout: { seconds: 5, nanos: 0 } })],
      ClusterLoadAssignment: [endpoints("a", 1)],
    });
    const c2 = await s.next();
    expect(c2.typeUrl).toBe(CDS);
    const e2 = await s.next();
    expect(e2.typeUrl).toBe(EDS);
    expect(claNames(e2.resources)).toEqual(["a"]);
  });

  it("R18/R19: one update goes out as CDS, EDS, LDS, RDS — never a route before its cluster", async () => {
    h.set("n1", {
      Cluster: [edsCluster("a")],
      ClusterLoadAssignment: [endpoints("a", 1)],
      Listener: [httpListener("l", 10000, "r")],
      RouteConfiguration: [routeTo("r", "a")],
    });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: RDS, resourceNames: ["r"] });
    s.send({ typeUrl: LDS });
    s.send({ typeUrl: EDS, resourceNames: ["a", "b"] });
    s.send({ typeUrl: CDS });
    const initial = [await s.next(), await s.next(), await s.next(), await s.next()];
    for (const r of initial)
      s.send({
        typeUrl: r.typeUrl,
        versionInfo: r.versionInfo,
        responseNonce: r.nonce,
        resourceNames: r.typeUrl === EDS ? ["a", "b"] : r.typeUrl === RDS ? ["r"] : [],
      });
    await s.silence(200);
    h.set("n1", {
      Cluster: [edsCluster("a"), edsCluster("b")],
      ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 2)],
      Listener: [httpListener("l", 10000, "r")],
      RouteConfiguration: [routeTo("r", "b")],
    });
    const order = [(await s.next()).typeUrl, (await s.next()).typeUrl, (await s.next()).typeUrl];
    expect(order).toEqual([CDS, EDS, RDS]);
  });
});
