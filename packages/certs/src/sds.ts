// SDS: certificates as Envoy Secret resources, named as istiod names them, for the core caches, and an
// authorize hook that keeps each node to its own identity's secrets.

import { readFile } from "node:fs/promises";
import { type Node, resourceTypes, type Secret, XdsKitError } from "@xdskit/core";
import type { IssuedCertificate } from "./authority.js";
import { parseSpiffeId, spiffeIdOf } from "./identity.js";

/** The workload certificate and key secret, as Envoy sidecars ask for it. */
export const WORKLOAD_SECRET = "default";
/** The trust bundle secret. */
export const ROOT_CA_SECRET = "ROOTCA";
/** Prefix of gateway credentials (Gateway `credentialName: foo` → `kubernetes://foo`). */
export const CREDENTIAL_PREFIX = "kubernetes://";
/** Suffix of a gateway credential's CA secret (`kubernetes://foo-cacert`). */
export const CA_CERT_SUFFIX = "-cacert";

const bytes = (pem: string) => Buffer.from(pem);

/**
 * The two secrets of a workload: `default` (its certificate chain, without the root, and its key) and
 * `ROOTCA` (the trust bundle).
 */
export function workloadSecrets(
  certificate: Pick<IssuedCertificate, "certChain" | "privateKey" | "trustBundle">,
): Secret[] {
  if (!certificate || !Array.isArray(certificate.certChain) || typeof certificate.privateKey !== "string")
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      "workloadSecrets: expects an issued certificate { certChain, privateKey, trustBundle }",
    );
  const chainWithoutRoot =
    certificate.certChain.length > 1 ? certificate.certChain.slice(0, -1) : certificate.certChain;
  return [
    {
      name: WORKLOAD_SECRET,
      tlsCertificate: {
        certificateChain: { inlineBytes: bytes(chainWithoutRoot.join("")) },
        privateKey: { inlineBytes: bytes(certificate.privateKey) },
      },
    },
    rootCaSecret(certificate.trustBundle),
  ];
}

/** `ROOTCA`: the roots a workload trusts (every root of the bundle, so a root rotation breaks nothing). */
export function rootCaSecret(trustBundle: readonly string[], name = ROOT_CA_SECRET): Secret {
  if (!Array.isArray(trustBundle) || trustBundle.length === 0)
    throw new XdsKitError("INVALID_ARGUMENT", `${name}: the trust bundle is empty`);
  return { name, validationContext: { trustedCa: { inlineBytes: bytes(trustBundle.join("")) } } };
}

/** A gateway credential: certificate chain and key PEM, and optionally the CA that client certificates must chain to. */
export interface GatewayCredential {
  readonly certificateChain: string;
  readonly privateKey: string;
  readonly caCertificate?: string;
}

const CREDENTIAL_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** `kubernetes://<name>` (and `kubernetes://<name>-cacert` when the credential has a CA), as istiod serves a Gateway's credentialName. */
export function gatewayCredentialSecrets(name: string, credential: GatewayCredential): Secret[] {
  if (typeof name !== "string" || !CREDENTIAL_NAME.test(name))
    throw new XdsKitError("INVALID_ARGUMENT", `gateway credential name "${String(name)}" must be a Kubernetes name`);
  for (const field of ["certificateChain", "privateKey"] as const)
    if (typeof credential?.[field] !== "string" || !credential[field].includes("-----BEGIN "))
      throw new XdsKitError("INVALID_ARGUMENT", `gateway credential "${name}": ${field} must be PEM text`);
  const secrets: Secret[] = [
    {
      name: `${CREDENTIAL_PREFIX}${name}`,
      tlsCertificate: {
        certificateChain: { inlineBytes: bytes(credential.certificateChain) },
        privateKey: { inlineBytes: bytes(credential.privateKey) },
      },
    },
  ];
  if (credential.caCertificate !== undefined)
    secrets.push(rootCaSecret([credential.caCertificate], `${CREDENTIAL_PREFIX}${name}${CA_CERT_SUFFIX}`));
  return secrets;
}

/**
 * A gateway credential from a Kubernetes Secret object (kind Secret, data base64 or stringData), with
 * the keys istiod reads: `tls.crt`/`tls.key`/`ca.crt`, or `cert`/`key`/`cacert`.
 */
export function gatewayCredentialFromObject(object: {
  metadata?: { name?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}): Secret[] {
  const name = object?.metadata?.name;
  if (!name) throw new XdsKitError("INVALID_ARGUMENT", "gateway credential: the Secret has no metadata.name");
  const value = (key: string) =>
    object.stringData?.[key] ??
    (object.data?.[key] !== undefined ? Buffer.from(object.data[key], "base64").toString() : undefined);
  const certificateChain = value("tls.crt") ?? value("cert");
  const privateKey = value("tls.key") ?? value("key");
  const caCertificate = value("ca.crt") ?? value("cacert");
  if (!certificateChain || !privateKey)
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `gateway credential Secret "${name}": data needs tls.crt and tls.key (or cert and key)`,
    );
  return gatewayCredentialSecrets(name, { certificateChain, privateKey, ...(caCertificate ? { caCertificate } : {}) });
}

