// @xdskit/translate: Istio networking config (and Kubernetes services) to Envoy xDS, validation, simulation.

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
export { generate } from "./generate/generate.js";
export { type MeshProxy, type ProxyOfOptions, type ProxyType, proxyOf } from "./generate/proxy.js";
export { PROXY_RESOURCE_KINDS, type ProxyResources } from "./generate/resources.js";
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
  type ConfigChange,
  createTranslator,
  type ProxyResourceKind,
  type ProxyUpdate,
  type ResourceChanges,
  type TranslationUpdate,
  type Translator,
  type TranslatorOptions,
} from "./translator.js";
