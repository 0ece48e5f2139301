// Istio's configuration API: the spec messages of Istio's networking and security CRDs, generated from
// the protos of the Go module istio.io/api (see proto/README.md). v1alpha3, v1beta1 and v1 of each kind
// share these messages. Value = codec, type = shape, as for the Envoy messages.
// Reached as "@xdskit/core/istio".

export * from "./gen/networking/v1alpha3/destination_rule.js";
export * from "./gen/networking/v1alpha3/gateway.js";
export * from "./gen/networking/v1alpha3/service_entry.js";
export * from "./gen/networking/v1alpha3/sidecar.js";
export * from "./gen/networking/v1alpha3/virtual_service.js";
export * from "./gen/networking/v1alpha3/workload_entry.js";
export * from "./gen/networking/v1alpha3/workload_group.js";
export * from "./gen/security/v1beta1/authorization_policy.js";
export * from "./gen/security/v1beta1/peer_authentication.js";
export * from "./gen/security/v1beta1/request_authentication.js";
// The security kinds' selector; the Sidecar has a WorkloadSelector of its own (exported above).
export {
  PolicyTargetReference,
  WorkloadSelector as PolicyWorkloadSelector,
} from "./gen/type/v1beta1/selector.js";
