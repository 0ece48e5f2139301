// Builders of the Envoy config the real-client tests need, all as generated (ts-proto) messages, so that
// every bootstrap and xDS resource a test sends to Envoy or grpc-js-xds goes through @xdskit/core's types.

import type { Address, Any, HttpFilter } from "@xdskit/core";
import {
  ApiConfigSource_ApiType,
  ApiVersion,
  Bootstrap,
  type Cluster,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
  type ClusterLoadAssignment,
  type ConfigSource,
  HttpConnectionManager,
  HttpProtocolOptions,
  type JsonValue,
  type Listener,
  messageToJson,
  packAny,
  type RouteConfiguration,
  Router,
} from "@xdskit/core";

export const HCM_TYPE = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export const ROUTER_TYPE = "envoy.extensions.filters.http.router.v3.Router";
export const HTTP_PROTOCOL_OPTIONS_TYPE = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

export interface Endpoint {
  host: string;
  port: number;
  /** load_balancing_weight of the endpoint. */
  weight?: number;
}

export function socketAddress(host: string, port: number): Address {
  return { socketAddress: { address: host, portValue: port } };
}

/** A config source that says "over the ADS stream", xDS v3. */
export function adsConfigSource(): ConfigSource {
  return { ads: {}, resourceApiVersion: ApiVersion.V3 };
}

/** The router HTTP filter, last in every HTTP filter chain. */
export function routerFilter(): HttpFilter {
  return { name: "envoy.filters.http.router", typedConfig: packAny(ROUTER_TYPE, Router, Router.fromPartial({})) };
}

/** An HttpConnectionManager packed in Any: with an inline route config, or RDS over ADS for `rdsName`. */
export function httpConnectionManager(options: {
  statPrefix?: string;
  routeConfig?: RouteConfiguration;
  rdsName?: string;
}): Any {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: options.statPrefix ?? "ingress_http",
    ...(options.routeConfig ? { routeConfig: options.routeConfig } : {}),
    ...(options.rdsName ? { rds: { configSource: adsConfigSource(), routeConfigName: options.rdsName } } : {}),
    httpFilters: [routerFilter()],
  });
  return packAny(HCM_TYPE, HttpConnectionManager, hcm);
}

/** A TCP listener (default 127.0.0.1:0) whose only filter is an HttpConnectionManager. */
export function httpListener(options: {
  name: string;
  host?: string;
  port?: number;
  routeConfig?: RouteConfiguration;
  rdsName?: string;
}): Listener {
  return {
    name: options.name,
    address: socketAddress(options.host ?? "127.0.0.1", options.port ?? 0),
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: httpConnectionManager({
              statPrefix: options.name,
              ...(options.routeConfig ? { routeConfig: options.routeConfig } : {}),
              ...(options.rdsName ? { rdsName: options.rdsName } : {}),
            }),
          },
        ],
      },
    ],
  };
}

/** A listener for proxyless gRPC: `api_listener` holding an HttpConnectionManager (gRFC A27). */
export function apiListener(options: { name: string; routeConfig?: RouteConfiguration; rdsName?: string }): Listener {
  return {
    name: options.name,
    apiListener: {
      apiListener: httpConnectionManager({
        statPrefix: options.name,
        ...(options.routeConfig ? { routeConfig: options.routeConfig } : {}),
        ...(options.rdsName ? { rdsName: options.rdsName } : {}),
      }),
    },
  };
}

/** `typed_extension_protocol_options` making Envoy speak HTTP/2 (gRPC) to a cluster. */
export function http2ProtocolOptions(): { [key: string]: Any } {
  return {
    [HTTP_PROTOCOL_OPTIONS_TYPE]: packAny(
      HTTP_PROTOCOL_OPTIONS_TYPE,
      HttpProtocolOptions,
      HttpProtocolOptions.fromPartial({ explicitHttpConfig: { http2ProtocolOptions: {} } }),
    ),
  };
}

export function loadAssignment(clusterName: string, endpoints: readonly Endpoint[]): ClusterLoadAssignment {
  return {
    clusterName,
    endpoints: [
      {
        // gRPC ignores localities without a weight; Envoy accepts one.
        locality: { region: "test", zone: "test-a" },
        loadBalancingWeight: 1,
        lbEndpoints: endpoints.map((e) => ({
          endpoint: { address: socketAddress(e.host, e.port) },
          ...(e.weight !== undefined ? { loadBalancingWeight: e.weight } : {}),
        })),
      },
    ],
  };
}

/** A STATIC cluster with inline endpoints. */
export function staticCluster(
  name: string,
  endpoints: readonly Endpoint[],
  options: { http2?: boolean } = {},
): Cluster {
  return {
    name,
    type: Cluster_DiscoveryType.STATIC,
    connectTimeout: { seconds: 1, nanos: 0 },
    loadAssignment: loadAssignment(name, endpoints),
    ...(options.http2 ? { typedExtensionProtocolOptions: http2ProtocolOptions() } : {}),
  };
}

/** An EDS cluster whose endpoints come over ADS (ClusterLoadAssignment named `name`). */
export function edsCluster(name: string, options: { http2?: boolean } = {}): Cluster {
  return {
    name,
    type: Cluster_DiscoveryType.EDS,
    connectTimeout: { seconds: 1, nanos: 0 },
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
    edsClusterConfig: { edsConfig: adsConfigSource() },
    ...(options.http2 ? { typedExtensionProtocolOptions: http2ProtocolOptions() } : {}),
  };
}

/**
 * An Envoy bootstrap that gets LDS and CDS (and through them RDS and EDS) over one ADS stream to the
 * gRPC xDS server at adsHost:adsPort (static cluster "xds_cluster", HTTP/2).
 */
export function adsBootstrap(options: {
  adsPort: number;
  adsHost?: string;
  nodeId: string;
  nodeCluster?: string;
  /** Static listeners/clusters alongside the dynamic ones. */
  staticListeners?: Listener[];
  staticClusters?: Cluster[];
}): Bootstrap {
  return Bootstrap.fromPartial({
    node: { id: options.nodeId, cluster: options.nodeCluster ?? "xdskit-test" },
    dynamicResources: {
      adsConfig: {
        apiType: ApiConfigSource_ApiType.GRPC,
        transportApiVersion: ApiVersion.V3,
        grpcServices: [{ envoyGrpc: { clusterName: "xds_cluster" } }],
      },
      ldsConfig: adsConfigSource(),
      cdsConfig: adsConfigSource(),
    },
    staticResources: {
      listeners: options.staticListeners ?? [],
      clusters: [
        staticCluster("xds_cluster", [{ host: options.adsHost ?? "127.0.0.1", port: options.adsPort }], {
          http2: true,
        }),
        ...(options.staticClusters ?? []),
      ],
    },
  });
}

/** A Bootstrap message as the proto3 JSON Envoy reads (`-c bootstrap.json`). */
export function bootstrapToJson(bootstrap: Bootstrap): { [key: string]: JsonValue } {
  return messageToJson("envoy.config.bootstrap.v3.Bootstrap", Bootstrap, bootstrap) as { [key: string]: JsonValue };
}
