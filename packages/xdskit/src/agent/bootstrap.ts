// Envoy's bootstrap for a workload, in Istio's conventions: the node id and metadata istiod reads to know which
// workload a proxy is, and an ADS connection to the control plane (SotW or delta).
import net from "node:net";
import path from "node:path";
import { XdsKitError } from "@xdskit/core";

export interface WorkloadBootstrapOptions {
  /** "sidecar" for a workload's proxy, "router" for a gateway. Default: "sidecar". */
  readonly type?: "sidecar" | "router";
  /** The workload's IP (its WorkloadEntry address), e.g. "127.0.0.2". */
  readonly ip: string;
  /** The workload's (pod) name, e.g. "productpage-v1". */
  readonly name: string;
  /** Default: "default". */
  readonly namespace?: string;
  /** Default: "default". */
  readonly serviceAccount?: string;
  /** The workload's labels (app, version...), matched by Services, subsets and Sidecars. */
  readonly labels?: Readonly<Record<string, string>>;
  /** The control plane's xDS address, "host:port". Default: "127.0.0.1:15010". */
  readonly discoveryAddress?: string;
  /** Use the delta (incremental) xDS protocol instead of state-of-the-world. Default: false. */
  readonly delta?: boolean;
  /** Envoy's admin port on 127.0.0.1; 0 = pick one. Default: 15000. */
  readonly adminPort?: number;
  /** Kubernetes cluster domain. Default: "cluster.local". */
  readonly clusterDomain?: string;
  /** Metadata CLUSTER_ID. Default: "Kubernetes". */
  readonly clusterId?: string;
  /** Metadata INTERCEPTION_MODE: "NONE" (no iptables; listeners bind explicitly) or "REDIRECT". Default: "NONE". */
  readonly interceptionMode?: "NONE" | "REDIRECT";
  /** More node metadata (strings, or JSON values). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /**
   * Connect over mTLS (the control plane's port 15012) with the workload certificate files in `certificateDir`
   * (cert-chain.pem, key.pem, root-cert.pem, as `xdskit ca issue` and writeWorkloadFiles write them). Envoy
   * re-reads them when a file is renamed into the directory. Default: plaintext.
   */
  readonly xdsTls?: {
    readonly certificateDir: string;
    /** The SPIFFE id the control plane's certificate must carry. Default: spiffe://cluster.local/ns/istio-system/sa/istiod. */
    readonly serverIdentity?: string;
  };
}

/** The SDS files (in the certificate directory) through which Envoy reads and watches its xDS client certificate. */
export const XDS_TLS_SECRET_FILES = {
  certificate: "xds-client-certificate.json",
  roots: "xds-client-roots.json",
} as const;

/**
 * The contents of the two SDS files {@link workloadBootstrap} points at with `xdsTls`: the certificate and key, and
 * the roots, by file name in `certificateDir`. Pure; the agent writes them before starting Envoy.
 */
export function xdsTlsSecretFiles(certificateDir: string): Record<string, string> {
  const file = (name: string) => ({ filename: path.join(certificateDir, name) });
  const secret = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
  return {
    [XDS_TLS_SECRET_FILES.certificate]: JSON.stringify({
      resources: [
        {
          "@type": secret,
          name: "xds-client-certificate",
          tls_certificate: {
            certificate_chain: file("cert-chain.pem"),
            private_key: file("key.pem"),
            watched_directory: { path: certificateDir },
          },
        },
      ],
    }),
    [XDS_TLS_SECRET_FILES.roots]: JSON.stringify({
      resources: [
        {
          "@type": secret,
          name: "xds-client-roots",
          validation_context: { trusted_ca: file("root-cert.pem"), watched_directory: { path: certificateDir } },
        },
      ],
    }),
  };
}

function xdsTransportSocket(tls: NonNullable<WorkloadBootstrapOptions["xdsTls"]>): Record<string, unknown> {
  const sdsFile = (name: string) => ({
    path_config_source: {
      path: path.join(tls.certificateDir, name),
      watched_directory: { path: tls.certificateDir },
    },
    resource_api_version: "V3",
  });
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      common_tls_context: {
        tls_certificate_sds_secret_configs: [
          { name: "xds-client-certificate", sds_config: sdsFile(XDS_TLS_SECRET_FILES.certificate) },
        ],
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: [
              {
                san_type: "URI",
                matcher: { exact: tls.serverIdentity ?? "spiffe://cluster.local/ns/istio-system/sa/istiod" },
              },
            ],
          },
          validation_context_sds_secret_config: {
            name: "xds-client-roots",
            sds_config: sdsFile(XDS_TLS_SECRET_FILES.roots),
          },
        },
      },
    },
  };
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** `sidecar~10.0.0.1~productpage-v1.default~default.svc.cluster.local`: the node id istiod parses. */
export function workloadNodeId(options: WorkloadBootstrapOptions): string {
  const namespace = options.namespace ?? "default";
  return `${options.type ?? "sidecar"}~${options.ip}~${options.name}.${namespace}~${namespace}.svc.${options.clusterDomain ?? "cluster.local"}`;
}

