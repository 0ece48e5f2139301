// Small builders of Envoy messages every generator uses: ADS config sources, socket addresses, packed
// filter configs, and the HTTP connection manager with Istio's filter order.
import {
  type Address,
  ApiVersion,
  type ConfigSource,
  HttpConnectionManager,
  HttpConnectionManager_ForwardClientCertDetails,
  type HttpFilter,
  type Listener,
  packAny,
  type RouteConfiguration,
  Router,
} from "@xdskit/core";
import { CorsFilter, HTTPFault, TcpProxy } from "@xdskit/core/extensions";

export const TYPE = {
  hcm: "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  router: "envoy.extensions.filters.http.router.v3.Router",
  fault: "envoy.extensions.filters.http.fault.v3.HTTPFault",
  cors: "envoy.extensions.filters.http.cors.v3.Cors",
  corsPolicy: "envoy.extensions.filters.http.cors.v3.CorsPolicy",
  tcpProxy: "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
  tlsInspector: "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
  originalDst: "envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
  httpInspector: "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
  previousHosts: "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
  upstreamTls: "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
  downstreamTls: "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  rawBuffer: "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer",
  httpProtocolOptions: "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
} as const;

/** Filter names as Envoy and istiod write them. */
export const FILTER = {
  hcm: "envoy.filters.network.http_connection_manager",
  tcpProxy: "envoy.filters.network.tcp_proxy",
  router: "envoy.filters.http.router",
  fault: "envoy.filters.http.fault",
  cors: "envoy.filters.http.cors",
  tlsInspector: "envoy.filters.listener.tls_inspector",
  originalDst: "envoy.filters.listener.original_dst",
  httpInspector: "envoy.filters.listener.http_inspector",
  tls: "envoy.transport_sockets.tls",
  rawBuffer: "envoy.transport_sockets.raw_buffer",
} as const;

/** Every dynamic resource comes over the proxy's ADS stream. */
export function adsSource(): ConfigSource {
  return { ads: {}, resourceApiVersion: ApiVersion.V3 };
}

export function socketAddress(address: string, port: number): Address {
  return { socketAddress: { address, portValue: port } };
}

export const seconds = (s: number) => ({ seconds: s, nanos: 0 });

/** Istio's HTTP filter order for the filters xdskit generates: fault, cors, router. */
export function httpFilters(): HttpFilter[] {
  return [
    { name: FILTER.fault, typedConfig: packAny(TYPE.fault, HTTPFault, {}) },
    { name: FILTER.cors, typedConfig: packAny(TYPE.cors, CorsFilter, {}) },
    { name: FILTER.router, typedConfig: packAny(TYPE.router, Router, {}) },
  ];
}

/** An HTTP connection manager filter: routes from RDS (`rds`) or inline (`routeConfig`). */
export function hcmFilter(options: {
  statPrefix: string;
  rds?: string;
  routeConfig?: RouteConfiguration;
  /** Inbound: pass the client certificate's identity to the application in x-forwarded-client-cert. */
  forwardClientCert?: boolean;
}): NonNullable<NonNullable<Listener["filterChains"]>[number]["filters"]>[number] {
  // The same filter for the same options (every namespace's listener on a port has one): encoded once.
  const key =
    options.routeConfig === undefined
      ? `${options.statPrefix}|${options.rds ?? ""}|${options.forwardClientCert ? "x" : ""}`
      : undefined;
  const known = key === undefined ? undefined : hcmFilters.get(key);
  if (known) return known;
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: options.statPrefix,
    ...(options.rds !== undefined
      ? { rds: { configSource: adsSource(), routeConfigName: options.rds } }
      : { routeConfig: options.routeConfig }),
    httpFilters: httpFilters(),
    useRemoteAddress: false,
    normalizePath: true,
    ...(options.forwardClientCert
      ? {
          forwardClientCertDetails: HttpConnectionManager_ForwardClientCertDetails.APPEND_FORWARD,
          setCurrentClientCertDetails: { subject: true, dns: true, uri: true },
        }
      : {}),
  });
  const filter = { name: FILTER.hcm, typedConfig: packAny(TYPE.hcm, HttpConnectionManager, hcm) };
  if (key !== undefined) {
    if (hcmFilters.size >= 4096) hcmFilters.clear(); // bounded: listeners come and go with the configuration
    hcmFilters.set(key, filter);
  }
  return filter;
}
const hcmFilters = new Map<string, NonNullable<NonNullable<Listener["filterChains"]>[number]["filters"]>[number]>();

/** A tcp_proxy filter to one cluster or several weighted ones. */
export function tcpProxyFilter(
  statPrefix: string,
  target: string | ReadonlyArray<{ name: string; weight: number }>,
): NonNullable<NonNullable<Listener["filterChains"]>[number]["filters"]>[number] {
  const proxy = TcpProxy.fromPartial(
    typeof target === "string"
      ? { statPrefix, cluster: target }
      : { statPrefix, weightedClusters: { clusters: target.map((t) => ({ name: t.name, weight: t.weight })) } },
  );
  return { name: FILTER.tcpProxy, typedConfig: packAny(TYPE.tcpProxy, TcpProxy, proxy) };
}
