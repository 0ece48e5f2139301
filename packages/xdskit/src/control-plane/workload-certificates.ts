// Workload certificates for connected proxies (what istio-agent fetches from istiod's CA, here made by the
// control plane itself): one key and certificate per proxy for the identity its node declares, served as the SDS
// secrets `default` and `ROOTCA` in its snapshot, renewed at half lifetime with jitter, and re-issued for every
// proxy when the CA's roots change.
import {
  type CertificateAuthority,
  createSecretAuthorizer,
  type IssuedCertificate,
  identityOfNode,
  nextRotationTime,
  parseSpiffeId,
  type RotationOptions,
  type SecretAuthorizationRequest,
  workloadSecrets,
} from "@xdskit/certs";
import { type Node, resourceTypes, type Secret, XdsKitError } from "@xdskit/core";
import type { Logger } from "../monitoring/logger.js";
import { renewalTime, renewalTimer } from "./renewal.js";

export interface WorkloadCertificatesOptions {
  /** Lifetime of each workload certificate, seconds. Default: the CA's default (24 h). */
  readonly ttlSeconds?: number;
  /** When to renew: fraction of the lifetime and jitter (Istio: 0.5 ± 0.01). */
  readonly rotation?: Omit<RotationOptions, "random">;
  /**
   * Serve the secrets on plaintext xDS (15010) to the identity the node declares, which nothing proves there.
   * Default: true when the xDS host is a loopback address (only local processes can connect), false otherwise;
   * over 15012 the client certificate always has to prove the identity.
   */
  readonly plaintext?: boolean;
}

export interface WorkloadCertificates {
  /** The identity a node declares (SPIFFE id from NAMESPACE and SERVICE_ACCOUNT), or undefined. */
  identityOf(node: Node): string | undefined;
  /** Starts issuing for this proxy (cache key); `onChange(key)` once its certificate is there. */
  track(key: string, node: Node): void;
  untrack(key: string): void;
  /** The proxy's `default` and `ROOTCA` secrets, once issued. */
  secretsFor(key: string): readonly Secret[] | undefined;
  /** The proxy's current certificate, once issued. */
  certificateOf(key: string): IssuedCertificate | undefined;
  /** New certificates for every tracked proxy (after a root rotation); resolves once all are in their snapshots. */
  reissueAll(): Promise<void>;
  /** `authorize` for the mTLS port: the client certificate's identity must be the node's. */
  readonly authorizeSecure: (request: SecretAuthorizationRequest) => true | string;
  /** `authorize` for the plaintext port: the declared identity stands in for the proof, or secrets are refused. */
  readonly authorizePlaintext: (request: SecretAuthorizationRequest) => true | string;
  close(): void;
}

interface TrackedProxy {
  readonly node: Node;
  readonly spiffeId: string;
  certificate?: IssuedCertificate;
  secrets?: readonly Secret[];
  timer?: NodeJS.Timeout;
  /** Increases with each issue started, so a late answer for an older one is dropped. */
  generation: number;
}

const RETRY_MS = 5000;

