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
// The route simulator (simulate/): Envoy's listener, filter chain and route matching over any xDS resources.
export {
  expectRoute,
  type RouteAssertion,
  type RouteExpectation,
  RouteExpectationError,
} from "./simulate/expect-route.js";
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
