// The generated message types users handle most, re-exported by name (value = codec, type = shape).
// Everything else generated is reachable through the "@xdskit/core/gen/..." subpaths.

export { Bootstrap } from "./gen/envoy/config/bootstrap/v3/bootstrap.js";
export {
  Cluster,
  Cluster_DiscoveryType,
  Cluster_DnsLookupFamily,
  Cluster_LbPolicy,
} from "./gen/envoy/config/cluster/v3/cluster.js";
export { Address } from "./gen/envoy/config/core/v3/address.js";
export { Node, TransportSocket } from "./gen/envoy/config/core/v3/base.js";
export { ApiConfigSource_ApiType, ApiVersion, ConfigSource } from "./gen/envoy/config/core/v3/config_source.js";
export { TypedExtensionConfig } from "./gen/envoy/config/core/v3/extension.js";
export { HealthStatus } from "./gen/envoy/config/core/v3/health_check.js";
export { ClusterLoadAssignment } from "./gen/envoy/config/endpoint/v3/endpoint.js";
export { LbEndpoint } from "./gen/envoy/config/endpoint/v3/endpoint_components.js";
export { Listener } from "./gen/envoy/config/listener/v3/listener.js";
export { RouteConfiguration } from "./gen/envoy/config/route/v3/route.js";
export { VirtualHost } from "./gen/envoy/config/route/v3/route_components.js";
export { ScopedRouteConfiguration } from "./gen/envoy/config/route/v3/scoped_route.js";
export { Router } from "./gen/envoy/extensions/filters/http/router/v3/router.js";
export {
  HttpConnectionManager,
  HttpConnectionManager_CodecType,
  HttpConnectionManager_ForwardClientCertDetails,
  HttpFilter,
} from "./gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
export { Secret } from "./gen/envoy/extensions/transport_sockets/tls/v3/secret.js";
export { DownstreamTlsContext, UpstreamTlsContext } from "./gen/envoy/extensions/transport_sockets/tls/v3/tls.js";
export { HttpProtocolOptions } from "./gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js";
export {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
  Resource,
} from "./gen/envoy/service/discovery/v3/discovery.js";
export { Runtime } from "./gen/envoy/service/runtime/v3/rtds.js";
export { Any } from "./gen/google/protobuf/any.js";
