// Make-before-break (XDS-RULES R17-R19): a configuration change while Envoy carries steady keep-alive
// traffic loses no request. The cache runs with removeStaleLast (stale clusters and endpoints leave only
// after every node applied the change that stopped using them). With ordering "ack-gated" every kind of
// change is lossless. With the default "send-order" a new cluster's route can reach Envoy before the
// cluster has warmed, so only changes that add no cluster are asserted there.
import { resourceTypes, type Snapshot, type SnapshotResources } from "@xdskit/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { type HttpUpstream, startHttpUpstream } from "../harness/upstreams.js";
import {
  describeTraffic,
  dumpedVersions,
  edsClusterVia,
  endpointsOf,
  envoyBootstrap,
  httpListenerVia,
  routeAllTo,
  sleep,
  startXds,
  steadyTraffic,
  versionTexts,
  type XdsUnderTest,
} from "./helpers.js";

const LISTENER = "web";
const ROUTE = "web-route";

interface Scenario {
  name: string;
  /** Clusters before and after; the route sends everything to v1, then to v2. */
  before: string[];
  after: string[];
  /**
   * Two snapshots instead of one: first move the route (every cluster of before and after still present),
   * then, once awaitApplied says Envoy has it, delete the clusters no route uses any more.
   */
  twoPhase?: boolean;
}

const ROUTE_CHANGE: Scenario = {
  name: "route change between existing clusters",
  before: ["v1", "v2"],
  after: ["v1", "v2"],
};
const CLUSTER_ADD: Scenario = {
  name: "cluster add: the route moves to a new cluster",
  before: ["v1"],
  after: ["v1", "v2"],
};
const CLUSTER_REMOVE: Scenario = {
  name: "cluster remove: the route moves away and the old cluster is deleted in the same snapshot",
  before: ["v1", "v2"],
  after: ["v2"],
};
const CLUSTER_SWAP: Scenario = {
  name: "cluster swap: the route moves to a new cluster and the old one is deleted in the same snapshot",
  before: ["v1"],
  after: ["v2"],
};

const CLUSTER_REMOVE_TWO_PHASE: Scenario = {
  name: "cluster remove in two snapshots (route first, delete after awaitApplied)",
  before: ["v1", "v2"],
  after: ["v2"],
  twoPhase: true,
};

const CASES: Array<{ ordering: "ack-gated" | "send-order"; scenarios: Scenario[] }> = [
  {
    ordering: "ack-gated",
    scenarios: [ROUTE_CHANGE, CLUSTER_ADD, CLUSTER_REMOVE, CLUSTER_SWAP, CLUSTER_REMOVE_TWO_PHASE],
  },
  { ordering: "send-order", scenarios: [ROUTE_CHANGE, CLUSTER_REMOVE, CLUSTER_REMOVE_TWO_PHASE] },
];

describe.each(CASES)("make-before-break with ordering $ordering", ({ ordering, scenarios }) => {
  const upstreams: Record<string, HttpUpstream> = {};
  let xds: XdsUnderTest;
  let envoy: EnvoyHandle | undefined;
  let seq = 0;

  const resources = (clusters: string[], target: string): SnapshotResources => ({
    Listener: [httpListenerVia(LISTENER, ROUTE, "ads-sotw")],
    RouteConfiguration: [routeAllTo(ROUTE, target)],
    Cluster: clusters.map((name) => edsClusterVia(name, "ads-sotw")),
    ClusterLoadAssignment: clusters.map((name) => endpointsOf(name, upstreams[name]?.port ?? 0)),
  });

  /** Envoy's last accepted CDS and RDS versions are the snapshot's. */
  const appliedBy = async (proxy: EnvoyHandle, snapshot: Snapshot) => {
    const texts = await versionTexts(proxy);
    return (
      texts["cluster_manager.cds"] === snapshot.versionOf(resourceTypes.Cluster.typeUrl) &&
      texts[`http.${LISTENER}.rds.${ROUTE}`] === snapshot.versionOf(resourceTypes.RouteConfiguration.typeUrl)
    );
  };

  beforeAll(async () => {
    upstreams.v1 = await startHttpUpstream({ service: "web", version: "v1" });
    upstreams.v2 = await startHttpUpstream({ service: "web", version: "v2" });
    xds = await startXds({ ordering, cache: { removeStaleLast: true } });
  });

  afterEach(async () => {
    await envoy?.stop();
    envoy = undefined;
  });

  afterAll(async () => {
    await xds?.close();
    for (const upstream of Object.values(upstreams)) await upstream.close();
  });

  it.each(scenarios)("$name: zero failed requests", async (scenario) => {
    const nodeId = `mbb-${ordering}-${++seq}`;
    const initial = xds.set(nodeId, resources(scenario.before, "v1"));
    const proxy = await startEnvoy({
      name: nodeId,
      bootstrap: envoyBootstrap({ transport: "ads-sotw", xdsPort: xds.port, nodeId }),
    });
    envoy = proxy;
    const url = `http://127.0.0.1:${await proxy.waitFor(() => proxy.listenerPort(LISTENER), 5000)}/`;
    await proxy.waitFor(() => appliedBy(proxy, initial), 5000);

    // Steady traffic: 8 keep-alive connections, a request every ~1 ms each, for 1.5 s; switch at 0.4 s.
    const traffic = steadyTraffic(url, { concurrency: 8, intervalMs: 1, durationMs: 1500, maxRequests: 12_000 });
    await sleep(400);
    if (scenario.twoPhase) {
      const both = [...new Set([...scenario.before, ...scenario.after])].sort();
      const moved = xds.set(nodeId, resources(both, "v2"));
      await xds.cache.awaitApplied(nodeId, moved.version, { timeoutMs: 800 });
    }
    const next = xds.set(nodeId, resources(scenario.after, "v2"));
    // The switch itself is prompt: well within the traffic window (and far below ackGateTimeoutMs).
    const applied = await proxy
      .waitFor(() => appliedBy(proxy, next), 800)
      .then(() => true)
      .catch(() => false);
    const result = await traffic;

    expect(applied, `Envoy did not apply the new CDS and RDS within 800 ms; ${describeTraffic(result)}`).toBe(true);
    expect(result.failed, describeTraffic(result)).toBe(0);
    // Floors, not rates: traffic on both sides of the switch is what matters. 1.5 s yields thousands of requests
    // on a quiet machine and under a hundred on a 2-core one running other suites (load 16: 33 before, 56 after).
    expect(Object.keys(result.upstreams).sort(), describeTraffic(result)).toEqual(["web/v1", "web/v2"]);
    expect(result.upstreams["web/v1"], describeTraffic(result)).toBeGreaterThanOrEqual(20);
    expect(result.upstreams["web/v2"], describeTraffic(result)).toBeGreaterThanOrEqual(50);
    // Traffic really moved: the newest requests all went to v2.
    expect(new Set(result.samples.slice(-50).map((s) => s.upstream))).toEqual(new Set(["web/v2"]));

    // Envoy holds exactly the new clusters, none warming, and xdskit saw no NACK.
    const dump = await dumpedVersions(proxy);
    expect(Object.keys(dump.clusters).sort()).toEqual(scenario.after);
    expect(dump.warmingClusters).toEqual([]);
    expect(xds.nacks.filter((n) => n.node.id === nodeId)).toEqual([]);
  });
});
