// Test helpers: TLS credentials for grpc-js servers and clients from this CA's certificates.

import * as grpc from "@grpc/grpc-js";

/**
 * Server credentials that ask for a client certificate but do not require one. Updates are delivered on a
 * later tick, as grpc-js's own providers do: it registers its watcher after subscribing.
 */
export function serverCredentials(
  certificate: { certChain: readonly string[]; privateKey: string },
  roots: string,
): grpc.ServerCredentials {
  const provider: grpc.experimental.CertificateProvider = {
    addCaCertificateListener: (listener) => setImmediate(() => listener({ caCertificate: Buffer.from(roots) })),
    removeCaCertificateListener: () => {},
    addIdentityCertificateListener: (listener) =>
      setImmediate(() =>
        listener({
          certificate: Buffer.from(certificate.certChain.join("")),
          privateKey: Buffer.from(certificate.privateKey),
        }),
      ),
    removeIdentityCertificateListener: () => {},
  };
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/** Client credentials trusting `roots`, with an optional client certificate; the server's name is not checked (its certificate carries a SPIFFE id). */
export function clientCredentials(
  roots: string,
  identity?: { certChain: readonly string[]; privateKey: string },
): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    Buffer.from(roots),
    identity ? Buffer.from(identity.privateKey) : null,
    identity ? Buffer.from(identity.certChain.join("")) : null,
    { checkServerIdentity: () => undefined },
  );
}
