import {
  Cluster,
  ClusterLoadAssignment,
  type DeltaDiscoveryResponse,
  resourceTypes,
  type VirtualHost,
  VirtualHost as VirtualHostCodec,
} from "@xdskit/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { edsCluster, endpoints } from "../fixtures/resources.js";
import { type DeltaStream, testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const CDS = resourceTypes.Cluster.typeUrl;
const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;
const VHDS = resourceTypes.VirtualHost.typeUrl;

const names = (r: DeltaDiscoveryResponse) => (r.resources ?? []).map((x) => x.name ?? "").sort();
const removed = (r: DeltaDiscoveryResponse) => [...(r.removedResources ?? [])].sort();
const versionOf = (r: DeltaDiscoveryResponse, name: string) => r.resources?.find((x) => x.name === name)?.version;
const ack = (s: DeltaStream, r: DeltaDiscoveryResponse) => s.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });

function vhost(name: string, domains: string[], cluster = "a"): VirtualHost {
  return { name, domains, routes: [{ match: { prefix: "/" }, route: { cluster } }] };
}

describe("delta conformance", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("R20: every response carries a unique nonce; ACK and NACK are told apart by error_detail only", async () => {
    h.set("n1", { Cluster: [edsCluster("a")] });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const r1 = await s.next();
    expect(r1.nonce).toBeTruthy();
    expect(names(r1)).toEqual(["a"]);
    ack(s, r1);
    expect(await s.silence()).toBeUndefined();
    expect(h.cache.tracker.status("n1")?.types.get(CDS)?.state).toBe("SYNCED");

    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    const r2 = await s.next();
    expect(r2.nonce).toBeTruthy();
    expect(r2.nonce).not.toBe(r1.nonce);
    expect(names(r2)).toEqual(["b"]);
    // A NACK is a request with error_detail (delta requests carry no version to compare).
    s.send({ typeUrl: CDS, responseNonce: r2.nonce, errorDetail: { code: 3, message: "bad b" } });
    expect(await s.silence(400)).toBeUndefined();
    const status = h.cache.tracker.status("n1")?.types.get(CDS);
    expect(status?.state).toBe("NACKED");
    expect(status?.nacked?.errorMessage).toBe("bad b");
    expect(status?.resources.get("b")?.nacked).toBe(true);

    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("c")] });
    const r3 = await s.next();
    expect(new Set([r1.nonce, r2.nonce, r3.nonce]).size).toBe(3);
    expect(names(r3)).toEqual(["c"]);
    expect(removed(r3)).toEqual(["b"]);
    ack(s, r3);
    await s.silence(200);
    expect(h.cache.tracker.status("n1")?.types.get(CDS)?.state).toBe("SYNCED");
  });

  it("R21: subscription changes are honoured with a stale nonce and without a nonce", async () => {
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 1), endpoints("c", 1)] });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    const r1 = await s.next();
    expect(names(r1)).toEqual(["a"]);
    ack(s, r1);
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 2), endpoints("b", 1), endpoints("c", 1)] });
    const r2 = await s.next();
    expect(names(r2)).toEqual(["a"]);
    // r1's nonce is stale now; the subscription still applies.
    s.send({ typeUrl: EDS, responseNonce: r1.nonce, resourceNamesSubscribe: ["b"] });
    expect(names(await s.next())).toEqual(["b"]);
    // No nonce at all: a spontaneous subscription change.
    s.send({ typeUrl: EDS, resourceNamesSubscribe: ["c"] });
    expect(names(await s.next())).toEqual(["c"]);
    // A stale-nonce unsubscribe is honoured too: "a" changes, nothing is sent.
    s.send({ typeUrl: EDS, responseNonce: r1.nonce, resourceNamesUnsubscribe: ["a"] });
    await s.silence(100);
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 3), endpoints("b", 1), endpoints("c", 1)] });
    expect(await s.silence()).toBeUndefined();
  });

  it("R22: subscribing to a resource the client already has at the current version resends it", async () => {
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1)] });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    const r1 = await s.next();
    ack(s, r1);
    expect(await s.silence(200)).toBeUndefined();
    s.send({ typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    const r2 = await s.next();
    expect(names(r2)).toEqual(["a"]);
    expect(versionOf(r2, "a")).toBe(versionOf(r1, "a"));
  });

  it("R21/R23: streams subscribed to the same names stay independent when one of them changes its subscription", async () => {
    // Both end up with {a, b} (in another order): the server shares one name set between them.
    for (const id of ["n1", "n2"]) h.set(id, { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 1)] });
    const one = h.client().delta();
    const two = h.client().delta();
    one.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: ["a", "b"] });
    two.send({ node: testNode("n2"), typeUrl: EDS, resourceNamesSubscribe: ["b"] });
    ack(one, await one.next());
    ack(two, await two.next());
    two.send({ typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    ack(two, await two.next());
    one.send({ typeUrl: EDS, resourceNamesUnsubscribe: ["b"] });
    expect(await one.silence(100)).toBeUndefined();
    for (const id of ["n1", "n2"]) h.set(id, { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 2)] });
    // The one that dropped "b" hears nothing of it; the other gets the change.
    expect(await one.silence(200)).toBeUndefined();
    expect(names(await two.next())).toEqual(["b"]);
  });

  it("R23: unsubscribing a name not subscribed is ignored; a pure unsubscribe gets no response", async () => {
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 1)] });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    ack(s, await s.next());
    s.send({ typeUrl: EDS, resourceNamesUnsubscribe: ["never-subscribed"] });
    expect(await s.silence(200)).toBeUndefined();
    s.send({ typeUrl: EDS, resourceNamesUnsubscribe: ["a"] });
    expect(await s.silence(200)).toBeUndefined();
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 2), endpoints("b", 1)] });
    expect(await s.silence(200)).toBeUndefined();
    // The stream is alive and well.
    s.send({ typeUrl: EDS, resourceNamesSubscribe: ["b"] });
    expect(names(await s.next())).toEqual(["b"]);
  });

  it("R23: a wildcard client unsubscribing a named resource gets it back in resources or removed_resources", async () => {
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: ["*", "a", "ghost"] });
    const r1 = await s.next();
    expect(names(r1)).toEqual(["a", "b"]);
    expect(removed(r1)).toEqual(["ghost"]);
    ack(s, r1);
    // "a" is also in the wildcard: it comes back in resources.
    s.send({ typeUrl: CDS, resourceNamesUnsubscribe: ["a"] });
    const r2 = await s.next();
    expect(names(r2)).toEqual(["a"]);
    expect(removed(r2)).toEqual([]);
    ack(s, r2);
    // "ghost" is not in the wildcard: it comes back in removed_resources.
    s.send({ typeUrl: CDS, resourceNamesUnsubscribe: ["ghost"] });
    const r3 = await s.next();
    expect(names(r3)).toEqual([]);
    expect(removed(r3)).toEqual(["ghost"]);
    ack(s, r3);
    expect(await s.silence(200)).toBeUndefined();
  });

  it("R24: subscribing to a resource that does not exist puts its name in removed_resources", async () => {
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1)] });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: ["a", "missing"] });
    const r1 = await s.next();
    expect(names(r1)).toEqual(["a"]);
    expect(removed(r1)).toEqual(["missing"]);
    ack(s, r1);
    // Reported once, not again on every change.
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 2)] });
    const r2 = await s.next();
    expect(names(r2)).toEqual(["a"]);
    expect(removed(r2)).toEqual([]);
    ack(s, r2);
    // Subscribing again to a missing name reports it again (R22 applies to absence too).
    s.send({ typeUrl: EDS, resourceNamesSubscribe: ["missing"] });
    const r3 = await s.next();
    expect(removed(r3)).toEqual(["missing"]);
    ack(s, r3);
    // When it appears, it is pushed.
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 2), endpoints("missing", 7)] });
    const r4 = await s.next();
    expect(names(r4)).toEqual(["missing"]);
  });

  it("R25: deletions go in removed_resources; each Resource carries name and version; unchanged ones are never resent", async () => {
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b"), edsCluster("c")] });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const r1 = await s.next();
    expect(names(r1)).toEqual(["a", "b", "c"]);
    for (const resource of r1.resources ?? []) {
      expect(resource.name).toBeTruthy();
      expect(resource.version).toBeTruthy();
      expect(resource.resource?.typeUrl).toBe(CDS);
      expect(Cluster.decode(resource.resource?.value ?? new Uint8Array()).name).toBe(resource.name);
    }
    ack(s, r1);
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b", { connectTimeout: { seconds: 9, nanos: 0 } })] });
    const r2 = await s.next();
    expect(names(r2)).toEqual(["b"]);
    expect(removed(r2)).toEqual(["c"]);
    expect(versionOf(r2, "b")).not.toBe(versionOf(r1, "b"));
    ack(s, r2);
    // The same content again: nothing to send.
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b", { connectTimeout: { seconds: 9, nanos: 0 } })] });
    expect(await s.silence()).toBeUndefined();
  });

  it("R26: initial_resource_versions suppresses resending what a reconnecting client has", async () => {
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1), endpoints("b", 1)] });
    const first = h.client().delta();
    first.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: ["a", "b"] });
    const r1 = await first.next();
    expect(names(r1)).toEqual(["a", "b"]);
    first.close();

    const again = h.client().delta();
    again.send({
      node: testNode("n1"),
      typeUrl: EDS,
      resourceNamesSubscribe: ["a", "b"],
      initialResourceVersions: { a: versionOf(r1, "a") ?? "", b: "an-older-version" },
    });
    const r2 = await again.next();
    expect(names(r2)).toEqual(["b"]);
    ack(again, r2);
    expect(await again.silence(200)).toBeUndefined();
  });

  it("R26: a wildcard reconnect ('*') gets only what changed, and removals of what it had", async () => {
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b"), edsCluster("c")] });
    const first = h.client().delta();
    first.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const r1 = await first.next();
    first.close();
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("c", { connectTimeout: { seconds: 3, nanos: 0 } })] });

    const again = h.client().delta();
    again.send({
      node: testNode("n1"),
      typeUrl: CDS,
      resourceNamesSubscribe: ["*"],
      initialResourceVersions: Object.fromEntries((r1.resources ?? []).map((r) => [r.name ?? "", r.version ?? ""])),
    });
    const r2 = await again.next();
    expect(names(r2)).toEqual(["c"]);
    expect(removed(r2)).toEqual(["b"]);
  });

  it("R26: a first request with both lists empty is a (legacy) wildcard, initial versions still apply", async () => {
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    const probe = h.client().delta();
    probe.send({ node: testNode("n1"), typeUrl: CDS });
    const r0 = await probe.next();
    expect(names(r0)).toEqual(["a", "b"]);
    const again = h.client().delta();
    again.send({ node: testNode("n1"), typeUrl: CDS, initialResourceVersions: { a: versionOf(r0, "a") ?? "" } });
    expect(names(await again.next())).toEqual(["b"]);
  });

  it("R27: legacy wildcard: after an empty first request, subscribing A keeps '*'; unsubscribing '*' drops it", async () => {
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const r1 = await s.next();
    expect(names(r1)).toEqual(["a", "b"]);
    ack(s, r1);
    s.send({ typeUrl: CDS, resourceNamesSubscribe: ["a"] });
    const r2 = await s.next();
    expect(names(r2)).toEqual(["a"]); // R22
    ack(s, r2);
    // Still a wildcard: a new cluster is pushed.
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b"), edsCluster("c")] });
    const r3 = await s.next();
    expect(names(r3)).toEqual(["c"]);
    ack(s, r3);
    // Dropping '*' keeps the explicit "a" only.
    s.send({ typeUrl: CDS, resourceNamesUnsubscribe: ["*"] });
    expect(await s.silence(200)).toBeUndefined();
    const slow = { connectTimeout: { seconds: 7, nanos: 0 } };
    h.set("n1", { Cluster: [edsCluster("a", slow), edsCluster("b", slow), edsCluster("c", slow), edsCluster("d")] });
    const r4 = await s.next();
    expect(names(r4)).toEqual(["a"]);
    expect(removed(r4)).toEqual([]);
    ack(s, r4);
    expect(await s.silence(200)).toBeUndefined();
  });

  it("R28: VHDS aliases (<route config>/<host>) resolve to the virtual host serving that domain", async () => {
    const vh1 = vhost("rc/vh1", ["foo.example.com", "*.bar.example.com"]);
    const vh2 = vhost("rc/vh2", ["baz.example.com"]);
    h.set("n1", { VirtualHost: [vh1, vh2] });
    const s = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: VHDS, resourceNamesSubscribe: ["rc/foo.example.com"] });
    const r1 = await s.next();
    expect(r1.resources).toHaveLength(1);
    expect(r1.resources?.[0]?.name).toBe("rc/vh1");
    expect(r1.resources?.[0]?.aliases).toEqual(["rc/foo.example.com"]);
    expect(VirtualHostCodec.decode(r1.resources?.[0]?.resource?.value ?? new Uint8Array()).domains).toEqual(
      vh1.domains,
    );
    expect(removed(r1)).toEqual([]);
    ack(s, r1);

    // A second alias of the same virtual host (suffix wildcard domain) is answered too; the Resource lists
    // every subscribed alias it serves.
    s.send({ typeUrl: VHDS, resourceNamesSubscribe: ["rc/x.bar.example.com"] });
    const r2 = await s.next();
    expect(names(r2)).toEqual(["rc/vh1"]);
    expect([...(r2.resources?.[0]?.aliases ?? [])].sort()).toEqual(["rc/foo.example.com", "rc/x.bar.example.com"]);
    ack(s, r2);

    // An alias nothing serves: a Resource named after the alias, with that alias, without a body.
    s.send({ typeUrl: VHDS, resourceNamesSubscribe: ["rc/nowhere.example.com"] });
    const r3 = await s.next();
    expect(r3.resources).toHaveLength(1);
    expect(r3.resources?.[0]?.name).toBe("rc/nowhere.example.com");
    expect(r3.resources?.[0]?.aliases).toEqual(["rc/nowhere.example.com"]);
    expect(r3.resources?.[0]?.resource).toBeUndefined();
    ack(s, r3);
    expect(await s.silence(200)).toBeUndefined();

    // A change to vh1 goes out once, carrying both aliases; vh2 (never subscribed) is not sent.
    h.set("n1", { VirtualHost: [vhost("rc/vh1", vh1.domains ?? [], "b"), vhost("rc/vh2", ["baz.example.com"], "b")] });
    const r4 = await s.next();
    expect(names(r4)).toEqual(["rc/vh1"]);
    expect([...(r4.resources?.[0]?.aliases ?? [])].sort()).toEqual(["rc/foo.example.com", "rc/x.bar.example.com"]);
    ack(s, r4);

    // The unresolved alias becomes resolvable: pushed with its alias.
    const vh3 = vhost("rc/vh3", ["nowhere.example.com"]);
    h.set("n1", { VirtualHost: [vhost("rc/vh1", vh1.domains ?? [], "b"), vh2, vh3] });
    const r5 = await s.next();
    expect(names(r5)).toEqual(["rc/vh3"]);
    expect(r5.resources?.[0]?.aliases).toEqual(["rc/nowhere.example.com"]);
    ack(s, r5);

    // Unsubscribing both aliases of vh1: no response, and vh1 is no longer followed.
    s.send({ typeUrl: VHDS, resourceNamesUnsubscribe: ["rc/foo.example.com", "rc/x.bar.example.com"] });
    expect(await s.silence(200)).toBeUndefined();
    h.set("n1", { VirtualHost: [vhost("rc/vh1", vh1.domains ?? [], "c"), vh2, vh3] });
    expect(await s.silence(200)).toBeUndefined();

    // Deleting the virtual host an alias resolved to: its name is removed, the alias reported unresolved.
    h.set("n1", { VirtualHost: [vh2] });
    const r6 = await s.next();
    expect(removed(r6)).toEqual(["rc/vh3"]);
    expect(r6.resources?.map((r) => [r.name, r.aliases, r.resource])).toEqual([
      ["rc/nowhere.example.com", ["rc/nowhere.example.com"], undefined],
    ]);
  });

  it("R28: a VHDS subscription by resource name needs no alias; exact domains win over wildcards, then '*'", async () => {
    h.set("n1", {
      VirtualHost: [
        vhost("rc/exact", ["api.example.com"]),
        vhost("rc/wild", ["*.example.com"]),
        vhost("rc/any", ["*"]),
        vhost("port-rc/vh", ["api.example.com"]),
      ],
    });
    const s = h.client().delta();
    s.send({
      node: testNode("n1"),
      typeUrl: VHDS,
      resourceNamesSubscribe: [
        "rc/wild",
        "rc/api.example.com",
        "port-rc/API.example.com:8443", // case is ignored, and a port when nothing matches with it
        "rc/web.example.com",
        "rc/other.org",
        "other-rc/api.example.com",
      ],
    });
    const r1 = await s.next();
    const byName = new Map((r1.resources ?? []).map((r) => [r.name, [...(r.aliases ?? [])].sort()]));
    expect(byName.get("rc/wild")).toEqual(["rc/web.example.com"]);
    expect(byName.get("rc/exact")).toEqual(["rc/api.example.com"]);
    expect(byName.get("port-rc/vh")).toEqual(["port-rc/API.example.com:8443"]);
    expect(byName.get("rc/any")).toEqual(["rc/other.org"]);
    // Another route configuration's virtual hosts are not candidates.
    expect(byName.get("other-rc/api.example.com")).toEqual(["other-rc/api.example.com"]);
    expect(r1.resources?.find((r) => r.name === "other-rc/api.example.com")?.resource).toBeUndefined();
    expect(r1.resources).toHaveLength(5);
  });

  it("per-type delta service (DeltaClusters) serves its type without type_url", async () => {
    h.set("n1", { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("a", 1)] });
    const s = h.client().delta(`/${resourceTypes.Cluster.grpcService}/DeltaClusters`);
    s.send({ node: testNode("n1"), resourceNamesSubscribe: ["*"] });
    const r1 = await s.next();
    expect(r1.typeUrl).toBe(CDS);
    expect(names(r1)).toEqual(["a"]);
    s.send({ responseNonce: r1.nonce });
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")], ClusterLoadAssignment: [endpoints("a", 1)] });
    const r2 = await s.next();
    expect(names(r2)).toEqual(["b"]);
  });

  it("per-type SotW service (StreamClusters) serves its type without type_url", async () => {
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    const s = h.client().sotw(`/${resourceTypes.Cluster.grpcService}/StreamClusters`);
    s.send({ node: testNode("n1") });
    const r1 = await s.next();
    expect(r1.typeUrl).toBe(CDS);
    expect((r1.resources ?? []).map((r) => Cluster.decode(r.value ?? new Uint8Array()).name).sort()).toEqual([
      "a",
      "b",
    ]);
    s.send({ versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    expect(await s.silence(200)).toBeUndefined();
  });

  it("a per-type service refuses a request for another type_url with INVALID_ARGUMENT", async () => {
    const sotw = h.client().sotw(`/${resourceTypes.Cluster.grpcService}/StreamClusters`);
    sotw.send({ node: testNode("n1"), typeUrl: EDS, resourceNames: ["a"] });
    const s1 = await sotw.ended();
    expect(s1.code).toBe(3);
    expect(s1.details).toContain(EDS);
    expect(s1.details).toContain(CDS);

    const delta = h.client().delta(`/${resourceTypes.ClusterLoadAssignment.grpcService}/DeltaEndpoints`);
    delta.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    const s2 = await delta.ended();
    expect(s2.code).toBe(3);
    expect(s2.details).toContain(CDS);
    // The server is fine: an ADS stream still works.
    h.set("n1", { ClusterLoadAssignment: [endpoints("a", 1)] });
    const ok = h.client().delta();
    ok.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    expect(
      (await ok.next()).resources?.map(
        (r) => ClusterLoadAssignment.decode(r.resource?.value ?? new Uint8Array()).clusterName,
      ),
    ).toEqual(["a"]);
  });
});
