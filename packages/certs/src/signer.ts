// The CA's signing material: a CA certificate and its key, any intermediates, and the roots it chains to.
// Loaded from Istio's cacerts files (plug-in CA) or from the self-signed CA's own directory, and checked:
// key matches certificate, every link verifies, the chain ends at a trusted root.

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import type { Certificate } from "@peculiar/asn1-x509";
import { XdsKitError } from "@xdskit/core";
import { parseCertificate, subjectKeyIdOf } from "./certificate.js";
import { type SignatureAlgorithm, signatureAlgorithmOf } from "./keys.js";
import { derOfPem, encodePem } from "./pem.js";

/** Istio's plug-in CA files as PEM texts (the contents of `cacerts`). */
export interface CaMaterial {
  /** ca-cert.pem: the certificate the CA signs with (an intermediate, or the root itself). */
  readonly caCert: string;
  /** ca-key.pem: its private key (PKCS#8, PKCS#1 or SEC1 PEM). */
  readonly caKey: string;
  /** root-cert.pem: the root(s) workloads trust; several roots overlap during a root rotation. */
  readonly rootCert: string;
  /** cert-chain.pem: ca-cert.pem's chain up to the root (ca-cert itself and the root may be included). Optional. */
  readonly certChain?: string;
}

/** File names of {@link CaMaterial} in a cacerts directory, as Istio names them. */
export const CACERTS_FILES = {
  caCert: "ca-cert.pem",
  caKey: "ca-key.pem",
  rootCert: "root-cert.pem",
  certChain: "cert-chain.pem",
} as const;

/** Checked signing material, ready to sign with. */
export interface Signer {
  readonly key: KeyObject;
  readonly algorithm: SignatureAlgorithm;
  /** The parsed CA certificate (its subject is every leaf's issuer). */
  readonly certificate: Certificate;
  readonly keyId: Buffer | undefined;
  /** PEM, the CA certificate first, then intermediates, the root last. */
  readonly chain: readonly string[];
  /** PEM of every trusted root, the signer's root first. */
  readonly trustBundle: readonly string[];
  /** The earliest notAfter along the chain, ms: no leaf may outlive it. */
  readonly notAfterMs: number;
  /** The CA certificate's notBefore, ms. */
  readonly notBeforeMs: number;
}

function bad(source: string, message: string): XdsKitError {
  return new XdsKitError("INVALID_ARGUMENT", `${source}: ${message}`);
}

function certificatesOf(source: string, file: string, text: string | undefined): X509Certificate[] {
  if (text === undefined) return [];
  if (typeof text !== "string") throw bad(source, `${file} must be PEM text`);
  try {
    return derOfPem(text, "CERTIFICATE").map((der) => new X509Certificate(der));
  } catch (error) {
    throw bad(source, `${file} holds a certificate that cannot be read (${(error as Error).message})`);
  }
}

const pemOf = (certificate: X509Certificate) => encodePem("CERTIFICATE", certificate.raw);
const issued = (child: X509Certificate, parent: X509Certificate) =>
  child.checkIssued(parent) && child.verify(parent.publicKey);
/** How messages name a certificate: its subject, else its SANs. */
const nameOf = (certificate: X509Certificate) => certificate.subject || certificate.subjectAltName || "no subject";
const notAfterOf = (certificate: X509Certificate) => Date.parse(certificate.validTo);

/** Checks `material` and makes a signer of it; throws XdsKitError INVALID_ARGUMENT naming the file at fault. */
export function loadSigner(material: CaMaterial, source: string): Signer {
  const [caCert, ...extra] = certificatesOf(source, CACERTS_FILES.caCert, material.caCert);
  if (!caCert || extra.length > 0)
    throw bad(
      source,
      `${CACERTS_FILES.caCert} must hold exactly one certificate, found ${extra.length + (caCert ? 1 : 0)}`,
    );
  let key: KeyObject;
  try {
    key = createPrivateKey(material.caKey);
  } catch (error) {
    throw bad(source, `${CACERTS_FILES.caKey} is not a readable private key (${(error as Error).message})`);
  }
  if (!caCert.checkPrivateKey(key))
    throw bad(source, `${CACERTS_FILES.caKey} is not the key of ${CACERTS_FILES.caCert} (${nameOf(caCert)})`);
  if (!caCert.ca)
    throw bad(
      source,
      `${CACERTS_FILES.caCert} (${nameOf(caCert)}) is not a CA certificate (basicConstraints CA:FALSE)`,
    );
  const roots = certificatesOf(source, CACERTS_FILES.rootCert, material.rootCert);
  if (roots.length === 0) throw bad(source, `${CACERTS_FILES.rootCert} holds no certificate`);
  const isRoot = (c: X509Certificate) => roots.some((root) => root.fingerprint256 === c.fingerprint256);
  // Intermediates: cert-chain.pem without ca-cert itself and without the roots.
  const intermediates = certificatesOf(source, CACERTS_FILES.certChain, material.certChain).filter(
    (c) => c.fingerprint256 !== caCert.fingerprint256 && !isRoot(c),
  );
  const path = [caCert, ...intermediates];
  for (let i = 0; i + 1 < path.length; i++) {
    const child = path[i] as X509Certificate;
    const parent = path[i + 1] as X509Certificate;
    if (!issued(child, parent))
      throw bad(
        source,
        `${CACERTS_FILES.certChain} is not a chain: "${nameOf(child)}" is not signed by "${nameOf(parent)}" (list it from ${CACERTS_FILES.caCert} up to the root)`,
      );
  }
  const top = path[path.length - 1] as X509Certificate;
  if (!isRoot(top) && issued(top, top))
    throw bad(
      source,
      `"${nameOf(top)}" (the top of ${CACERTS_FILES.certChain}) is a root that ${CACERTS_FILES.rootCert} does not hold`,
    );
  const root = isRoot(top) ? top : roots.find((candidate) => issued(top, candidate));
  if (!root)
    throw bad(
      source,
      `"${nameOf(top)}" does not chain to any root in ${CACERTS_FILES.rootCert}${intermediates.length === 0 && material.certChain === undefined ? ` (is ${CACERTS_FILES.certChain} missing?)` : ""}`,
    );
  const chain = root === caCert ? [caCert] : [...path, root];
  const certificate = parseCertificate(caCert.raw);
  return {
    key,
    algorithm: signatureAlgorithmOf(key),
    certificate,
    keyId: subjectKeyIdOf(certificate),
    chain: chain.map(pemOf),
    trustBundle: [root, ...roots.filter((r) => r.fingerprint256 !== root.fingerprint256)].map(pemOf),
    notAfterMs: Math.min(...chain.map(notAfterOf)),
    notBeforeMs: Date.parse(caCert.validFrom),
  };
}
