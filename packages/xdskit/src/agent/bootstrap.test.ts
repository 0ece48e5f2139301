import { XdsKitError } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import { grpcBootstrap, splitHostPort, workloadBootstrap, workloadNodeId } from "./bootstrap.js";

/** The value at a dotted path ("a.b.0.c") of parsed JSON. */
function at(value: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);
}

const reviews = {
  ip: "127.0.0.3",
  name: "reviews-v2",
  namespace: "bookinfo",
  serviceAccount: "bookinfo-reviews",
  labels: { app: "reviews", version: "v2" },
  discoveryAddress: "127.0.0.1:15010",
};

describe("workloadBootstrap", () => {
  it("names the node in Istio's convention and carries the workload's metadata", () => {
    const b = workloadBootstrap(reviews) as {
      node: { id: string; cluster: string; metadata: Record<string, unknown> };
    };
    expect(b.node.id).toBe("sidecar~127.0.0.3~reviews-v2.bookinfo~bookinfo.svc.cluster.local");
    expect(workloadNodeId(reviews)).toBe(b.node.id);
    expect(b.node.cluster).toBe("reviews.bookinfo");
    expect(b.node.metadata).toMatchObject({
      NAMESPACE: "bookinfo",
      NAME: "reviews-v2",
      WORKLOAD_NAME: "reviews-v2",
      SERVICE_ACCOUNT: "bookinfo-reviews",
      LABELS: { app: "reviews", version: "v2" },
      INSTANCE_IPS: "127.0.0.3",
      CLUSTER_ID: "Kubernetes",
      INTERCEPTION_MODE: "NONE",
    });
    expect(workloadNodeId({ ...reviews, type: "router", namespace: undefined, clusterDomain: "mesh.local" })).toBe(
      "router~127.0.0.3~reviews-v2.default~default.svc.mesh.local",
    );
  });

  it("connects ADS to the control plane, SotW by default and delta on request", () => {
    const sotw = workloadBootstrap(reviews);
    expect(at(sotw, "dynamic_resources.ads_config.api_type")).toBe("GRPC");
    expect(at(sotw, "dynamic_resources.cds_config")).toEqual({
      ads: {},
      resource_api_version: "V3",
      initial_fetch_timeout: "0s",
    });
    const xds = at(sotw, "static_resources.clusters.0");
    expect(at(xds, "name")).toBe("xds-grpc");
    expect(at(xds, "type")).toBe("STATIC");
    expect(at(xds, "load_assignment.endpoints.0.lb_endpoints.0.endpoint.address.socket_address")).toEqual({
      address: "127.0.0.1",
      port_value: 15010,
    });
    expect(at(sotw, "admin.address.socket_address.port_value")).toBe(15000);
    const delta = workloadBootstrap({ ...reviews, delta: true, discoveryAddress: "istiod.local:15012" });
    expect(at(delta, "dynamic_resources.ads_config.api_type")).toBe("DELTA_GRPC");
    expect(at(delta, "static_resources.clusters.0.type")).toBe("STRICT_DNS");
  });

  it("rejects bad workload options naming the field", () => {
    const bad = (patch: Record<string, unknown>) => () => workloadBootstrap({ ...reviews, ...patch } as never);
    expect(bad({ ip: "localhost" })).toThrow(XdsKitError);
    expect(bad({ ip: "localhost" })).toThrow('bootstrap: ip must be an IP address, got "localhost"');
    expect(bad({ name: "Reviews_V2" })).toThrow("bootstrap: name must be a DNS-style name");
    expect(bad({ adminPort: 70000 })).toThrow("adminPort must be 0..65535");
    expect(bad({ type: "gateway" })).toThrow('type must be "sidecar" or "router"');
    expect(bad({ discoveryAddress: "127.0.0.1" })).toThrow('discovery address must be host:port, got "127.0.0.1"');
    expect(splitHostPort("[::1]:15010")).toEqual({ host: "::1", port: 15010 });
  });
});

describe("grpcBootstrap", () => {
  it("points a proxyless gRPC client at the control plane with the same node", () => {
    const b = grpcBootstrap(reviews);
    expect(at(b, "xds_servers.0")).toEqual({
      server_uri: "127.0.0.1:15010",
      channel_creds: [{ type: "insecure" }],
      server_features: ["xds_v3"],
    });
    expect(at(b, "node.id")).toBe(workloadNodeId(reviews));
    expect(at(b, "node.metadata.SERVICE_ACCOUNT")).toBe("bookinfo-reviews");
  });
});
