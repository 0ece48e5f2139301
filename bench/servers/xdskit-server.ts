// The xdskit ADS server under test (@xdskit/core SnapshotCache + @xdskit/server), behind the bench
// control protocol (lib/control-server.ts). This file is the whole adapter; it uses:
//
//   createSnapshotCache({ nodeHash })            every node → one group "all"
//   createSnapshot({ resources: { Cluster, ClusterLoadAssignment } })   versions = content hashes
//   cache.setSnapshot("all", snapshot)           synchronous; POST /update answers after it returned
//   createXdsServer({ cache, callbacks: { onAck } }).listen(address)   ADS (SotW and delta), default
//                                                options; onAck feeds GET /acked (lib/acks.ts)
//   snapshot.versionOf(typeUrl)                  the version responses and ACK events carry (SotW and delta)
//   prepareResource(type, resource)              each resource is encoded once and reused while the
//                                                bench keeps the same object (it copies on write)
import {
  type Cluster,
  type ClusterLoadAssignment,
  createSnapshot,
  createSnapshotCache,
  type PreparedResource,
  prepareResource,
  type ResourceType,
  resourceTypes,
} from "@xdskit/core";
import { createXdsServer } from "@xdskit/server";
import { type BenchBackend, type BenchSnapshot, runBenchServer } from "../lib/control-server.js";
import { LOOPBACK } from "../lib/proc.js";

/** Every node maps to this one snapshot group. */
const KEY = "all";

await runBenchServer(async (adsPort, acks): Promise<BenchBackend> => {
  const cache = createSnapshotCache({ nodeHash: () => KEY });
  const server = createXdsServer({
    cache,
    callbacks: { onAck: (e) => acks.acked(e.streamId, e.typeUrl, e.version) },
  });
  await server.listen(`${LOOPBACK}:${adsPort}`);

  // Encode once per resource object: unchanged resources keep their bytes across snapshots.
  const prepared = new WeakMap<object, PreparedResource>();
  const prepare = <T extends object>(type: ResourceType<T>, resource: T): PreparedResource<T> => {
    let p = prepared.get(resource) as PreparedResource<T> | undefined;
    if (!p) {
      p = prepareResource(type, resource);
      prepared.set(resource, p);
    }
    return p;
  };

  return {
    setSnapshot(s: BenchSnapshot) {
      const snapshot = createSnapshot({
        resources: {
          Cluster: s.clusters.map((c: Cluster) => prepare(resourceTypes.Cluster, c)),
          ClusterLoadAssignment: s.endpoints.map((e: ClusterLoadAssignment) =>
            prepare(resourceTypes.ClusterLoadAssignment, e),
          ),
        },
      });
      cache.setSnapshot(KEY, snapshot);
      return {
        clusters: snapshot.versionOf(resourceTypes.Cluster.typeUrl),
        endpoints: snapshot.versionOf(resourceTypes.ClusterLoadAssignment.typeUrl),
        version: snapshot.version,
      };
    },
    info: () => ({ server: "xdskit", streams: server.streamCount }),
    close: () => server.close({ graceMs: 500 }),
  };
});
