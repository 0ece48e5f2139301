import { describe, expect, it } from "vitest";
import { edsCluster, endpoints, genericSecret, httpListener, routeTo } from "../../../../test/fixtures/resources.js";
import type { Cluster } from "../gen/envoy/config/cluster/v3/cluster.js";
import { resourceTypes } from "../resource-types.js";
import { checkSnapshotConsistency } from "./consistency.js";
import { prepareResource } from "./prepared-resource.js";
import { changedBetween, changedNames } from "./responses.js";
import { createSnapshot, updateSnapshot } from "./snapshot.js";

describe("createSnapshot", () => {
  it("derives deterministic per-type versions from content", () => {
    const a = createSnapshot({ resources: { Cluster: [edsCluster("a"), edsCluster("b")] } });
    const b = createSnapshot({ resources: { Cluster: [edsCluster("b"), edsCluster("a")] } });
    const c = createSnapshot({
      resources: { Cluster: [edsCluster("a"), edsCluster("b", { connectTimeout: { seconds: 9, nanos: 0 } })] },
    });
    expect(a.version).toBe(b.version);
    expect(a.versionOf(resourceTypes.Cluster.typeUrl)).toBe(b.versionOf(resourceTypes.Cluster.typeUrl));
    expect(c.versionOf(resourceTypes.Cluster.typeUrl)).not.toBe(a.versionOf(resourceTypes.Cluster.typeUrl));
    expect(c.resourcesOf(resourceTypes.Cluster.typeUrl).get("a")?.version).toBe(
      a.resourcesOf(resourceTypes.Cluster.typeUrl).get("a")?.version,
    );
  });

  it("uses a given version for every type, as go-control-plane does", () => {
    const s = createSnapshot({ version: "42", resources: { Cluster: [edsCluster("a")], Listener: [] } });
    expect(s.version).toBe("42");
    expect(s.versionOf(resourceTypes.Cluster.typeUrl)).toBe("42");
    expect(s.versionOf(resourceTypes.Listener.typeUrl)).toBe("42");
    expect(s.versionOf(resourceTypes.Secret.typeUrl)).toBe("");
    // ... but not for its resources, whose versions stay content hashes (a delta client gets only what changed).
    const next = createSnapshot({ version: "43", resources: { Cluster: [edsCluster("a")], Listener: [] } });
    expect(next.resourcesOf(resourceTypes.Cluster.typeUrl).get("a")).toBe(
      s.resourcesOf(resourceTypes.Cluster.typeUrl).get("a"),
    );
    expect(next.resourcesOf(resourceTypes.Cluster.typeUrl).get("a")?.version).toBe(
      createSnapshot({ resources: { Cluster: [edsCluster("a")] } })
        .resourcesOf(resourceTypes.Cluster.typeUrl)
        .get("a")?.version,
    );
  });

  it("shares one encoding between snapshots holding equal content", () => {
    const a = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    const b = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    const pa = a.resourcesOf(resourceTypes.Cluster.typeUrl).get("a");
    const pb = b.resourcesOf(resourceTypes.Cluster.typeUrl).get("a");
    expect(pa).toBe(pb);
    expect(pa?.any.value).toBe(pa?.bytes);
  });

  it("accepts prepared resources and refuses unnamed ones or a kind mismatch", () => {
    const prepared = prepareResource(resourceTypes.Cluster, edsCluster("p"), { ttlMs: 5000 });
    const s = createSnapshot({ resources: { Cluster: [prepared] } });
    expect(s.resourcesOf(resourceTypes.Cluster.typeUrl).get("p")?.ttlMs).toBe(5000);
    expect(() => createSnapshot({ resources: { Cluster: [{ connectTimeout: { seconds: 1, nanos: 0 } }] } })).toThrow(
      /Cluster\[0\] has no name/,
    );
    expect(() => createSnapshot({ resources: { Listener: [prepared as never] } })).toThrow(
      /Listener\[0\] is a prepared Cluster/,
    );
  });
});

