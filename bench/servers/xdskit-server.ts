// The xdskit ADS server under test (@xdskit/core SnapshotCache + @xdskit/server), behind the bench
// control protocol (lib/control-server.ts). This file is the whole adapter; it uses:
//
//   createSnapshotCache({ nodeHash })            every node → one group "all"
//   createSnapshot({ resources: { Cluster, ClusterLoadAssignment } })   versions = content hashes
//   cache.setSnapshot("all", snapshot)           on /load; synchronous, POST /load answers after it returned
//   cache.updateSnapshot("all", { set })         on /update: only the resources that changed, O(changed)
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

  // The control server hands over whole lists, copied on write: what changed is what is no longer the same
  // object at its index. Those go to updateSnapshot, as an application that knows its change would do.
  let previous: BenchSnapshot | undefined;
  const changedOf = <T extends object>(type: ResourceType<T>, before: readonly T[], after: readonly T[]) =>
    after.filter((item, i) => item !== before[i]).map((item) => prepare(type, item));

  return {
    setSnapshot(s: BenchSnapshot) {
      const sameNames =
        previous && previous.clusters.length === s.clusters.length && previous.endpoints.length === s.endpoints.length;
      const snapshot =
        previous && sameNames
          ? cache.updateSnapshot(KEY, {
              set: {
                Cluster: changedOf(resourceTypes.Cluster, previous.clusters, s.clusters),
                ClusterLoadAssignment: changedOf(resourceTypes.ClusterLoadAssignment, previous.endpoints, s.endpoints),
              },
            })
          : createSnapshot({
              resources: {
                Cluster: s.clusters.map((c: Cluster) => prepare(resourceTypes.Cluster, c)),
                ClusterLoadAssignment: s.endpoints.map((e: ClusterLoadAssignment) =>
                  prepare(resourceTypes.ClusterLoadAssignment, e),
                ),
              },
            });
      if (!(previous && sameNames)) cache.setSnapshot(KEY, snapshot);
      previous = s;
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
