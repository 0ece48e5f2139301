import { describe, expect, it } from "vitest";
import { edsCluster, endpoints, genericSecret, httpListener, routeTo } from "../../../../test/fixtures/resources.js";
import { resourceTypes } from "../resource-types.js";
import { checkSnapshotConsistency } from "./consistency.js";
import { prepareResource } from "./prepared-resource.js";
import { createSnapshot } from "./snapshot.js";

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