describe("updateSnapshot", () => {
  const CDS = resourceTypes.Cluster.typeUrl;
  const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;
  const names = (s: ReturnType<typeof createSnapshot>, typeUrl: string) => [...s.resourcesOf(typeUrl).keys()].sort();

  it("gives what createSnapshot gives for the same content: versions, resources, changed names (random edits)", () => {
    let state = 7;
    const next = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    let clusters = new Map(Array.from({ length: 20 }, (_, i) => [`c${i}`, edsCluster(`c${i}`)]));
    let snapshot = createSnapshot({ resources: { Cluster: [...clusters.values()], ClusterLoadAssignment: [] } });
    for (let round = 0; round < 40; round++) {
      const set: Cluster[] = [];
      const remove: string[] = [];
      const after = new Map(clusters);
      for (let i = 0; i < 25; i++) {
        const name = `c${Math.floor(next() * 25)}`;
        if (set.some((c) => c.name === name) || remove.includes(name)) continue;
        if (next() < 0.3) {
          remove.push(name);
          after.delete(name);
        } else if (next() < 0.7) {
          const cluster = edsCluster(name, { connectTimeout: { seconds: Math.floor(next() * 3), nanos: 0 } });
          set.push(cluster);
          after.set(name, cluster);
        }
      }
      const updated = updateSnapshot(snapshot, { set: { Cluster: set }, remove: { Cluster: remove } });
      const rebuilt = createSnapshot({ resources: { Cluster: [...after.values()], ClusterLoadAssignment: [] } });
      expect(updated.versionOf(CDS)).toBe(rebuilt.versionOf(CDS));
      expect(updated.version).toBe(rebuilt.version);
      expect(names(updated, CDS)).toEqual(names(rebuilt, CDS));
      const before = snapshot.entry(CDS);
      const now = updated.entry(CDS);
      if (before && now) expect([...changedBetween(before, now)].sort()).toEqual(changedNames(before, now).sort());
      // The type the edits never touch is shared, not copied.
      expect(updated.entry(EDS)).toBe(snapshot.entry(EDS));
      snapshot = updated;
      clusters = after;
    }
  });

  it("returns the same snapshot when nothing changes, and adds types it did not hold", () => {
    const s = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    expect(updateSnapshot(s, { set: { Cluster: [edsCluster("a")] }, remove: { Cluster: ["nope"] } })).toBe(s);
    const withEndpoints = updateSnapshot(s, { set: { ClusterLoadAssignment: [endpoints("a", 1)] } });
    expect(names(withEndpoints, EDS)).toEqual(["a"]);
    expect(withEndpoints.entry(CDS)).toBe(s.entry(CDS));
    expect(withEndpoints.versionOf(EDS)).toBe(
      createSnapshot({ resources: { ClusterLoadAssignment: [endpoints("a", 1)] } }).versionOf(EDS),
    );
  });

  it("takes an explicit version for what it touches, as createSnapshot does", () => {
    const s = createSnapshot({ version: "1", resources: { Cluster: [edsCluster("a")], Listener: [] } });
    const u = updateSnapshot(s, { set: { Cluster: [edsCluster("b")] } }, { version: "2" });
    expect(u.version).toBe("2");
    expect(u.versionOf(CDS)).toBe("2");
    expect(u.versionOf(resourceTypes.Listener.typeUrl)).toBe("1");
    // A resource's own version stays its content hash: the explicit version is the types' and the snapshot's.
    expect(u.resourcesOf(CDS).get("b")?.version).toBe(prepareResource(resourceTypes.Cluster, edsCluster("b")).version);
    expect(u.resourcesOf(CDS).get("a")).toBe(s.resourcesOf(CDS).get("a"));
  });

  it("names the kind and the name of what it refuses", () => {
    const s = createSnapshot({ resources: {} });
    expect(() => updateSnapshot(s, { set: { Nope: [] } as never })).toThrow(
      /updateSnapshot: unknown resource kind "Nope"/,
    );
    expect(() => updateSnapshot(s, { set: { Cluster: [edsCluster("a"), edsCluster("a")] } })).toThrow(
      /updateSnapshot: set.Cluster names "a" twice/,
    );
    expect(() => updateSnapshot(s, { set: { Cluster: [edsCluster("a")] }, remove: { Cluster: ["a"] } })).toThrow(
      /updateSnapshot: Cluster "a" is both set and removed/,
    );
    expect(() => updateSnapshot(s, { set: { Cluster: [{}] } })).toThrow(/updateSnapshot: set.Cluster\[0\] has no name/);
  });
});

describe("checkSnapshotConsistency", () => {
  it("finds nothing wrong in a complete snapshot", () => {
    const s = createSnapshot({
      resources: {
        Listener: [httpListener("l", 1, "r")],
        RouteConfiguration: [routeTo("r", "c")],
        Cluster: [edsCluster("c")],
        ClusterLoadAssignment: [endpoints("c", 2)],
        Secret: [genericSecret("s", "x")],
      },
    });
    expect(checkSnapshotConsistency(s)).toEqual([]);
  });

  it("names the object and field of every dangling reference", () => {
    const s = createSnapshot({
      resources: {
        Listener: [httpListener("l", 1, "missing_route")],
        RouteConfiguration: [routeTo("r", "missing_cluster")],
        Cluster: [edsCluster("c")],
        ClusterLoadAssignment: [],
      },
    });
    const found = checkSnapshotConsistency(s).map((d) => `${d.kind}/${d.name} ${d.path}: ${d.message}`);
    expect(found).toEqual([
      'Listener/l filterChains[0].filters[0].typedConfig.rds.routeConfigName: references RouteConfiguration "missing_route", which the snapshot does not contain',
      'Cluster/c edsClusterConfig.serviceName: references ClusterLoadAssignment "c", which the snapshot does not contain',
      'RouteConfiguration/r virtualHosts[0].routes[0].route.cluster: references Cluster "missing_cluster", which the snapshot does not contain',
    ]);
  });
});