function check(options: WorkloadBootstrapOptions): void {
  if (options === null || typeof options !== "object")
    throw new XdsKitError("INVALID_ARGUMENT", "bootstrap options must be an object");
  if (typeof options.ip !== "string" || net.isIP(options.ip) === 0)
    throw new XdsKitError("INVALID_ARGUMENT", `bootstrap: ip must be an IP address, got ${JSON.stringify(options.ip)}`);
  if (typeof options.name !== "string" || !NAME.test(options.name))
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `bootstrap: name must be a DNS-style name like productpage-v1, got ${JSON.stringify(options.name)}`,
    );
  if (options.namespace !== undefined && !NAME.test(options.namespace))
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `bootstrap: namespace must be a DNS-style name, got ${JSON.stringify(options.namespace)}`,
    );
  if (options.type !== undefined && options.type !== "sidecar" && options.type !== "router")
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `bootstrap: type must be "sidecar" or "router", got ${JSON.stringify(options.type)}`,
    );
  const port = options.adminPort;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535))
    throw new XdsKitError("INVALID_ARGUMENT", `bootstrap: adminPort must be 0..65535, got ${port}`);
  splitHostPort(options.discoveryAddress ?? "127.0.0.1:15010");
  if (options.xdsTls !== undefined) {
    const dir = options.xdsTls?.certificateDir;
    if (typeof dir !== "string" || !path.isAbsolute(dir))
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `bootstrap: xdsTls.certificateDir must be an absolute directory path, got ${JSON.stringify(dir)}`,
      );
  }
}

/** "host:port" or "[v6]:port" → parts; throws naming the option when malformed. */
export function splitHostPort(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new XdsKitError("INVALID_ARGUMENT", `discovery address must be host:port, got ${JSON.stringify(address)}`);
  return { host: match[1], port };
}

/** The bootstrap (Envoy's proto3 JSON) for one workload's proxy. Pure. */
export function workloadBootstrap(options: WorkloadBootstrapOptions): Record<string, unknown> {
  check(options);
  const namespace = options.namespace ?? "default";
  const labels = options.labels ?? {};
  const xds = splitHostPort(options.discoveryAddress ?? "127.0.0.1:15010");
  const configSource = { ads: {}, resource_api_version: "V3", initial_fetch_timeout: "0s" };
  return {
    node: {
      id: workloadNodeId(options),
      cluster: `${labels.app ?? labels["service.istio.io/canonical-name"] ?? options.name}.${namespace}`,
      metadata: {
        NAMESPACE: namespace,
        NAME: options.name,
        WORKLOAD_NAME: labels["service.istio.io/workload-name"] ?? options.name,
        SERVICE_ACCOUNT: options.serviceAccount ?? "default",
        LABELS: labels,
        INSTANCE_IPS: options.ip,
        CLUSTER_ID: options.clusterId ?? "Kubernetes",
        INTERCEPTION_MODE: options.interceptionMode ?? "NONE",
        ...options.metadata,
      },
    },
    admin: {
      address: { socket_address: { address: "127.0.0.1", port_value: options.adminPort ?? 15000 } },
    },
    dynamic_resources: {
      ads_config: {
        api_type: options.delta ? "DELTA_GRPC" : "GRPC",
        transport_api_version: "V3",
        set_node_on_first_message_only: true,
        grpc_services: [{ envoy_grpc: { cluster_name: "xds-grpc" } }],
      },
      cds_config: configSource,
      lds_config: configSource,
    },
    static_resources: {
      clusters: [
        {
          name: "xds-grpc",
          type: net.isIP(xds.host) ? "STATIC" : "STRICT_DNS",
          connect_timeout: "1s",
          ...(options.xdsTls ? { transport_socket: xdsTransportSocket(options.xdsTls) } : {}),
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: "xds-grpc",
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: xds.host, port_value: xds.port } } } },
                ],
              },
            ],
          },
        },
      ],
    },
  };
}

/**
 * The bootstrap file of a proxyless gRPC client (GRPC_XDS_BOOTSTRAP) for the same workload: the control plane as
 * its xDS server (insecure channel, xDS v3) and the node in Istio's conventions. Pure.
 */
export function grpcBootstrap(options: WorkloadBootstrapOptions): Record<string, unknown> {
  check(options);
  const envoy = workloadBootstrap(options) as { node: Record<string, unknown> };
  return {
    xds_servers: [
      {
        server_uri: options.discoveryAddress ?? "127.0.0.1:15010",
        channel_creds: [{ type: "insecure" }],
        server_features: ["xds_v3"],
      },
    ],
    node: envoy.node,
    server_listener_resource_name_template: "xds.istio.io/grpc/lds/inbound/%s",
  };
}
