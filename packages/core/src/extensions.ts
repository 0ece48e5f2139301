// Envoy extension messages that control planes put inside `typed_config` (filters, listener filters, retry
// predicates, load-balancing policies). Value = codec, type = shape. Reached as "@xdskit/core/extensions".
// The names are Envoy's, with the filter's name where two filters use the same message name.

// Enums of the core messages those configs and generated routes use.
export { HeaderValueOption_HeaderAppendAction, TrafficDirection } from "./gen/envoy/config/core/v3/base.js";
export { RedirectAction_RedirectResponseCode } from "./gen/envoy/config/route/v3/route_components.js";
export { FaultDelay, FaultDelay_HeaderDelay } from "./gen/envoy/extensions/filters/common/fault/v3/fault.js";
export { Cors as CorsFilter, CorsPolicy as CorsPerRoute } from "./gen/envoy/extensions/filters/http/cors/v3/cors.js";
export { FaultAbort, FaultAbort_HeaderAbort, HTTPFault } from "./gen/envoy/extensions/filters/http/fault/v3/fault.js";
export { HttpInspector } from "./gen/envoy/extensions/filters/listener/http_inspector/v3/http_inspector.js";
export { OriginalDst } from "./gen/envoy/extensions/filters/listener/original_dst/v3/original_dst.js";
export { TlsInspector } from "./gen/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.js";
export {
  TcpProxy,
  TcpProxy_WeightedCluster,
  TcpProxy_WeightedCluster_ClusterWeight,
} from "./gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js";
export { PreviousHostsPredicate } from "./gen/envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.js";
export { RawBuffer } from "./gen/envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.js";
export {
  SubjectAltNameMatcher_SanType,
  TlsCertificate,
  TlsParameters_TlsProtocol,
} from "./gen/envoy/extensions/transport_sockets/tls/v3/common.js";
export { SdsSecretConfig } from "./gen/envoy/extensions/transport_sockets/tls/v3/secret.js";
export { CommonTlsContext } from "./gen/envoy/extensions/transport_sockets/tls/v3/tls.js";
export { FractionalPercent_DenominatorType } from "./gen/envoy/type/v3/percent.js";
