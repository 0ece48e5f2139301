// Envoy's bootstrap for a workload, in Istio's conventions: the node id and metadata istiod reads to know which
// workload a proxy is, and an ADS connection to the control plane (SotW or delta).
import net from "node:net";
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