export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function createWorkloadCertificates(setup: {
  readonly ca: CertificateAuthority;
  readonly options: WorkloadCertificatesOptions;
  readonly plaintextDefault: boolean;
  readonly logger: Logger;
  readonly onChange: (key: string) => void;
  /** May this identity read gateway credential `kubernetes://<name>`? Default: no. */
  readonly mayReadCredential?: (spiffeId: string, credentialName: string) => boolean;
}): WorkloadCertificates {
  const { ca, options, logger, onChange } = setup;
  const ttlSeconds = options.ttlSeconds;
  if (ttlSeconds !== undefined && !(Number.isInteger(ttlSeconds) && ttlSeconds > 0))
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `createControlPlane: workloadCertificates.ttlSeconds must be a positive whole number, got ${ttlSeconds}`,
    );
  const rotation = options.rotation ?? {};
  // Fails at the door on a bad fraction or jitter rather than at the first renewal.
  nextRotationTime({ notBefore: new Date(0), notAfter: new Date(1000) }, rotation);
  const plaintext = options.plaintext ?? setup.plaintextDefault;
  const trustDomain = ca.trustDomain;
  const identityOf = (node: Node) => identityOfNode(node, trustDomain);
  const proxies = new Map<string, TrackedProxy>();
  let closed = false;

  const schedule = (key: string, proxy: TrackedProxy, delayMs: number) => {
    if (proxy.timer) clearTimeout(proxy.timer);
    proxy.timer = renewalTimer(() => void issue(key, proxy), delayMs);
  };

  const issue = async (key: string, proxy: TrackedProxy): Promise<void> => {
    const generation = ++proxy.generation;
    const identity = parseSpiffeId(proxy.spiffeId);
    if (!identity) return;
    const issuedAt = Date.now();
    let certificate: IssuedCertificate;
    try {
      certificate = await ca.issue({
        namespace: identity.namespace,
        serviceAccount: identity.serviceAccount,
        ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
      });
    } catch (error) {
      if (closed || proxies.get(key) !== proxy) return;
      logger.error(
        { proxy: proxy.node.id, identity: proxy.spiffeId, err: error },
        `workload certificate not issued; retrying in ${RETRY_MS} ms`,
      );
      schedule(key, proxy, RETRY_MS);
      return;
    }
    if (closed || proxies.get(key) !== proxy || generation !== proxy.generation) return;
    const renewal = proxy.certificate !== undefined;
    proxy.certificate = certificate;
    proxy.secrets = workloadSecrets(certificate);
    const renewAt = renewalTime(certificate, issuedAt, rotation);
    schedule(key, proxy, renewAt.getTime() - Date.now());
    logger[renewal ? "debug" : "info"](
      {
        proxy: proxy.node.id,
        identity: proxy.spiffeId,
        notAfter: certificate.notAfter.toISOString(),
        renewAt: renewAt.toISOString(),
      },
      renewal ? "workload certificate renewed" : "workload certificate issued",
    );
    onChange(key);
  };

  const secure = createSecretAuthorizer({
    trustDomain,
    identityOfNode: identityOf,
    ...(setup.mayReadCredential ? { mayReadCredential: setup.mayReadCredential } : {}),
  });
  const secretType = resourceTypes.Secret.typeUrl;

  return {
    identityOf,
    track(key, node) {
      if (closed || proxies.has(key)) return;
      const spiffeId = identityOf(node);
      if (!spiffeId) return;
      const proxy: TrackedProxy = { node, spiffeId, generation: 0 };
      proxies.set(key, proxy);
      void issue(key, proxy);
    },
    untrack(key) {
      const proxy = proxies.get(key);
      if (proxy?.timer) clearTimeout(proxy.timer);
      proxies.delete(key);
    },
    secretsFor: (key) => proxies.get(key)?.secrets,
    certificateOf: (key) => proxies.get(key)?.certificate,
    async reissueAll() {
      await Promise.all([...proxies].map(([key, proxy]) => issue(key, proxy)));
    },
    authorizeSecure: secure,
    authorizePlaintext: (request) => {
      if (request.typeUrl !== secretType) return true;
      const node = request.node.id ?? "";
      if (!plaintext)
        return `node "${node}" may not read secrets over plaintext xDS: connect with a workload certificate to the mTLS port (15012)`;
      const declared = identityOf(request.node);
      if (!declared)
        return `node "${node}" declares no identity (SERVICE_ACCOUNT and NAMESPACE metadata): no secrets for it`;
      return secure({ ...request, identity: { principal: declared } });
    },
    close() {
      closed = true;
      for (const proxy of proxies.values()) if (proxy.timer) clearTimeout(proxy.timer);
      proxies.clear();
    },
  };
}
