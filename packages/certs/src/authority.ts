// The certificate authority: a self-signed root (persisted or in memory) or Istio's plug-in cacerts,
// signing SPIFFE workload certificates with Istio's leaf profile.

import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { AsnConvert } from "@peculiar/asn1-schema";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { XdsKitError } from "@xdskit/core";
import {
  caExtensions,
  createLeafTemplate,
  keyIdentifierOf,
  type LeafTemplate,
  organizationName,
  signCertificate,
} from "./certificate.js";
import { parseCsr } from "./csr.js";
import type { CsrReader } from "./csr-worker-pool.js";
import { DEFAULT_TRUST_DOMAIN, identityProblem, parseSpiffeId, spiffeIdOf, type WorkloadIdentity } from "./identity.js";
import { generateKeyPair, type KeyAlgorithm, keyAlgorithms, signatureAlgorithmOf } from "./keys.js";
import { encodePem } from "./pem.js";
import { readCaDir, writeCaDir } from "./persistence.js";
import { CACERTS_FILES, type CaMaterial, loadSigner, type Signer } from "./signer.js";

const DAY_SECONDS = 24 * 60 * 60;
/** Istio backdates NotBefore by two minutes so a peer whose clock is a little behind accepts a fresh certificate. */
const BACKDATE_MS = 2 * 60 * 1000;

/** Options of {@link createCertificateAuthority}. */
export interface CertificateAuthorityOptions {
  /** Trust domain of every identity this CA signs. Default: "cluster.local". */
  trustDomain?: string;
  /**
   * Directory of the self-signed CA: read if it holds a CA, otherwise a new root is made and written there
   * (key file mode 0600). Default: none (a new root in memory each time). Ignored with `cacerts`.
   */
  dir?: string;
  /**
   * Plug-in CA: a directory with Istio's cacerts files (ca-cert.pem, ca-key.pem, root-cert.pem,
   * cert-chain.pem), or those files' PEM texts. Never written. Default: none (self-signed).
   */
  cacerts?: string | CaMaterial;
  /** Key type of a new self-signed root. Default: "ECDSA_P256". */
  rootKeyAlgorithm?: KeyAlgorithm;
  /** Lifetime of a new self-signed root, seconds. Default: 10 years. */
  rootTtlSeconds?: number;
  /** Organization (O=) of a new self-signed root. Default: the trust domain. */
  organization?: string;
  /** Lifetime of a workload certificate when the request names none, seconds. Default: 86400 (24 h). */
  defaultTtlSeconds?: number;
  /** Largest lifetime a request may ask for, seconds; more is refused. Default: 7776000 (90 days). */
  maxTtlSeconds?: number;
  /** Largest CSR accepted, bytes of PEM. Default: 32768. */
  maxCsrBytes?: number;
  /** The clock, ms since the epoch. Default: Date.now. */
  now?: () => number;
  /**
   * Reads and checks CSRs for `sign` elsewhere, e.g. a {@link createCsrWorkerPool} so the key import and
   * signature check run on other cores than gRPC. The CA still makes every decision on what it reads.
   * Default: none (read on the calling thread).
   */
  csrReader?: CsrReader;
}

