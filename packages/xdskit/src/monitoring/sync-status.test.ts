import { Cluster_DiscoveryType, createSnapshot, createSnapshotCache } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { cacheConfigDump, snapshotToJson } from "./sync-status.js";

describe("snapshotToJson / cacheConfigDump", () => {
  it("renders a proxy's snapshot as proto3 JSON by kind, names sorted", () => {
    const snapshot = createSnapshot({
      resources: {
        Cluster: [
          { name: "b", type: Cluster_DiscoveryType.EDS },
          { name: "a", type: Cluster_DiscoveryType.STATIC },
        ],
      },
    });
    expect(snapshotToJson(snapshot)).toEqual({
      version: snapshot.version,
      resources: {
        Cluster: [
          { name: "a", type: "STATIC" },
          { name: "b", type: "EDS" },
        ],
      },
    });
    const cache = createSnapshotCache();
    cache.setSnapshot("proxy-1", snapshot);
    expect(cacheConfigDump(cache, "proxy-1")?.version).toBe(snapshot.version);
    expect(cacheConfigDump(cache, "proxy-2")).toBeUndefined();
  });
});
