// NACKs from a real Envoy: a resource that encodes fine but fails Envoy's validation is rejected; xdskit
// records the NACK with Envoy's error_detail, never resends the rejected version, Envoy keeps serving the
// last good config, and a later good snapshot is applied. With nackPolicy "rollback" the cache goes back to
// the last snapshot the node accepted.
import {
  Cluster_LbPolicy,
  NackError,
  resourceTypes,
  type Snapshot,
  type SnapshotResources,
  XdsKitError,
} from "@xdskit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { type HttpUpstream, startHttpUpstream } from "../harness/upstreams.js";
import {
  closeHttpAgent,
  dumpedRoute,
  dumpedVersions,
  edsClusterVia,
  endpointsOf,
  envoyBootstrap,
  httpListenerVia,
  routeAllTo,
  routeConfig,
  sleep,
  startXds,
  tallyGets,
  versionTexts,
  type XdsUnderTest,
} from "./helpers.js";

const LISTENER = "web";
const ROUTE = "web-route";
const RDS = resourceTypes.RouteConfiguration.typeUrl;
const LDS = resourceTypes.Listener.typeUrl;
const CDS = resourceTypes.Cluster.typeUrl;
/** An RE2 pattern Envoy refuses to compile; the RouteConfiguration itself encodes fine. */
const BAD_REGEX = "web/(v1";

