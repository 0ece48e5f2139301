// xdskit: the umbrella package. It re-exports the SDK layers and adds what wires them to the world: config
// sources, the sidecar agent, the monitoring server and (with translate and certs) createControlPlane.
export * from "@xdskit/core";
export * from "@xdskit/server";
export {
  grpcBootstrap,
  splitHostPort,
  type WorkloadBootstrapOptions,
  workloadBootstrap,
  workloadNodeId,
} from "./agent/bootstrap.js";
export {
  CertificateFetchError,
  type CertificateRequestOptions,
  type FetchedCertificate,
  requestCertificate,
} from "./agent/certificate-client.js";
export {
  type CertificateRenewal,
  type CertificateRenewalEvent,
  type CertificateRenewalOptions,
  startCertificateRenewal,
} from "./agent/certificate-renewal.js";
export {
  ENVOY_VERSION,
  type EnvoyBinary,
  envoyVersionOf,
  type FindEnvoyOptions,
  findEnvoy,
} from "./agent/envoy-binary.js";
export {
  type AgentXdsTlsOptions,
  describeExit,
  type EnvoyExit,
  type SidecarAgent,
  type SidecarAgentOptions,
  startSidecarAgent,
} from "./agent/sidecar-agent.js";
export type { CliIo } from "./cli/cli-io.js";
export { runCli } from "./cli/program.js";
export {
  type ConfigIntake,
  type ConfigValidator,
  createConfigIntake,
  type IntakeResult,
} from "./control-plane/config-intake.js";
export {
  type ControlPlane,
  type ControlPlaneOptions,
  type ControlPlaneStatus,
  createControlPlane,
} from "./control-plane/control-plane.js";
export { credentialDiagnostics } from "./control-plane/gateway-credentials.js";
export {
  createIstioTranslator,
  type IstioTranslator,
  type IstioTranslatorOptions,
} from "./control-plane/istio-translator.js";
export type { MeshTranslator } from "./control-plane/mesh-translator.js";
export { createLogger, type Logger, type LoggerSetup } from "./monitoring/logger.js";
export {
  type MonitoringServer,
  type MonitoringServerOptions,
  startMonitoringServer,
} from "./monitoring/monitoring-server.js";
export {
  cacheConfigDump,
  formatSyncTable,
  type ProxySyncState,
  type ProxySyncStatus,
  snapshotToJson,
  syncStatusOf,
  type TypeSyncStatus,
} from "./monitoring/sync-status.js";
export { shortTypeName } from "./monitoring/type-names.js";
export {
  combineCallbacks,
  createXdsMetrics,
  type XdsMetrics,
  type XdsMetricsOptions,
} from "./monitoring/xds-metrics.js";
export type { ConfigChange, ConfigDocument, ConfigSource } from "./sources/config-source.js";
export { type CredentialFiles, createCredentialFileSource } from "./sources/credential-file-source.js";
export { createFileSource, type FileSourceOptions } from "./sources/file-source.js";
export { createMemorySource, type MemorySource, type ObjectRef, objectId } from "./sources/memory-source.js";
