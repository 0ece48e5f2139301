// The agent's side of Istio's certificate service (what pilot-agent's CA client does): a fresh key and CSR for the
// workload's SPIFFE id, sent to CreateCertificate on the control plane over TLS that verifies the control plane's
// own SPIFFE id against a configured root, authenticated by a bearer token (a service-account token file) or, on
// renewal, by the certificate it replaces. The answer is checked before it is used: it must be for this identity,
// for this key, and chain to the configured roots.
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { CREATE_CERTIFICATE_PATH, createCsr, generateKeyPair, parseSpiffeId } from "@xdskit/certs";
import { XdsKitError } from "@xdskit/core";
import { IstioCertificateRequest, IstioCertificateResponse } from "@xdskit/core/services";

export interface CertificateRequestOptions {
  /** The CA's address, "host:port" (the control plane's 15012). */
  readonly caAddress: string;
  /** PEM file of the roots that the CA's serving certificate must chain to (Istio's root-cert.pem). */
  readonly rootCertFile: string;
  /** The SPIFFE id the CA's serving certificate must carry, e.g. spiffe://cluster.local/ns/istio-system/sa/istiod. */
  readonly caIdentity: string;
  /** The workload's SPIFFE id: what the certificate must be for. */
  readonly identity: string;
  /** A file holding the bearer token (a service-account token), read on every request. */
  readonly tokenFile?: string;
  /** Renewal over mTLS: the certificate being replaced, presented as the client certificate while it is valid. */
  readonly current?: FetchedCertificate;
  /** Requested lifetime (CreateCertificate's validity_duration). Default: the CA's. */
  readonly ttlSeconds?: number;
  /** Deadline of the call. Default: 10000 ms. */
  readonly timeoutMs?: number;
}

