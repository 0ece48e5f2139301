// @xdskit/certs: a certificate authority for SPIFFE workload identities (Istio's Citadel).

export {
  type CertificateAuthority,
  type CertificateAuthorityOptions,
  createCertificateAuthority,
  type IssuedCertificate,
  type IssueRequest,
  type RootRotationState,
  type WorkloadCertificate,
} from "./authority.js";
export {
  type CallerCredentials,
  type CertificateService,
  type CertificateServiceCallbacks,
  type CertificateServiceError,
  type CertificateServiceOptions,
  CertificateServiceRefusal,
  CertificateServiceStatus,
  CREATE_CERTIFICATE_PATH,
  createCertificateService,
  ISTIO_CERTIFICATE_SERVICE,
  type TokenVerificationRequest,
} from "./certificate-service.js";
export { createCsr } from "./csr.js";
export {
  type CsrReader,
  type CsrReading,
  type CsrWorkerPool,
  type CsrWorkerPoolOptions,
  createCsrWorkerPool,
} from "./csr-worker-pool.js";
export { DEFAULT_TRUST_DOMAIN, parseSpiffeId, spiffeIdOf, type WorkloadIdentity } from "./identity.js";
export { generateKeyPair, type KeyAlgorithm } from "./keys.js";
export {
  type CertificateProvidersOptions,
  certificateProvidersBootstrap,
  createWorkloadFileRotation,
  type GrpcXdsBootstrapOptions,
  grpcXdsBootstrap,
  WORKLOAD_FILES,
  type WorkloadFilePaths,
  type WorkloadFileRotation,
  type WorkloadFileRotationOptions,
  workloadFilePaths,
  writeWorkloadFiles,
} from "./proxyless.js";
export { nextRotationTime, type RotationOptions } from "./rotation.js";
export {
  CA_CERT_SUFFIX,
  CREDENTIAL_PREFIX,
  createSecretAuthorizer,
  createWorkloadAuthenticator,
  type GatewayCredential,
  gatewayCredentialFromFiles,
  gatewayCredentialFromObject,
  gatewayCredentialSecrets,
  identityOfNode,
  ROOT_CA_SECRET,
  rootCaSecret,
  type SecretAuthorizationRequest,
  type SecretAuthorizerOptions,
  WORKLOAD_SECRET,
  workloadSecrets,
} from "./sds.js";
export { CACERTS_FILES, type CaMaterial } from "./signer.js";
