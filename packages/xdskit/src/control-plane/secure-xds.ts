// istiod's port 15012: xDS over TLS plus Istio's certificate service (CreateCertificate), with a serving
// certificate the control plane's own CA issues for istiod's identity.
import * as grpc from "@grpc/grpc-js";
import { type CertificateAuthority, type CertificateServiceOptions, createCertificateService } from "@xdskit/certs";
import type { ConfigWatcher } from "@xdskit/core";
import { createXdsServer, type XdsServer, type XdsServerCallbacks, type XdsServerOptions } from "@xdskit/server";

export interface SecureXdsOptions {
  readonly ca: CertificateAuthority;
  readonly cache: ConfigWatcher;
  readonly callbacks: XdsServerCallbacks;
  readonly address: string;
  readonly verifyToken?: CertificateServiceOptions["verifyToken"];
  readonly serverOptions?: Omit<XdsServerOptions, "cache" | "callbacks" | "credentials">;
  readonly onSigned: (spiffeId: string, peer: string | undefined) => void;
  readonly onRefused: (message: string, peer: string | undefined) => void;
}

/** TLS credentials that ask for a client certificate without requiring one (renewals prove identity by it). */
function serverCredentials(certChain: readonly string[], privateKey: string, roots: string): grpc.ServerCredentials {
  const provider: grpc.experimental.CertificateProvider = {
    // grpc-js registers its watcher after subscribing: deliver on a later tick, as its own providers do.
    addCaCertificateListener: (listener) => setImmediate(() => listener({ caCertificate: Buffer.from(roots) })),
    removeCaCertificateListener: () => {},
    addIdentityCertificateListener: (listener) =>
      setImmediate(() =>
        listener({ certificate: Buffer.from(certChain.join("")), privateKey: Buffer.from(privateKey) }),
      ),
    removeIdentityCertificateListener: () => {},
  };
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

export async function startSecureXds(options: SecureXdsOptions): Promise<{ server: XdsServer; port: number }> {
  const serving = await options.ca.issue({ namespace: "istio-system", serviceAccount: "istiod" });
  const server = createXdsServer({
    ...options.serverOptions,
    cache: options.cache,
    callbacks: options.callbacks,
    credentials: serverCredentials(serving.certChain, serving.privateKey, options.ca.trustBundle.join("")),
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
  return { server, port };
}