/** A gateway credential from PEM files. */
export async function gatewayCredentialFromFiles(
  name: string,
  files: { certificateChain: string; privateKey: string; caCertificate?: string },
): Promise<Secret[]> {
  const read = async (path: string) => {
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `gateway credential "${name}": cannot read ${path} (${(error as Error).message})`,
      );
    }
  };
  const [certificateChain, privateKey, caCertificate] = await Promise.all([
    read(files.certificateChain),
    read(files.privateKey),
    files.caCertificate ? read(files.caCertificate) : Promise.resolve(undefined),
  ]);
  return gatewayCredentialSecrets(name, { certificateChain, privateKey, ...(caCertificate ? { caCertificate } : {}) });
}

/**
 * The SPIFFE id a node speaks for, by Istio's conventions: node metadata SERVICE_ACCOUNT and NAMESPACE,
 * the namespace defaulting to the third `~` field of a sidecar id (`sidecar~IP~pod.ns~ns.svc.cluster.local`).
 */
export function identityOfNode(node: Node, trustDomain: string): string | undefined {
  const metadata = (node.metadata ?? {}) as Record<string, unknown>;
  const serviceAccount = metadata.SERVICE_ACCOUNT;
  const fromId = node.id?.split("~")[2]?.split(".")[1];
  const namespace = metadata.NAMESPACE ?? fromId;
  if (typeof serviceAccount !== "string" || typeof namespace !== "string") return undefined;
  try {
    return spiffeIdOf({ trustDomain, namespace, serviceAccount });
  } catch {
    return undefined;
  }
}

/** What the xDS server's `authorize` hook is asked (the shape of @xdskit/server's AuthorizationRequest). */
export interface SecretAuthorizationRequest {
  readonly identity: { readonly principal: string } | undefined;
  readonly node: Node;
  readonly typeUrl: string;
  readonly names: readonly string[];
}

/** Options of {@link createSecretAuthorizer}. */
export interface SecretAuthorizerOptions {
  /** Trust domain of the identities. Default: "cluster.local". */
  trustDomain?: string;
  /** The SPIFFE id whose secrets a node is served. Default: {@link identityOfNode} (Istio's node metadata). */
  identityOfNode?: (node: Node) => string | undefined;
  /**
   * May this identity read this gateway credential (`kubernetes://<name>`, `<name>-cacert` included)?
   * Default: no identity may.
   */
  mayReadCredential?: (spiffeId: string, credentialName: string) => boolean;
}

/**
 * An `authorize` hook for @xdskit/server: other types pass; a Secret subscription passes only when the
 * stream's authenticated identity (its client certificate's SPIFFE id) is the identity the node claims —
 * whose secrets its snapshot holds — and names only `default`, `ROOTCA` or credentials it may read.
 * Returns true, or the reason for PERMISSION_DENIED.
 */
export function createSecretAuthorizer(
  options: SecretAuthorizerOptions = {},
): (request: SecretAuthorizationRequest) => true | string {
  const trustDomain = options.trustDomain ?? "cluster.local";
  const nodeIdentity = options.identityOfNode ?? ((node: Node) => identityOfNode(node, trustDomain));
  const mayReadCredential = options.mayReadCredential ?? (() => false);
  return (request) => {
    if (request.typeUrl !== resourceTypes.Secret.typeUrl) return true;
    const principal = request.identity?.principal;
    const node = request.node.id ?? "";
    if (!principal || !parseSpiffeId(principal))
      return `node "${node}" may not read secrets: the stream is not authenticated by a workload certificate`;
    const claimed = nodeIdentity(request.node);
    if (claimed !== principal)
      return `node "${node}" claims identity ${claimed ?? "(none: no SERVICE_ACCOUNT/NAMESPACE metadata)"} but authenticated as ${principal}: secrets refused`;
    for (const name of request.names) {
      if (name === WORKLOAD_SECRET || name === ROOT_CA_SECRET) continue;
      if (name.startsWith(CREDENTIAL_PREFIX)) {
        const credential = name.slice(CREDENTIAL_PREFIX.length).replace(/-cacert$/, "");
        if (mayReadCredential(principal, credential)) continue;
        return `${principal} may not read secret "${name}"`;
      }
      return `${principal} may not read secret "${name}": only ${WORKLOAD_SECRET}, ${ROOT_CA_SECRET} and granted ${CREDENTIAL_PREFIX}<name> credentials are served`;
    }
    return true;
  };
}

/**
 * An `authenticate` hook for @xdskit/server: a stream whose TLS client certificate this CA issued is
 * that workload's SPIFFE id; others are anonymous (and the Secret authorizer refuses them).
 */
export function createWorkloadAuthenticator(ca: {
  identityOfCertificate(certificate: Uint8Array): string;
}): (peer: { readonly certificate?: { readonly raw: Uint8Array } }) => { principal: string } | undefined {
  return (peer) => (peer.certificate ? { principal: ca.identityOfCertificate(peer.certificate.raw) } : undefined);
}
