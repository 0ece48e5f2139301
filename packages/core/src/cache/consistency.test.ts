import { describe, expect, it } from "vitest";
import { endpoints } from "../../../../test/fixtures/resources.js";
import { formatDiagnostic } from "../diagnostics.js";
import { checkSnapshotConsistency } from "./consistency.js";
import { createSnapshot } from "./snapshot.js";

describe("checkSnapshotConsistency with grpcClients", () => {
  const withLocality = {
    clusterName: "ok",
    endpoints: [
      {
        locality: { region: "eu" },
        loadBalancingWeight: 1,
        lbEndpoints: endpoints("ok", 1).endpoints?.[0]?.lbEndpoints ?? [],
      },
    ],
  };
  const noWeight = {
    clusterName: "no-weight",
    endpoints: [withLocality.endpoints[0] ?? {}, { locality: { region: "us" }, lbEndpoints: [] }],
  };
  const snapshot = createSnapshot({
    resources: { ClusterLoadAssignment: [endpoints("no-locality", 1), withLocality, noWeight] },
  });

  it("warns about a locality-less endpoint group and a locality without weight, naming the field", () => {
    expect(checkSnapshotConsistency(snapshot, { grpcClients: true }).map(formatDiagnostic)).toEqual([
      'warning ClusterLoadAssignment "no-locality" at endpoints[0].locality: has no locality: gRPC clients reject the whole ClusterLoadAssignment (Envoy accepts it); set one, e.g. { region: "default" }',
      'warning ClusterLoadAssignment "no-weight" at endpoints[1].loadBalancingWeight: has no load balancing weight: gRPC clients ignore this locality\'s endpoints (Envoy uses them); set one, e.g. 1',
    ]);
  });

  it("stays silent about localities when the snapshot is for Envoy only (the default)", () => {
    expect(checkSnapshotConsistency(snapshot)).toEqual([]);
    expect(checkSnapshotConsistency(snapshot, { grpcClients: false })).toEqual([]);
  });
});
