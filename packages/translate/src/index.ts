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
export {
  CRD_SCHEMA_ERROR,
  SCHEMA_VALIDATION_ERROR,
  SCHEMA_WARNING,
  validateConfig,
} from "./validate/validate-config.js";
