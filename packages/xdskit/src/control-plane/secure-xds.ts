// istiod's port 15012: xDS over TLS plus Istio's certificate service (CreateCertificate), with a serving
// certificate the control plane's own CA issues for istiod's identity (renewed at half lifetime, and again with the
// trusted roots whenever the CA's roots change).
import * as grpc from "@grpc/grpc-js";
import {
  type CertificateAuthority,
  type CertificateServiceOptions,
  createCertificateService,
  type IssuedCertificate,
} from "@xdskit/certs";
import type { ConfigWatcher } from "@xdskit/core";
import { createXdsServer, type XdsServer, type XdsServerCallbacks, type XdsServerOptions } from "@xdskit/server";
import { renewalTime, renewalTimer } from "./renewal.js";

export interface SecureXdsOptions {
  readonly ca: CertificateAuthority;
  readonly cache: ConfigWatcher;
  readonly callbacks: XdsServerCallbacks;
  readonly address: string;
  readonly verifyToken?: CertificateServiceOptions["verifyToken"];
  readonly serverOptions?: Omit<XdsServerOptions, "cache" | "callbacks" | "credentials">;
  readonly onSigned: (spiffeId: string, peer: string | undefined) => void;
  readonly onRefused: (message: string, peer: string | undefined) => void;
  /** The serving certificate could not be renewed (retried a minute later). */
  readonly onRenewalFailed?: (error: Error) => void;
}

export interface SecureXds {
  readonly server: XdsServer;
  readonly port: number;
  /** A new serving certificate and the CA's current trust bundle for client certificates (after a root rotation). */
  refresh(): Promise<void>;
  /** Stops renewing the serving certificate (the server is closed by its owner). */
  stop(): void;
}

type CaListener = (update: grpc.experimental.CaCertificateUpdate | null) => void;
type IdentityListener = (update: grpc.experimental.IdentityCertificateUpdate | null) => void;

/**
 * TLS credentials that ask for a client certificate without requiring one (renewals prove identity by it), and
 * whose certificate and roots can be replaced while serving.
 */
function replaceableCredentials(initial: IssuedCertificate, roots: readonly string[]) {
  let caUpdate: grpc.experimental.CaCertificateUpdate = { caCertificate: Buffer.from(roots.join("")) };
  let identityUpdate: grpc.experimental.IdentityCertificateUpdate = {
    certificate: Buffer.from(initial.certChain.join("")),
    privateKey: Buffer.from(initial.privateKey),
  };
  const caListeners = new Set<CaListener>();
  const identityListeners = new Set<IdentityListener>();
  const provider: grpc.experimental.CertificateProvider = {
    // grpc-js registers its watcher after subscribing: deliver on a later tick, as its own providers do.
    addCaCertificateListener: (listener) => {
      caListeners.add(listener);
      setImmediate(() => listener(caUpdate));
    },
    removeCaCertificateListener: (listener) => void caListeners.delete(listener),
    addIdentityCertificateListener: (listener) => {
      identityListeners.add(listener);
      setImmediate(() => listener(identityUpdate));
    },
    removeIdentityCertificateListener: (listener) => void identityListeners.delete(listener),
  };
  return {
    credentials: grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false),
    replace(certificate: IssuedCertificate, trustBundle: readonly string[]) {
      caUpdate = { caCertificate: Buffer.from(trustBundle.join("")) };
      identityUpdate = {
        certificate: Buffer.from(certificate.certChain.join("")),
        privateKey: Buffer.from(certificate.privateKey),
      };
      for (const listener of caListeners) listener(caUpdate);
      for (const listener of identityListeners) listener(identityUpdate);
    },
  };
}

const ISTIOD = { namespace: "istio-system", serviceAccount: "istiod" } as const;

export async function startSecureXds(options: SecureXdsOptions): Promise<SecureXds> {
  const firstIssuedAt = Date.now();
  const first = await options.ca.issue(ISTIOD);
  const serving = replaceableCredentials(first, options.ca.trustBundle);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const renewLater = (delayMs: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = renewalTimer(() => void refresh().catch(failed), delayMs);
  };
  const failed = (error: Error) => {
    options.onRenewalFailed?.(error);
    renewLater(60_000);
  };
  const renewBefore = (certificate: IssuedCertificate, issuedAt: number) =>
    renewLater(renewalTime(certificate, issuedAt).getTime() - Date.now());
  const refresh = async () => {
    const issuedAt = Date.now();
    const certificate = await options.ca.issue(ISTIOD);
    if (stopped) return;
    serving.replace(certificate, options.ca.trustBundle);
    renewBefore(certificate, issuedAt);
  };

  const server = createXdsServer({
    ...options.serverOptions,
    cache: options.cache,
    callbacks: options.callbacks,
    credentials: serving.credentials,
  });
  const service = createCertificateService({
    ca: options.ca,
    ...(options.verifyToken ? { verifyToken: options.verifyToken } : {}),
    callbacks: {
      onSigned: (info) => options.onSigned(info.spiffeId, info.peer),
      onRefused: (info) => options.onRefused(info.message, info.peer),
    },
  });
  server.grpcServer.addService(service.definition as grpc.ServiceDefinition, service.implementation as never);
  const port = await server.listen(options.address);
  renewBefore(first, firstIssuedAt);
  return {
    server,
    port,
    refresh: () => refresh(),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
