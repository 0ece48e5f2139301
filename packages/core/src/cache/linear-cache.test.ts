import { describe, expect, it } from "vitest";
import { edsCluster, endpoints } from "../../../../test/fixtures/resources.js";
import { resourceTypes } from "../resource-types.js";
import type { DeltaResponse, SotwResponse, WatchRequest } from "./config-watcher.js";
import { createLinearCache } from "./linear-cache.js";
import { createMuxCache } from "./mux-cache.js";
import { createSnapshot } from "./snapshot.js";
import { createSnapshotCache } from "./snapshot-cache.js";

const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;

function request(names: string[], known: Record<string, string> = {}, extra: Partial<WatchRequest> = {}): WatchRequest {
  return {
    streamId: 1,
    node: { id: "n" },
    typeUrl: EDS,
    wildcard: false,
    names: new Set(names),
    known: new Map(Object.entries(known)),
    responded: false,
    ...extra,
  };
}

describe("LinearCache", () => {
  it("answers at once with what exists and later with only what changed", () => {
    const cache = createLinearCache(resourceTypes.ClusterLoadAssignment, {
      resources: [endpoints("a", 1), endpoints("b", 1)],
    });
    const got: SotwResponse[] = [];
    cache.watchSotw(request(["a", "b"]), (r) => got.push(r));
    expect(got[0]?.resources.map((r) => r.name)).toEqual(["a", "b"]);
    const known = Object.fromEntries(got[0]?.resources.map((r) => [r.name, r.version]) ?? []);
    cache.watchSotw(request(["a", "b"], known, { responded: true }), (r) => got.push(r));
    expect(got).toHaveLength(1);
    cache.setResource(endpoints("b", 2));
    expect(got[1]?.resources.map((r) => r.name)).toEqual(["b"]);
    expect(got[1]?.version).toBe(cache.version);
  });

  it("wakes only the watches subscribed to a changed name", () => {
    const cache = createLinearCache(resourceTypes.ClusterLoadAssignment, {
      resources: [endpoints("a", 1), endpoints("b", 1)],
    });
    let aFired = 0;
    let bFired = 0;
    const a = cache.getResources().get("a");
    const b = cache.getResources().get("b");
    cache.watchSotw(request(["a"], { a: a?.version ?? "" }, { responded: true }), () => aFired++);
    cache.watchSotw(request(["b"], { b: b?.version ?? "" }, { responded: true }), () => bFired++);
    expect(cache.watchCount()).toBe(2);
    cache.setResource(endpoints("a", 7));
    expect([aFired, bFired]).toEqual([1, 0]);
    expect(cache.watchCount()).toBe(1);
  });

  it("has an order-independent content version and reports deletions to delta watches", () => {
    const one = createLinearCache(resourceTypes.ClusterLoadAssignment, {
      resources: [endpoints("a", 1), endpoints("b", 1)],
    });
    const two = createLinearCache(resourceTypes.ClusterLoadAssignment, {
      resources: [endpoints("b", 1), endpoints("a", 1)],
    });
    expect(one.version).toBe(two.version);
    const before = one.version;
    one.setResource(endpoints("a", 1));
    expect(one.version).toBe(before);
    const deltas: DeltaResponse[] = [];
    const a = one.getResources().get("a");
    one.watchDelta(request(["a"], { a: a?.version ?? "" }), (r) => deltas.push(r));
    one.deleteResource("a");
    expect(deltas[0]?.removed).toEqual(["a"]);
    expect(deltas[0]?.resources).toEqual([]);
    expect(() => one.watchSotw(request([], {}, { typeUrl: resourceTypes.Cluster.typeUrl }), () => {})).toThrow(
      /cannot serve type.googleapis.com\/envoy.config.cluster.v3.Cluster/,
    );
  });
});

describe("LinearCache and streams in sync with an earlier view", () => {
  it("compares a stream only on the names changed since the view it was last sent", () => {
    const cache = createLinearCache(resourceTypes.ClusterLoadAssignment, {
      resources: [endpoints("a", 1), endpoints("b", 1), endpoints("c", 1)],
    });
    let first: SotwResponse | undefined;
    cache.watchSotw(request(["a", "b", "c"]), (r) => {
      first = r;
    });
    const synced = first?.view;
    expect(synced).toBeDefined();
    cache.setResource(endpoints("b", 2));
    cache.setResource(endpoints("c", 2));
    // The stream claims to hold the first view; its known map is deliberately empty, so a full
    // evaluation would send a, b and c: only b and c changed since, so only they are examined.
    const got: SotwResponse[] = [];
    cache.watchSotw(request(["a", "b", "c"], {}, { responded: true, ...(synced ? { syncedView: synced } : {}) }), (r) =>
      got.push(r),
    );
    expect(got[0]?.resources.map((r) => r.name).sort()).toEqual(["b", "c"]);
  });
});

describe("MuxCache", () => {
  it("routes each type to its cache", () => {
    const linear = createLinearCache(resourceTypes.ClusterLoadAssignment, { resources: [endpoints("a", 1)] });
    const snapshots = createSnapshotCache();
    snapshots.setSnapshot("n", createSnapshot({ resources: { Cluster: [edsCluster("a")] } }));
    const mux = createMuxCache({ caches: { [EDS]: linear, [resourceTypes.Cluster.typeUrl]: snapshots } });
    const got: string[] = [];
    mux.watchSotw(request(["a"]), (r) => got.push(`${r.typeUrl}:${r.resources.map((x) => x.name)}`));
    mux.watchSotw(request([], {}, { typeUrl: resourceTypes.Cluster.typeUrl, wildcard: true }), (r) =>
      got.push(`${r.typeUrl}:${r.resources.map((x) => x.name)}`),
    );
    expect(got).toEqual([`${EDS}:a`, `${resourceTypes.Cluster.typeUrl}:a`]);
    expect(() => mux.watchSotw(request([], {}, { typeUrl: resourceTypes.Secret.typeUrl }), () => {})).toThrow(
      /MuxCache: no cache/,
    );
  });
});
