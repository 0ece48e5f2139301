// @xdskit/translate: Istio networking config (and Kubernetes services) to Envoy xDS, validation, simulation.

export { parseGoDuration } from "./config/decode.js";
export { type ConfigDiagnostic, formatConfigDiagnostic } from "./config/diagnostics.js";
export { type KindInfo, kindInfoOf, kindInfos, parseApiVersion } from "./config/kinds.js";
export type * from "./config/kubernetes.js";
export { type ConfigInput, type LoadResult, loadConfig } from "./config/loader.js";
export {
  type AnyConfigObject,
  type ConfigKey,
  type ConfigKind,
  type ConfigObject,
  configKey,
  isKind,
  type ObjectMeta,
  type ObjectSource,
  type SourcePosition,
  type SpecByKind,
} from "./config/model.js";
// The route simulator (simulate/): Envoy's listener, filter chain and route matching over any xDS resources.
export {
  type ConfigChange,
  type ConfigChangeResult,
  type ConfigChangeStatus,
  type ConfigEvent,
  type ConfigObjectStatus,
  type ConfigSnapshotView,
  type ConfigStore,
  type ConfigStoreOptions,
  type ConfigUpdateResult,
  createConfigStore,
} from "./config/store.js";
export { SYSTEM_ROOT_CERTS_FILE } from "./generate/clusters.js";
export { generate } from "./generate/generate.js";
export {
  type MtlsMode,
  SDS_CERTIFICATE,
  SDS_ROOT_CA,
  serviceMtlsMode,
  spiffeId,
  TLS_MODE_LABEL,
  workloadMtlsMode,
} from "./generate/mtls.js";
export { type MeshProxy, type ProxyOfOptions, type ProxyType, proxyOf } from "./generate/proxy.js";
export { PROXY_RESOURCE_KINDS, type ProxyResources } from "./generate/resources.js";
export { type RouteOrigin, routeOrigin } from "./generate/routes.js";
export {
  buildMesh,
  type MergedDestinationRule,
  type Mesh,
  type MeshOptions,
  type ResolvedMeshOptions,
  type SidecarEgress,
  type SidecarIngress,
  type SidecarScope,
  type VirtualServiceEntry,
} from "./index/mesh.js";
export { buildRegistry, type RegistryOptions } from "./registry/build.js";
export type {
  MeshService,
  PortProtocol,
  Registry,
  Resolution,
  ServiceEndpoint,
  ServicePort,
  Workload,
} from "./registry/model.js";
export {
  expectRoute,
  ROUTE_EXPECTATION_FIELDS,
  type RouteAssertion,
  type RouteExpectation,
  RouteExpectationError,
} from "./simulate/expect-route.js";
export { type HeaderMatcherConfig, matchHeader } from "./simulate/matchers.js";
export { compileRe2, type Re2Pattern, re2FullMatch, re2ReplaceAll, translateRe2 } from "./simulate/re2.js";
export type { SimulationRequest } from "./simulate/request.js";
export {
  resourcesFromConfigDump,
  type SimulationInput,
  type SimulationResources,
  simulationResourcesOf,
} from "./simulate/resources.js";
export type {
  ForwardAction,
  SimulatedAction,
  SimulationResult,
  TraceLine,
  WeightedClusterShare,
} from "./simulate/result.js";
export { describeAction, explain, simulate } from "./simulate/simulate.js";
export {
  createTranslator,
  type ProxyResourceKind,
  type ProxyUpdate,
  type ResourceChanges,
  type TranslationUpdate,
  type Translator,
  type TranslatorChange,
  type TranslatorOptions,
} from "./translator.js";
export {
  analyzeConfig,
  CONFLICTING_MESH_GATEWAY_VIRTUAL_SERVICE_HOSTS,
  CONFLICTING_SIDECAR_WORKLOAD_SELECTORS,
  DESTINATION_RULE_SUBSET_NOT_SELECT_PODS,
  EXTERNAL_NAME_SERVICE_TYPE_INVALID_PORT_NAME,
  MULTIPLE_SIDECARS_WITHOUT_WORKLOAD_SELECTORS,
  PORT_NAME_IS_NOT_UNDER_NAMING_CONVENTION,
  REFERENCED_RESOURCE_NOT_FOUND,
  UNKNOWN_DESTINATION_RULE_HOST,
  VIRTUAL_SERVICE_DESTINATION_PORT_SELECTOR_REQUIRED,
  VIRTUAL_SERVICE_HOST_NOT_FOUND_IN_GATEWAY,
} from "./validate/analyze.js";
export { VIRTUAL_SERVICE_INEFFECTIVE_MATCH, VIRTUAL_SERVICE_UNREACHABLE_RULE } from "./validate/unreachable-rules.js";
export {
  CRD_SCHEMA_ERROR,
  SCHEMA_VALIDATION_ERROR,
  SCHEMA_WARNING,
  validateConfig,
  validateObject,
} from "./validate/validate-config.js";