/** A signed workload certificate. */
export interface WorkloadCertificate {
  readonly spiffeId: string;
  /** PEM certificates: the workload's first, then the CA's and intermediates, the root last (Istio's order). */
  readonly certChain: readonly string[];
  /** PEM of the roots a peer should trust (the CA's trust bundle when it signed). */
  readonly trustBundle: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A workload certificate with the private key the CA made for it. */
export interface IssuedCertificate extends WorkloadCertificate {
  /** PKCS#8 PEM. */
  readonly privateKey: string;
}

/** What {@link CertificateAuthority.issue} is asked. */
export interface IssueRequest {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Seconds. Default: the CA's defaultTtlSeconds. */
  readonly ttlSeconds?: number;
  /** Default: "ECDSA_P256". */
  readonly keyAlgorithm?: KeyAlgorithm;
}

/** Where a root rotation stands: see {@link CertificateAuthority.stageRoot}. */
export type RootRotationState = "none" | "staged";

/** A running certificate authority. */
export interface CertificateAuthority {
  readonly trustDomain: string;
  /** "self-signed" (this CA made its root) or "plug-in" (Istio cacerts). */
  readonly kind: "self-signed" | "plug-in";
  /** PEM of every root workloads should trust: the signing root first, then staged or previous roots. */
  readonly trustBundle: readonly string[];
  /** PEM of the signing chain: the CA certificate first, the root last (one entry when self-signed). */
  readonly signingChain: readonly string[];
  /** When the signing chain's first certificate expires: no workload certificate lives longer. */
  readonly notAfter: Date;
  /** Makes a key pair and a certificate for a workload identity of this trust domain. */
  issue(request: IssueRequest): Promise<IssuedCertificate>;
  /**
   * Signs a workload's PEM CSR for `identity` (a SPIFFE id or its parts), which the caller established
   * (never the CSR). Refused with XdsKitError: INVALID_ARGUMENT for a malformed or oversized CSR, a key type
   * not accepted or a TTL above the maximum; PERMISSION_DENIED when the CSR asks for a SAN other than
   * `identity` or `identity` is not of this trust domain.
   */
  sign(csrPem: string, identity: WorkloadIdentity | string, ttlSeconds?: number): Promise<WorkloadCertificate>;
  /**
   * Root rotation, step 1 (self-signed only): makes the next root and adds it to the trust bundle while
   * signing goes on with the current one. Push the new bundle (ROOTCA) to every workload, then
   * {@link activateStagedRoot}.
   */
  stageRoot(): Promise<void>;
  /** Step 2: signs with the staged root from now on; the previous root stays in the bundle. */
  activateStagedRoot(): Promise<void>;
  /** Step 3, once every certificate of the previous root has rotated (one max TTL later): drops it from the bundle. */
  retirePreviousRoots(): Promise<void>;
  readonly rootRotation: RootRotationState;
  /**
   * The SPIFFE id of a workload certificate (DER or PEM) this CA issued and that is valid now: signed by the
   * current CA certificate or a root of the trust bundle, not a CA, one SPIFFE URI SAN of this trust
   * domain. Throws XdsKitError UNAUTHENTICATED saying why not. What CreateCertificate trusts a client
   * certificate with.
   */
  identityOfCertificate(certificate: Uint8Array | string): string;
}

interface ResolvedOptions {
  trustDomain: string;
  dir: string | undefined;
  cacerts: string | CaMaterial | undefined;
  rootKeyAlgorithm: KeyAlgorithm;
  rootTtlSeconds: number;
  organization: string;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  maxCsrBytes: number;
  now: () => number;
  csrReader: CsrReader | undefined;
}

function invalid(message: string): XdsKitError {
  return new XdsKitError("INVALID_ARGUMENT", `createCertificateAuthority: ${message}`);
}

function resolveOptions(options: CertificateAuthorityOptions = {}): ResolvedOptions {
  if (typeof options !== "object" || options === null) throw invalid("options must be an object");
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const problem = identityProblem({ trustDomain, namespace: "a", serviceAccount: "a" });
  if (problem) throw invalid(`options.${problem}`);
  const seconds = (name: keyof CertificateAuthorityOptions, fallback: number) => {
    const value = options[name] ?? fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0)
      throw invalid(`options.${name} must be a positive whole number, got ${String(value)}`);
    return value;
  };
  const rootKeyAlgorithm = options.rootKeyAlgorithm ?? "ECDSA_P256";
  if (!keyAlgorithms.includes(rootKeyAlgorithm))
    throw invalid(
      `options.rootKeyAlgorithm must be one of ${keyAlgorithms.join(", ")}, got "${String(rootKeyAlgorithm)}"`,
    );
  if (options.dir !== undefined && typeof options.dir !== "string") throw invalid("options.dir must be a path");
  if (options.cacerts !== undefined && typeof options.cacerts !== "string" && typeof options.cacerts !== "object")
    throw invalid("options.cacerts must be a directory or { caCert, caKey, rootCert, certChain? } PEM texts");
  if (options.csrReader !== undefined && typeof options.csrReader?.readCsr !== "function")
    throw invalid("options.csrReader must have a readCsr(csrPem) method (e.g. createCsrWorkerPool())");
  const resolved: ResolvedOptions = {
    trustDomain,
    dir: options.dir,
    cacerts: options.cacerts,
    rootKeyAlgorithm,
    rootTtlSeconds: seconds("rootTtlSeconds", 10 * 365 * DAY_SECONDS),
    organization: options.organization ?? trustDomain,
    defaultTtlSeconds: seconds("defaultTtlSeconds", DAY_SECONDS),
    maxTtlSeconds: seconds("maxTtlSeconds", 90 * DAY_SECONDS),
    maxCsrBytes: seconds("maxCsrBytes", 32 * 1024),
    now: options.now ?? Date.now,
    csrReader: options.csrReader,
  };
  if (resolved.defaultTtlSeconds > resolved.maxTtlSeconds)
    throw invalid(
      `options.defaultTtlSeconds (${resolved.defaultTtlSeconds}) is above options.maxTtlSeconds (${resolved.maxTtlSeconds})`,
    );
  return resolved;
}

