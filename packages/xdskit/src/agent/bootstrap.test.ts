import { XdsKitError } from "@xdskit/core";
import { describe, expect, it } from "vitest";
import {
  grpcBootstrap,
  splitHostPort,
  workloadBootstrap,
  workloadNodeId,
  XDS_TLS_SECRET_FILES,
  xdsTlsSecretFiles,
} from "./bootstrap.js";

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

  it("with xdsTls, connects over mTLS with the certificate files of a directory, through watched SDS files", () => {
    expect(at(workloadBootstrap(reviews), "static_resources.clusters.0.transport_socket")).toBeUndefined();
    const b = workloadBootstrap({
      ...reviews,
      discoveryAddress: "127.0.0.1:15012",
      xdsTls: { certificateDir: "/certs" },
    });
    const tls = at(b, "static_resources.clusters.0.transport_socket.typed_config.common_tls_context");
    expect(at(tls, "tls_certificate_sds_secret_configs.0")).toEqual({
      name: "xds-client-certificate",
      sds_config: {
        path_config_source: { path: "/certs/xds-client-certificate.json", watched_directory: { path: "/certs" } },
        resource_api_version: "V3",
      },
    });
    expect(at(tls, "combined_validation_context.default_validation_context.match_typed_subject_alt_names.0")).toEqual({
      san_type: "URI",
      matcher: { exact: "spiffe://cluster.local/ns/istio-system/sa/istiod" },
    });
    expect(at(tls, "combined_validation_context.validation_context_sds_secret_config.name")).toBe("xds-client-roots");
    const files = xdsTlsSecretFiles("/certs");
    expect(Object.keys(files).sort()).toEqual(Object.values(XDS_TLS_SECRET_FILES).sort());
    expect(at(JSON.parse(files[XDS_TLS_SECRET_FILES.certificate] ?? ""), "resources.0.tls_certificate")).toEqual({
      certificate_chain: { filename: "/certs/cert-chain.pem" },
      private_key: { filename: "/certs/key.pem" },
      watched_directory: { path: "/certs" },
    });
    expect(
      at(JSON.parse(files[XDS_TLS_SECRET_FILES.roots] ?? ""), "resources.0.validation_context.trusted_ca"),
    ).toEqual({
      filename: "/certs/root-cert.pem",
    });
    expect(() => workloadBootstrap({ ...reviews, xdsTls: { certificateDir: "certs" } })).toThrow(
      'bootstrap: xdsTls.certificateDir must be an absolute directory path, got "certs"',
    );
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
