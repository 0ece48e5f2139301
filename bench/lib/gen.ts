// The generated codecs the bench needs beyond what `@xdskit/core` exports by name. They are
// reached by relative path because core's exports map has no "gen" subpath yet; this is the only
// bench file that reaches into packages/core/src/gen, so switching to a subpath later is one edit.

export {
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
} from "../../packages/core/src/gen/envoy/config/cluster/v3/cluster.js";
export {
  ApiConfigSource_ApiType,
  ApiVersion,
} from "../../packages/core/src/gen/envoy/config/core/v3/config_source.js";
export { HealthStatus } from "../../packages/core/src/gen/envoy/config/core/v3/health_check.js";
export { UpstreamTlsContext } from "../../packages/core/src/gen/envoy/extensions/transport_sockets/tls/v3/tls.js";
export { HttpProtocolOptions } from "../../packages/core/src/gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js";
export { AggregatedDiscoveryServiceDefinition } from "../../packages/core/src/gen/envoy/service/discovery/v3/ads.js";