/** A human duration for messages: "90d", "36h", "90s". */
export function formatDuration(seconds: number): string {
  if (seconds % DAY_SECONDS === 0) return `${seconds / DAY_SECONDS}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  return `${seconds}s`;
}

/** A new self-signed root: key + certificate (PEM). */
async function createSelfSignedRoot(options: ResolvedOptions): Promise<CaMaterial> {
  const { privateKey, publicKey } = await generateKeyPair(options.rootKeyAlgorithm);
  const spki = AsnConvert.parse(publicKey.export({ format: "der", type: "spki" }), SubjectPublicKeyInfo);
  const name = organizationName(options.organization);
  const now = options.now();
  const der = await signCertificate(
    {
      subject: name,
      issuer: name,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + options.rootTtlSeconds * 1000),
      subjectPublicKeyInfo: spki,
      extensions: caExtensions(spki),
    },
    privateKey,
    signatureAlgorithmOf(privateKey),
  );
  const certificate = encodePem("CERTIFICATE", der);
  return {
    caCert: certificate,
    caKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    rootCert: certificate,
  };
}

async function readCacerts(dir: string): Promise<CaMaterial> {
  const read = async (file: string, optional: boolean) => {
    try {
      return await readFile(join(dir, file), "utf8");
    } catch (error) {
      if (optional && (error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw invalid(`cacerts ${dir}: cannot read ${file} (${(error as Error).message})`);
    }
  };
  // Read together, but the error names the first missing file in this order, whichever read fails first.
  const reads = await Promise.allSettled([
    read(CACERTS_FILES.caCert, false),
    read(CACERTS_FILES.caKey, false),
    read(CACERTS_FILES.rootCert, false),
    read(CACERTS_FILES.certChain, true),
  ]);
  const [caCert, caKey, rootCert, certChain] = reads.map((result) => {
    if (result.status === "rejected") throw result.reason;
    return result.value;
  });
  return { caCert: caCert ?? "", caKey: caKey ?? "", rootCert: rootCert ?? "", ...(certChain ? { certChain } : {}) };
}

/**
 * Creates a certificate authority: Istio's plug-in CA from `cacerts`, or a self-signed root read from
 * (or made and written to) `dir`, or made in memory.
 */
export async function createCertificateAuthority(options?: CertificateAuthorityOptions): Promise<CertificateAuthority> {
  const resolved = resolveOptions(options);
  let signer: Signer;
  let staged: CaMaterial | undefined;
  let current: CaMaterial;
  /** Roots trusted besides the signing root: the staged root, or the previous roots after a rotation. */
  let otherRoots: string[] = [];
  const kind = resolved.cacerts === undefined ? "self-signed" : "plug-in";

  if (resolved.cacerts !== undefined) {
    const source = typeof resolved.cacerts === "string" ? `cacerts ${resolved.cacerts}` : "cacerts (options.cacerts)";
    current = typeof resolved.cacerts === "string" ? await readCacerts(resolved.cacerts) : resolved.cacerts;
    signer = loadSigner(current, `createCertificateAuthority: ${source}`);
  } else {
    const stored = resolved.dir ? await readCaDir(resolved.dir) : undefined;
    current = stored?.current ?? (await createSelfSignedRoot(resolved));
    staged = stored?.staged;
    signer = loadSigner(
      current,
      `createCertificateAuthority: ${resolved.dir ? `CA directory ${resolved.dir}` : "new root"}`,
    );
    otherRoots = signer.trustBundle.slice(1);
    if (resolved.dir && !stored) await writeCaDir(resolved.dir, current, undefined);
  }

  const trustBundle = () => [signer.trustBundle[0] as string, ...otherRoots];

  // The leaf template of the current signer, made again when a root rotation changes the signer.
  let template: { signer: Signer; leaf: LeafTemplate } | undefined;
  const leafTemplate = () => {
    if (template?.signer !== signer)
      template = {
        signer,
        leaf: createLeafTemplate(
          signer.key,
          signer.algorithm,
          signer.certificate.tbsCertificate.subject,
          signer.keyId ?? keyIdentifierOf(signer.certificate.tbsCertificate.subjectPublicKeyInfo),
        ),
      };
    return template.leaf;
  };

  const signLeaf = async (spiffeId: string, spkiDer: Uint8Array, ttlSeconds: number): Promise<WorkloadCertificate> => {
    const now = resolved.now();
    const notBefore = new Date(Math.max(now - BACKDATE_MS, signer.notBeforeMs));
    const notAfter = new Date(Math.min(now + ttlSeconds * 1000, signer.notAfterMs));
    if (notAfter.getTime() <= now)
      throw new XdsKitError(
        "INTERNAL",
        `the CA certificate expired on ${new Date(signer.notAfterMs).toISOString()}: rotate the CA`,
      );
    const chain = signer.chain;
    const der = await leafTemplate().sign(spiffeId, spkiDer, notBefore, notAfter);
    return {
      spiffeId,
      certChain: [encodePem("CERTIFICATE", der), ...chain],
      trustBundle: trustBundle(),
      notBefore,
      notAfter,
    };
  };

  const ttlOf = (requested: number | undefined): number => {
    if (requested === undefined || requested === 0) return resolved.defaultTtlSeconds;
    if (typeof requested !== "number" || !Number.isInteger(requested) || requested < 0)
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `requested TTL ${String(requested)} must be a positive whole number of seconds`,
      );
    if (requested > resolved.maxTtlSeconds)
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `requested TTL ${formatDuration(requested)} is above the maximum ${formatDuration(resolved.maxTtlSeconds)}`,
      );
    return requested;
  };

  const spiffeIdOfCaller = (identity: WorkloadIdentity | string): string => {
    if (typeof identity === "string") {
      const parsed = parseSpiffeId(identity);
      if (!parsed)
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `identity "${identity}" is not a SPIFFE id spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
        );
      identity = parsed;
    }
    const spiffeId = spiffeIdOf(identity);
    if (identity.trustDomain !== resolved.trustDomain)
      throw new XdsKitError(
        "PERMISSION_DENIED",
        `identity ${spiffeId} is not in this CA's trust domain "${resolved.trustDomain}"`,
      );
    return spiffeId;
  };

  // Who may have signed a client certificate: the CA certificate, and every root of the bundle (a self-signed
  // CA's previous root signed workloads directly). Recomputed when the signer or the bundle changes.
  let issuersFor: { key: string; issuers: X509Certificate[] } | undefined;
  const issuers = () => {
    const key = [signer.chain[0], ...trustBundle()].join("");
    if (issuersFor?.key !== key)
      issuersFor = {
        key,
        issuers: [signer.chain[0] as string, ...trustBundle()].map((pem) => new X509Certificate(pem)),
      };
    return issuersFor.issuers;
  };
  const unauthenticated = (message: string) => new XdsKitError("UNAUTHENTICATED", `client certificate ${message}`);
  const identityOfCertificate = (input: Uint8Array | string): string => {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(typeof input === "string" ? input : Buffer.from(input));
    } catch {
      throw unauthenticated("cannot be read");
    }
    if (!issuers().some((issuer) => certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey)))
      throw unauthenticated(`(${certificate.subjectAltName ?? certificate.subject}) is not issued by this CA`);
    const now = resolved.now();
    if (Date.parse(certificate.validFrom) > now || Date.parse(certificate.validTo) < now)
      throw unauthenticated(`expired or not yet valid (valid ${certificate.validFrom} to ${certificate.validTo})`);
    if (certificate.ca) throw unauthenticated("is a CA certificate, not a workload's");
    const names = (certificate.subjectAltName ?? "").split(", ").filter((name) => name.length > 0);
    const uri = names.length === 1 && names[0]?.startsWith("URI:") ? names[0].slice(4) : undefined;
    const identity = uri ? parseSpiffeId(uri) : undefined;
    if (!uri || !identity)
      throw unauthenticated(`has SANs "${names.join(", ")}", not one SPIFFE id spiffe://<td>/ns/<ns>/sa/<sa>`);
    if (identity.trustDomain !== resolved.trustDomain)
      throw unauthenticated(`identity ${uri} is not in this CA's trust domain "${resolved.trustDomain}"`);
    return uri;
  };

  const persist = async () => {
    if (resolved.dir) await writeCaDir(resolved.dir, { ...current, rootCert: trustBundle().join("") }, staged);
  };
  const selfSignedOnly = (method: string) => {
    if (kind !== "self-signed")
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `${method}: a plug-in CA's root is rotated by replacing its cacerts files (root-cert.pem may hold the old and the new root)`,
      );
  };

  return {
    trustDomain: resolved.trustDomain,
    kind,
    get trustBundle() {
      return trustBundle();
    },
    get signingChain() {
      return signer.chain;
    },
    get notAfter() {
      return new Date(signer.notAfterMs);
    },
    get rootRotation(): RootRotationState {
      return staged ? "staged" : "none";
    },

    identityOfCertificate,

    async issue(request) {
      if (typeof request !== "object" || request === null)
        throw new XdsKitError("INVALID_ARGUMENT", "issue: request must be { namespace, serviceAccount }");
      const spiffeId = spiffeIdOfCaller({
        trustDomain: resolved.trustDomain,
        namespace: request.namespace,
        serviceAccount: request.serviceAccount,
      });
      const ttlSeconds = ttlOf(request.ttlSeconds);
      const { privateKey, publicKey } = await generateKeyPair(request.keyAlgorithm ?? "ECDSA_P256");
      const certificate = await signLeaf(spiffeId, publicKey.export({ format: "der", type: "spki" }), ttlSeconds);
      return { ...certificate, privateKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
    },

    async sign(csrPem, identity, ttlSeconds) {
      const spiffeId = spiffeIdOfCaller(identity);
      if (typeof csrPem === "string" && Buffer.byteLength(csrPem) > resolved.maxCsrBytes)
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `CSR of ${Buffer.byteLength(csrPem)} bytes is above the limit of ${resolved.maxCsrBytes} bytes`,
        );
      const ttl = ttlOf(ttlSeconds);
      const csr = resolved.csrReader ? await resolved.csrReader.readCsr(csrPem) : await parseCsr(csrPem);
      if (csr.keyProblem) throw new XdsKitError("INVALID_ARGUMENT", `CSR refused: ${csr.keyProblem}`);
      const foreign = csr.subjectAltNames.find((name) => name !== `URI:${spiffeId}`);
      if (foreign)
        throw new XdsKitError(
          "PERMISSION_DENIED",
          `CSR asks for SAN ${foreign} but the caller's identity is ${spiffeId}`,
        );
      return signLeaf(spiffeId, csr.subjectPublicKeyInfoDer, ttl);
    },

    async stageRoot() {
      selfSignedOnly("stageRoot");
      if (staged) return;
      staged = await createSelfSignedRoot(resolved);
      otherRoots = [staged.rootCert, ...otherRoots];
      await persist();
    },

    async activateStagedRoot() {
      selfSignedOnly("activateStagedRoot");
      if (!staged)
        throw new XdsKitError("INVALID_ARGUMENT", "activateStagedRoot: no root is staged (call stageRoot first)");
      const previousRoot = signer.trustBundle[0] as string;
      const next = staged;
      const nextSigner = loadSigner(next, "activateStagedRoot: staged root");
      otherRoots = [previousRoot, ...otherRoots.filter((root) => root !== next.rootCert)];
      signer = nextSigner;
      current = next;
      staged = undefined;
      await persist();
    },

    async retirePreviousRoots() {
      selfSignedOnly("retirePreviousRoots");
      otherRoots = staged ? [staged.rootCert] : [];
      await persist();
    },
  };
}