describe("NACKs from Envoy", () => {
  const upstreams: Record<string, HttpUpstream> = {};

  /** Listener + route (everything to `target`, optionally behind a rule Envoy rejects) + clusters v1, v2. */
  const resources = (target: string, options: { badRoute?: boolean; extraListenerAddress?: string } = {}) =>
    ({
      Listener: [
        httpListenerVia(LISTENER, ROUTE, "ads-sotw"),
        ...(options.extraListenerAddress
          ? [
              {
                ...httpListenerVia("broken", ROUTE, "ads-sotw"),
                address: { socketAddress: { address: options.extraListenerAddress, portValue: 0 } },
              },
            ]
          : []),
      ],
      RouteConfiguration: [
        options.badRoute
          ? routeConfig(ROUTE, [
              { match: { safeRegex: { regex: BAD_REGEX } }, route: { cluster: "v1" } },
              { match: { prefix: "/" }, route: { cluster: target } },
            ])
          : routeAllTo(ROUTE, target),
      ],
      Cluster: ["v1", "v2"].map((name) => edsClusterVia(name, "ads-sotw")),
      ClusterLoadAssignment: ["v1", "v2"].map((name) => endpointsOf(name, upstreams[name]?.port ?? 0)),
    }) satisfies SnapshotResources;

  beforeAll(async () => {
    upstreams.v1 = await startHttpUpstream({ service: "web", version: "v1" });
    upstreams.v2 = await startHttpUpstream({ service: "web", version: "v2" });
  });

  afterAll(async () => {
    closeHttpAgent();
    for (const upstream of Object.values(upstreams)) await upstream.close();
  });

  /** A fresh xdskit server and an Envoy that applied `resources("v1")`. */
  const setup = async (nodeId: string, nackPolicy: "keep" | "rollback") => {
    const xds = await startXds({ cache: { nackPolicy } });
    const good = xds.set(nodeId, resources("v1"));
    const envoy = await startEnvoy({
      name: nodeId,
      bootstrap: envoyBootstrap({ transport: "ads-sotw", xdsPort: xds.port, nodeId }),
    });
    const url = `http://127.0.0.1:${await envoy.waitFor(() => envoy.listenerPort(LISTENER), 5000)}/`;
    await xds.cache.awaitApplied(nodeId, good.version, { timeoutMs: 5000 });
    return { xds, envoy, good, url };
  };

  describe('a RouteConfiguration Envoy rejects, nackPolicy "keep" (default)', () => {
    const nodeId = "nack-keep";
    let xds: XdsUnderTest;
    let envoy: EnvoyHandle;
    let good: Snapshot;
    let bad: Snapshot;
    let url: string;
    let rejected: unknown;

    beforeAll(async () => {
      ({ xds, envoy, good, url } = await setup(nodeId, "keep"));
      // Had Envoy taken it, this snapshot would send everything to v2.
      bad = xds.set(nodeId, resources("v2", { badRoute: true }));
      rejected = await xds.cache.awaitApplied(nodeId, bad.version, { timeoutMs: 5000 }).then(
        () => "applied",
        (error: unknown) => error,
      );
    });

    afterAll(async () => {
      await envoy?.stop();
      await xds?.close();
    });

    it("awaitApplied rejects with NACKED and Envoy's reason", () => {
      expect(rejected).toBeInstanceOf(XdsKitError);
      expect((rejected as XdsKitError).code).toBe("NACKED");
      expect((rejected as XdsKitError).message).toContain(BAD_REGEX);
      // The NACK's facts as fields: what was rejected, at which version, and Envoy's error_detail.
      expect(rejected).toBeInstanceOf(NackError);
      const nack = rejected as NackError;
      expect(nack).toMatchObject({ nodeId, typeUrl: RDS, version: bad.versionOf(RDS), resourceNames: [ROUTE] });
      expect(nack.errorDetail.message).toContain(`missing ): ${BAD_REGEX}`);
    });

    it("the tracker reports RDS NACKED with Envoy's error_detail, and the last accepted version", () => {
      const type = xds.cache.tracker.status(nodeId)?.types.get(RDS);
      expect(type?.state).toBe("NACKED");
      expect(type?.nacked?.version).toBe(bad.versionOf(RDS));
      // Envoy's own words: RE2's compile error, "missing ): web/(v1".
      expect(type?.nacked?.errorMessage).toContain(`missing ): ${BAD_REGEX}`);
      expect(type?.acked?.version).toBe(good.versionOf(RDS));
      expect(type?.resources.get(ROUTE)).toMatchObject({
        sentVersion: bad.resourcesOf(RDS).get(ROUTE)?.version,
        ackedVersion: good.resourcesOf(RDS).get(ROUTE)?.version,
        nacked: true,
      });
      // The other types are untouched and still in sync.
      for (const kind of ["Listener", "Cluster"] as const)
        expect(xds.cache.tracker.status(nodeId)?.types.get(resourceTypes[kind].typeUrl)?.state, kind).toBe("SYNCED");
      // Server callback, cache onNack and tracker agree.
      expect(xds.nacks.map((n) => [n.typeUrl, n.version, n.errorMessage])).toEqual([
        [RDS, bad.versionOf(RDS), type?.nacked?.errorMessage],
      ]);
      expect(xds.cacheNacks).toHaveLength(1);
      expect(xds.cache.status(nodeId).lastAcceptedVersion).toBe(good.version);
    });

    it("sends the rejected version exactly once: no resend loop", async () => {
      const before = xds.responsesTo(nodeId).length;
      await sleep(1500);
      const rds = xds.responsesTo(nodeId, "RouteConfiguration");
      expect(rds.filter((r) => r.version === bad.versionOf(RDS))).toHaveLength(1);
      expect(xds.responsesTo(nodeId).length).toBe(before);
      // Envoy sent one NACK and nothing more for it.
      expect(xds.nacks).toHaveLength(1);
    });

    it("Envoy keeps serving the last good config", async () => {
      expect(await tallyGets(url, 20)).toEqual({ "web/v1": 20 });
      const texts = await versionTexts(envoy);
      expect(texts[`http.${LISTENER}.rds.${ROUTE}`]).toBe(good.versionOf(RDS));
      expect((await dumpedVersions(envoy)).routes[ROUTE]).toBe(good.versionOf(RDS));
      expect(JSON.stringify(await dumpedRoute(envoy, ROUTE))).not.toContain(BAD_REGEX);
      expect(await envoy.stat(`http.${LISTENER}.rds.${ROUTE}.update_rejected`)).toBe(1);
    });

    it("a later good snapshot is applied", async () => {
      const fixed = xds.set(nodeId, resources("v2"));
      await xds.cache.awaitApplied(nodeId, fixed.version, { timeoutMs: 5000 });
      const type = xds.cache.tracker.status(nodeId)?.types.get(RDS);
      expect(type?.state).toBe("SYNCED");
      expect(type?.acked?.version).toBe(fixed.versionOf(RDS));
      expect(type?.resources.get(ROUTE)?.nacked).toBe(false);
      expect(await tallyGets(url, 10)).toEqual({ "web/v2": 10 });
      expect((await versionTexts(envoy))[`http.${LISTENER}.rds.${ROUTE}`]).toBe(fixed.versionOf(RDS));
      expect(xds.cache.status(nodeId).lastAcceptedVersion).toBe(fixed.version);
    });
  });

  describe("a Listener Envoy rejects (malformed IP address)", () => {
    const nodeId = "nack-listener";
    let xds: XdsUnderTest;
    let envoy: EnvoyHandle;

    afterAll(async () => {
      await envoy?.stop();
      await xds?.close();
    });

    it("is NACKed with Envoy's reason, sent once, and the good listener keeps serving", async () => {
      let good: Snapshot;
      let url: string;
      ({ xds, envoy, good, url } = await setup(nodeId, "keep"));
      const bad = xds.set(nodeId, resources("v1", { extraListenerAddress: "not-an-ip" }));
      await expect(xds.cache.awaitApplied(nodeId, bad.version, { timeoutMs: 5000 })).rejects.toMatchObject({
        code: "NACKED",
      });
      const type = xds.cache.tracker.status(nodeId)?.types.get(LDS);
      expect(type?.state).toBe("NACKED");
      expect(type?.nacked?.errorMessage).toContain("malformed IP address: not-an-ip");
      expect(type?.acked?.version).toBe(good.versionOf(LDS));
      await sleep(1000);
      expect(xds.responsesTo(nodeId, "Listener").filter((r) => r.version === bad.versionOf(LDS))).toHaveLength(1);
      expect(xds.nacks).toHaveLength(1);
      // The old listener still serves, at the last good LDS version, and "broken" never appeared.
      expect(await tallyGets(url, 10)).toEqual({ "web/v1": 10 });
      const dump = await dumpedVersions(envoy);
      expect(Object.keys(dump.listeners)).toEqual([LISTENER]);
      expect(dump.lds).toBe(good.versionOf(LDS));
    });
  });

  describe("a CDS update with one cluster Envoy rejects", () => {
    const nodeId = "nack-cluster";
    let xds: XdsUnderTest;
    let envoy: EnvoyHandle;

    afterAll(async () => {
      await envoy?.stop();
      await xds?.close();
    });

    it("is NACKed, yet Envoy applies the valid clusters of that update (Envoy's partial CDS acceptance)", async () => {
      let good: Snapshot;
      ({ xds, envoy, good } = await setup(nodeId, "keep"));
      const base = resources("v1");
      const bad = xds.set(nodeId, {
        ...base,
        Cluster: [
          ...base.Cluster,
          edsClusterVia("v2b", "ads-sotw"),
          // Valid protobuf, but an EDS cluster cannot provide its own load balancer.
          { ...edsClusterVia("broken", "ads-sotw"), lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED },
        ],
        ClusterLoadAssignment: [...base.ClusterLoadAssignment, endpointsOf("v2b", upstreams.v2?.port ?? 0)],
      });
      await expect(xds.cache.awaitApplied(nodeId, bad.version, { timeoutMs: 5000 })).rejects.toMatchObject({
        code: "NACKED",
      });
      const type = xds.cache.tracker.status(nodeId)?.types.get(CDS);
      expect(type?.state).toBe("NACKED");
      expect(type?.nacked?.errorMessage).toContain("Error adding/updating cluster(s) broken:");
      expect(type?.nacked?.errorMessage).toContain(
        "cluster provided LB specified but cluster 'broken' did not provide one",
      );
      expect(type?.acked?.version).toBe(good.versionOf(CDS));
      await sleep(500);
      expect(xds.responsesTo(nodeId, "Cluster").filter((r) => r.version === bad.versionOf(CDS))).toHaveLength(1);
      // Envoy took the good part of the rejected update: v2b is active (and got its endpoints), and its
      // config_dump even shows the rejected version on it. xdskit's tracker keeps the last ACKed version.
      const dump = await envoy.waitFor(async () => {
        const d = await dumpedVersions(envoy);
        return "v2b" in d.clusters ? d : undefined;
      }, 5000);
      expect(Object.keys(dump.clusters).sort()).toEqual(["v1", "v2", "v2b"]);
      expect(dump.clusters.v2b).toBe(bad.versionOf(CDS));
      expect(dump.cds).toBe(bad.versionOf(CDS));
    });
  });

  describe('nackPolicy "rollback"', () => {
    const nodeId = "nack-rollback";
    let xds: XdsUnderTest;
    let envoy: EnvoyHandle;

    afterAll(async () => {
      await envoy?.stop();
      await xds?.close();
    });

    it("restores the last accepted snapshot, resends it once, and the node is SYNCED on it again", async () => {
      let good: Snapshot;
      let url: string;
      ({ xds, envoy, good, url } = await setup(nodeId, "rollback"));
      const bad = xds.set(nodeId, resources("v2", { badRoute: true }));
      await expect(xds.cache.awaitApplied(nodeId, bad.version, { timeoutMs: 5000 })).rejects.toMatchObject({
        code: "NACKED",
      });
      // The cache went back to the good snapshot...
      expect(xds.cache.getSnapshot(nodeId)?.version).toBe(good.version);
      // ...which the server re-sends (the stream last sent the rejected route) and Envoy ACKs. (awaitApplied of
      // the good version may resolve before that ACK: Envoy's last ACKed RDS version never stopped being it.)
      await xds.cache.awaitApplied(nodeId, good.version, { timeoutMs: 5000 });
      const type = await envoy.waitFor(() => {
        const t = xds.cache.tracker.status(nodeId)?.types.get(RDS);
        return t?.state === "SYNCED" ? t : undefined;
      }, 5000);
      expect(type?.acked?.version).toBe(good.versionOf(RDS));
      expect(type?.nacked?.version).toBe(bad.versionOf(RDS));

      await sleep(1000);
      const rds = xds.responsesTo(nodeId, "RouteConfiguration").map((r) => r.version);
      // good (initial), bad (NACKed), good again (rollback): no loop.
      expect(rds).toEqual([good.versionOf(RDS), bad.versionOf(RDS), good.versionOf(RDS)]);
      expect(xds.nacks).toHaveLength(1);
      expect(await tallyGets(url, 10)).toEqual({ "web/v1": 10 });
      expect((await versionTexts(envoy))[`http.${LISTENER}.rds.${ROUTE}`]).toBe(good.versionOf(RDS));

      // A later good snapshot still goes through.
      const fixed = xds.set(nodeId, resources("v2"));
      await xds.cache.awaitApplied(nodeId, fixed.version, { timeoutMs: 5000 });
      expect(await tallyGets(url, 10)).toEqual({ "web/v2": 10 });
    });
  });
});
