// xdskit with endpoints in a LinearCache (clusters in a SnapshotCache, muxed): an endpoint change costs
// work for that name only, however many endpoints there are. Same control protocol as xdskit-server.ts;
// the bench hands over whole lists, so the adapter passes on only the objects that changed (the bench
// copies on write, so an unchanged resource is the same object).
import {
  type ClusterLoadAssignment,
  createLinearCache,
  createMuxCache,
  createSnapshot,
  createSnapshotCache,
  resourceTypes,
} from "@xdskit/core";
import { createXdsServer } from "@xdskit/server";
import { type BenchBackend, type BenchSnapshot, runBenchServer } from "../lib/control-server.js";
import { LOOPBACK } from "../lib/proc.js";

await runBenchServer(async (adsPort, acks): Promise<BenchBackend> => {
  const clusters = createSnapshotCache({ nodeHash: () => "all" });
  const endpoints = createLinearCache(resourceTypes.ClusterLoadAssignment);
  const cache = createMuxCache({
    caches: { [resourceTypes.Cluster.typeUrl]: clusters, [resourceTypes.ClusterLoadAssignment.typeUrl]: endpoints },
  });
  const server = createXdsServer({
    cache,
    callbacks: { onAck: (e) => acks.acked(e.streamId, e.typeUrl, e.version) },
  });
  await server.listen(`${LOOPBACK}:${adsPort}`);
  let lastClusterVersion: string | undefined;
  /** The CDS version responses carry: the cluster snapshot's. EDS: the LinearCache's version. */
  let cdsVersion = "";
  let lastEndpoints: readonly ClusterLoadAssignment[] = [];

  return {
    setSnapshot(s: BenchSnapshot) {
      if (s.clusterVersion !== lastClusterVersion) {
        const snapshot = createSnapshot({ resources: { Cluster: [...s.clusters] } });
        clusters.setSnapshot("all", snapshot);
        cdsVersion = snapshot.versionOf(resourceTypes.Cluster.typeUrl);
        lastClusterVersion = s.clusterVersion;
      }
      const changed = s.endpoints.filter((e, i) => e !== lastEndpoints[i]);
      const kept = new Set(s.endpoints.map((e) => e.clusterName));
      const removed = lastEndpoints.map((e) => e.clusterName ?? "").filter((name) => !kept.has(name));
      endpoints.updateResources(changed, removed);
      lastEndpoints = s.endpoints;
      return { clusters: cdsVersion, endpoints: endpoints.version, version: endpoints.version };
    },
    info: () => ({ server: "xdskit-linear", streams: server.streamCount }),
    close: () => server.close({ graceMs: 500 }),
  };
});