export interface FetchedCertificate {
  readonly spiffeId: string;
  /** Leaf first, the root last, as CreateCertificate answers. */
  readonly certChain: readonly string[];
  /** PKCS#8 PEM of the key made for it. */
  readonly privateKey: string;
  /** The roots of `rootCertFile` when it was fetched. */
  readonly trustBundle: readonly string[];
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * Why a certificate could not be fetched. `retryable` is true when the CA could not be reached (or answered
 * UNAVAILABLE / a deadline), false when it refused or answered something unusable.
 */
export class CertificateFetchError extends XdsKitError {
  constructor(
    code: XdsKitError["code"],
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/g;

/** The PEM certificates of a file; throws naming the file when it is missing or holds none. */
export function readRoots(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new CertificateFetchError(
      "INVALID_ARGUMENT",
      `root certificate file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): it must hold the control plane's root (root-cert.pem)`,
      false,
    );
  }
  const roots = text.match(PEM_CERTIFICATE)?.map((pem) => `${pem.trim()}\n`) ?? [];
  if (roots.length === 0)
    throw new CertificateFetchError(
      "INVALID_ARGUMENT",
      `root certificate file ${file} holds no PEM certificate`,
      false,
    );
  for (const [index, pem] of roots.entries()) {
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw new CertificateFetchError(
        "INVALID_ARGUMENT",
        `root certificate file ${file}: certificate ${index + 1} does not parse (${(error as Error).message})`,
        false,
      );
    }
  }
  return roots;
}

function readToken(file: string): string {
  let token: string;
  try {
    token = fs.readFileSync(file, "utf8").trim();
  } catch (error) {
    throw new CertificateFetchError(
      "UNAUTHENTICATED",
      `token file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): the agent needs its service-account token to ask for a certificate`,
      false,
    );
  }
  if (!token || /\s/.test(token))
    throw new CertificateFetchError(
      "UNAUTHENTICATED",
      `token file ${file} ${token ? "holds more than one word" : "is empty"}: expected one bearer token`,
      false,
    );
  return token;
}

const withoutRoot = (chain: readonly string[]) => (chain.length > 1 ? chain.slice(0, -1) : chain);

const isValidNow = (certificate: FetchedCertificate | undefined) =>
  certificate !== undefined && certificate.notAfter.getTime() > Date.now() + 500;

/** Turns a grpc-js error into what the agent reports: the status, the server's message, and whether to retry. */
function callError(error: grpc.ServiceError, options: CertificateRequestOptions): CertificateFetchError {
  const address = options.caAddress;
  const details = (error.details || error.message).replace(/\.?\s*Resolution note:\s*$/, "");
  // grpc-js reports a failed TLS verification as UNAVAILABLE; say what to check instead.
  const tlsProblem = /Last error: Error: (.*(certificate|CA's certificate).*)$/i.exec(details)?.[1];
  if (error.code === grpc.status.UNAVAILABLE && tlsProblem)
    return new CertificateFetchError(
      "UNAUTHENTICATED",
      `the CA at ${address} could not be verified: ${tlsProblem} (it must present a certificate for ${options.caIdentity} that chains to ${options.rootCertFile})`,
      true,
    );
  switch (error.code) {
    case grpc.status.UNAUTHENTICATED:
      return new CertificateFetchError(
        "UNAUTHENTICATED",
        `the CA at ${address} refused the agent's credentials (UNAUTHENTICATED): ${details}`,
        false,
      );
    case grpc.status.PERMISSION_DENIED:
      return new CertificateFetchError(
        "PERMISSION_DENIED",
        `the CA at ${address} refused the request (PERMISSION_DENIED): ${details}`,
        false,
      );
    case grpc.status.INVALID_ARGUMENT:
      return new CertificateFetchError(
        "INVALID_ARGUMENT",
        `the CA at ${address} refused the request (INVALID_ARGUMENT): ${details}`,
        false,
      );
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new CertificateFetchError(
        "CLOSED",
        `the CA at ${address} cannot be reached (${grpc.status[error.code]}): ${details}`,
        true,
      );
    default:
      return new CertificateFetchError(
        "INTERNAL",
        `the CA at ${address} failed (${grpc.status[error.code] ?? error.code}): ${details}`,
        true,
      );
  }
}

/** Checks an answer: a chain for `identity` and the key we made, each link signed by the next, ending at a root. */
function checkAnswer(
  chain: readonly string[],
  identity: string,
  publicKeyDer: Buffer,
  roots: readonly string[],
  address: string,
): X509Certificate {
  const fail = (why: string) =>
    new CertificateFetchError("INTERNAL", `the CA at ${address} answered an unusable certificate: ${why}`, false);
  if (chain.length === 0) throw fail("the certificate chain is empty");
  let certificates: X509Certificate[];
  try {
    certificates = chain.map((pem) => new X509Certificate(pem));
  } catch (error) {
    throw fail(`a certificate of the chain does not parse (${(error as Error).message})`);
  }
  const leaf = certificates[0] as X509Certificate;
  const sans = (leaf.subjectAltName ?? "").split(", ").filter((san) => san.startsWith("URI:"));
  if (sans.length !== 1 || sans[0] !== `URI:${identity}`)
    throw fail(`it is for ${sans.map((s) => s.slice(4)).join(", ") || "no SPIFFE id"}, not ${identity}`);
  if (!leaf.publicKey.export({ format: "der", type: "spki" }).equals(publicKeyDer))
    throw fail("its public key is not the key of the agent's CSR");
  for (let i = 0; i + 1 < certificates.length; i++)
    if (!(certificates[i] as X509Certificate).verify((certificates[i + 1] as X509Certificate).publicKey))
      throw fail(`certificate ${i + 1} of the chain is not signed by certificate ${i + 2}`);
  const top = certificates[certificates.length - 1] as X509Certificate;
  const trusted = roots.map((pem) => new X509Certificate(pem));
  if (!trusted.some((root) => root.fingerprint256 === top.fingerprint256 || top.verify(root.publicKey)))
    throw fail("its chain does not end at a root of the root certificate file");
  if (new Date(leaf.validTo).getTime() <= Date.now()) throw fail(`it expired at ${leaf.validTo}`);
  return leaf;
}

function checkOptions(options: CertificateRequestOptions): void {
  const bad = (field: string, expected: string, got: unknown) =>
    new XdsKitError("INVALID_ARGUMENT", `requestCertificate: ${field} must be ${expected}, got ${JSON.stringify(got)}`);
  if (options === null || typeof options !== "object") throw bad("options", "an object", options);
  if (typeof options.caAddress !== "string" || !/^\[?[^\]]+\]?:\d{1,5}$/.test(options.caAddress))
    throw bad("caAddress", "host:port", options.caAddress);
  for (const field of ["identity", "caIdentity"] as const)
    if (typeof options[field] !== "string" || !parseSpiffeId(options[field]))
      throw bad(field, "a SPIFFE id like spiffe://cluster.local/ns/default/sa/reviews", options[field]);
  if (typeof options.rootCertFile !== "string" || options.rootCertFile === "")
    throw bad("rootCertFile", "a file path", options.rootCertFile);
  if (options.tokenFile !== undefined && (typeof options.tokenFile !== "string" || options.tokenFile === ""))
    throw bad("tokenFile", "a file path", options.tokenFile);
  if (options.ttlSeconds !== undefined && !(Number.isInteger(options.ttlSeconds) && options.ttlSeconds > 0))
    throw bad("ttlSeconds", "a positive whole number", options.ttlSeconds);
  if (options.timeoutMs !== undefined && !(typeof options.timeoutMs === "number" && options.timeoutMs > 0))
    throw bad("timeoutMs", "a number > 0", options.timeoutMs);
}

/** One CreateCertificate call with a fresh key: the checked certificate, or a {@link CertificateFetchError}. */
export async function requestCertificate(options: CertificateRequestOptions): Promise<FetchedCertificate> {
  checkOptions(options);
  const roots = readRoots(options.rootCertFile);
  const presentCertificate = isValidNow(options.current) ? options.current : undefined;
  // A renewal over mTLS does not need the token; a first request does.
  let token: string | undefined;
  if (options.tokenFile) {
    try {
      token = readToken(options.tokenFile);
    } catch (error) {
      if (!presentCertificate) throw error;
    }
  }
  if (!token && !presentCertificate)
    throw new CertificateFetchError(
      "UNAUTHENTICATED",
      "no credentials to ask the CA with: give a token file (the workload's service-account token)",
      false,
    );

  const pair = await generateKeyPair("ECDSA_P256");
  const csr = createCsr(options.identity, pair.privateKey, pair.publicKey);
  const address = options.caAddress;
  const credentials = grpc.credentials.createSsl(
    Buffer.from(roots.join("")),
    presentCertificate ? Buffer.from(presentCertificate.privateKey) : null,
    presentCertificate ? Buffer.from(withoutRoot(presentCertificate.certChain).join("")) : null,
    {
      // The CA's certificate names a SPIFFE id, not a host name: that id is what must match.
      checkServerIdentity: (_host, certificate) => {
        const sans = (certificate.subjectaltname ?? "").split(", ");
        return sans.includes(`URI:${options.caIdentity}`)
          ? undefined
          : new Error(
              `the CA's certificate is for ${certificate.subjectaltname || "no SAN"}, not ${options.caIdentity}`,
            );
      },
    },
  );
  // A name, not the IP, as TLS server name (an IP there is deprecated); checkServerIdentity ignores it anyway.
  const client = new grpc.Client(address, credentials, { "grpc.ssl_target_name_override": "istiod.istio-system.svc" });
  const metadata = new grpc.Metadata();
  if (token) metadata.add("authorization", `Bearer ${token}`);
  const request = IstioCertificateRequest.fromPartial({
    csr,
    ...(options.ttlSeconds !== undefined ? { validityDuration: options.ttlSeconds } : {}),
  });
  try {
    const response = await new Promise<IstioCertificateResponse>((resolve, reject) => {
      client.makeUnaryRequest(
        CREATE_CERTIFICATE_PATH,
        (value: IstioCertificateRequest) => Buffer.from(IstioCertificateRequest.encode(value).finish()),
        (bytes: Buffer) => IstioCertificateResponse.decode(bytes),
        request,
        metadata,
        { deadline: Date.now() + (options.timeoutMs ?? 10_000) },
        (error, value) => (error ? reject(callError(error, options)) : resolve(value as IstioCertificateResponse)),
      );
    });
    const chain = (response.certChain ?? []).map((pem) => (pem.endsWith("\n") ? pem : `${pem}\n`));
    const leaf = checkAnswer(
      chain,
      options.identity,
      pair.publicKey.export({ format: "der", type: "spki" }),
      roots,
      address,
    );
    return {
      spiffeId: options.identity,
      certChain: chain,
      privateKey: pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
      trustBundle: roots,
      serialNumber: leaf.serialNumber.toLowerCase(),
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
    };
  } finally {
    client.close();
  }
}
