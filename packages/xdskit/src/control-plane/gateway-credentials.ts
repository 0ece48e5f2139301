// Gateway credentials (a Gateway server's `tls.credentialName`), as istiod serves them: from Kubernetes Secret
// objects of the config, read in the namespace of the gateway proxy that asks, served over SDS as
// `kubernetes://<name>` (certificate and key) and `kubernetes://<name>-cacert` (the CA that client certificates of a
// MUTUAL server must chain to: the Secret `<name>-cacert` if there is one, else `ca.crt` of `<name>`).
import { createPrivateKey, X509Certificate } from "node:crypto";
import { CA_CERT_SUFFIX, CREDENTIAL_PREFIX, gatewayCredentialSecrets, rootCaSecret } from "@xdskit/certs";
import type { Secret } from "@xdskit/core";
import type { AnyConfigObject, ConfigDiagnostic, ConfigObject } from "@xdskit/translate";

/** istiod's keys: a kubernetes.io/tls Secret's, then a generic Secret's. */
const CERT_KEYS = ["tls.crt", "cert"] as const;
const KEY_KEYS = ["tls.key", "key"] as const;
const CA_KEYS = ["ca.crt", "cacert"] as const;
const CREDENTIAL_TYPES = new Set(["kubernetes.io/tls", "Opaque"]);
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

type SecretObject = ConfigObject<"Secret">;

export const isSecret = (object: AnyConfigObject): object is SecretObject => object.kind === "Secret";

/** A Secret's credential, as PEM texts; undefined for Secrets that are no credential (other types, other keys). */
interface Credential {
  readonly certificateChain?: string;
  readonly privateKey?: string;
  readonly caCertificate?: string;
}

type Read = { value?: string; key?: string; problem?: string };

/** One of `keys` of a Secret: `stringData` over `data` (base64), as the API server merges them. */
function readKey(secret: SecretObject, keys: readonly string[]): Read {
  for (const key of keys) {
    const text = secret.spec.stringData?.[key];
    if (text !== undefined)
      return typeof text === "string"
        ? { value: text, key: `stringData["${key}"]` }
        : { key: `stringData["${key}"]`, problem: "must be a string" };
    const data = secret.spec.data?.[key];
    if (data === undefined) continue;
    const where = `data["${key}"]`;
    if (typeof data !== "string" || !/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(data))
      return { key: where, problem: "must be base64 text" };
    return { value: Buffer.from(data, "base64").toString("utf8"), key: where };
  }
  return {};
}

const isCredentialType = (secret: SecretObject) => CREDENTIAL_TYPES.has(secret.spec.type ?? "Opaque");

/** The credential of a Secret, without checking it (checked at the door by {@link credentialDiagnostics}). */
function credentialOf(secret: SecretObject): Credential | undefined {
  if (!isCredentialType(secret)) return undefined;
  const certificateChain = readKey(secret, CERT_KEYS).value;
  const privateKey = readKey(secret, KEY_KEYS).value;
  const caCertificate = readKey(secret, CA_KEYS).value;
  if (!(certificateChain && privateKey) && !caCertificate) return undefined;
  return {
    ...(certificateChain && privateKey ? { certificateChain, privateKey } : {}),
    ...(caCertificate ? { caCertificate } : {}),
  };
}

/**
 * The problems of gateway credential Secrets (other objects are not looked at): errors reject the Secret, so its
 * last good version keeps being served. A kubernetes.io/tls Secret needs `tls.crt` and `tls.key`; certificates
 * must be PEM, the key must be the certificate's.
 */
export function credentialDiagnostics(objects: readonly AnyConfigObject[]): ConfigDiagnostic[] {
  const diagnostics: ConfigDiagnostic[] = [];
  for (const object of objects) {
    if (!isSecret(object) || !isCredentialType(object)) continue;
    const secret = object;
    const report = (severity: "error" | "warning", path: string, message: string) => {
      // Positions are indexed by plain dotted paths (`data.tls.key`); the message spells the key as written.
      const at = secret.source?.positionOf(path.replace(/\["([^"]*)"\]/g, ".$1"));
      diagnostics.push({
        severity,
        code: severity === "error" ? "XDS_INVALID_CREDENTIAL" : "XDS_CREDENTIAL_WARNING",
        kind: "Secret",
        name: secret.metadata.name,
        namespace: secret.metadata.namespace,
        path,
        message,
        ...(secret.source?.file ? { file: secret.source.file } : {}),
        ...(at ? { line: at.line, column: at.column } : {}),
      });
    };
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(secret.metadata.name))
      report(
        "error",
        "metadata.name",
        "a gateway credential's name must be a Kubernetes name (lower case, digits, '-', '.')",
      );
    const cert = readKey(secret, CERT_KEYS);
    const key = readKey(secret, KEY_KEYS);
    const ca = readKey(secret, CA_KEYS);
    for (const read of [cert, key, ca])
      if (read.problem) report("error", read.key as string, `${read.key} ${read.problem}`);
    if (cert.problem || key.problem || ca.problem) continue;
    const tlsType = secret.spec.type === "kubernetes.io/tls";
    if (tlsType || cert.value !== undefined || key.value !== undefined)
      for (const [read, name] of [
        [cert, "tls.crt"],
        [key, "tls.key"],
      ] as const)
        if (read.value === undefined)
          report(
            "error",
            `data["${name}"]`,
            `a ${tlsType ? "kubernetes.io/tls" : "gateway credential"} Secret needs ${name} (the ${name === "tls.crt" ? "certificate chain" : "private key"}, PEM)`,
          );
    let leaf: X509Certificate | undefined;
    if (cert.value !== undefined) {
      const blocks = cert.value.match(PEM_CERTIFICATE) ?? [];
      try {
        if (blocks.length === 0) throw new Error("no PEM CERTIFICATE block");
        leaf = new X509Certificate(blocks[0] as string);
        for (const block of blocks.slice(1)) new X509Certificate(block);
        if (new Date(leaf.validTo).getTime() < Date.now())
          report("warning", cert.key as string, `the certificate expired at ${leaf.validTo}`);
      } catch (error) {
        leaf = undefined;
        report("error", cert.key as string, `${cert.key} is not a PEM certificate chain: ${(error as Error).message}`);
      }
    }
    if (key.value !== undefined) {
      try {
        const privateKey = createPrivateKey(key.value);
        if (leaf && !leaf.checkPrivateKey(privateKey))
          report("error", key.key as string, `${key.key} is not the private key of the certificate in ${cert.key}`);
      } catch (error) {
        report("error", key.key as string, `${key.key} is not a PEM private key: ${(error as Error).message}`);
      }
    }
    if (ca.value !== undefined) {
      const blocks = ca.value.match(PEM_CERTIFICATE) ?? [];
      try {
        if (blocks.length === 0) throw new Error("no PEM CERTIFICATE block");
        for (const block of blocks) new X509Certificate(block);
      } catch (error) {
        report("error", ca.key as string, `${ca.key} is not PEM certificates: ${(error as Error).message}`);
      }
    }
  }
  return diagnostics;
}

export interface GatewayCredentials {
  /** Takes the current Secrets; returns the namespaces whose credentials changed. */
  update(secrets: readonly SecretObject[]): ReadonlySet<string>;
  /** The SDS secrets a gateway proxy of `namespace` is served (names `kubernetes://…`). */
  secretsIn(namespace: string): readonly Secret[];
}

export function createGatewayCredentials(): GatewayCredentials {
  // The intake serves an unchanged object as the same object, so a namespace changed iff its list of Secret objects did.
  let byNamespace = new Map<
    string,
    { readonly objects: readonly SecretObject[]; readonly secrets: readonly Secret[] }
  >();

  const build = (objects: readonly SecretObject[]): Secret[] => {
    const credentials = new Map<string, Credential>();
    for (const object of objects) {
      const credential = credentialOf(object);
      if (credential) credentials.set(object.metadata.name, credential);
    }
    const secrets: Secret[] = [];
    for (const [name, credential] of credentials) {
      // `kubernetes://<name>-cacert` asks for a CA: the Secret of that name if it exists, else <name>'s ca.crt.
      if (name.endsWith(CA_CERT_SUFFIX)) {
        if (credential.caCertificate)
          secrets.push(rootCaSecret([credential.caCertificate], `${CREDENTIAL_PREFIX}${name}`));
        continue;
      }
      if (credential.certificateChain && credential.privateKey)
        secrets.push(
          ...gatewayCredentialSecrets(name, {
            certificateChain: credential.certificateChain,
            privateKey: credential.privateKey,
          }),
        );
      if (credential.caCertificate && !credentials.has(`${name}${CA_CERT_SUFFIX}`))
        secrets.push(rootCaSecret([credential.caCertificate], `${CREDENTIAL_PREFIX}${name}${CA_CERT_SUFFIX}`));
    }
    return secrets;
  };

  return {
    update(objects) {
      const grouped = new Map<string, SecretObject[]>();
      for (const object of objects) {
        if (!isCredentialType(object)) continue;
        const namespace = object.metadata.namespace ?? "default";
        const list = grouped.get(namespace) ?? [];
        grouped.set(namespace, list);
        list.push(object);
      }
      const next = new Map<string, { objects: readonly SecretObject[]; secrets: readonly Secret[] }>();
      const changed = new Set<string>();
      for (const [namespace, list] of grouped) {
        list.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
        const previous = byNamespace.get(namespace);
        const same =
          previous !== undefined &&
          previous.objects.length === list.length &&
          previous.objects.every((object, index) => object === list[index]);
        if (same) next.set(namespace, previous);
        else {
          const secrets = build(list);
          next.set(namespace, { objects: list, secrets });
          if (!sameSecrets(previous?.secrets ?? [], secrets)) changed.add(namespace);
        }
      }
      for (const [namespace, previous] of byNamespace)
        if (!next.has(namespace) && previous.secrets.length > 0) changed.add(namespace);
      byNamespace = next;
      return changed;
    },
    secretsIn: (namespace) => byNamespace.get(namespace)?.secrets ?? [],
  };
}

/** Two lists of built secrets with the same names and bytes (a re-applied, identical Secret changes nothing). */
function sameSecrets(a: readonly Secret[], b: readonly Secret[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((secret, index) => JSON.stringify(secret) === JSON.stringify(b[index]));
}

/**
 * The authorizer's rule for `kubernetes://` names: a credential is read from the proxy's own namespace (Istio's
 * rule), so a name that points into another namespace (`kubernetes://<namespace>/<name>`) is refused.
 */
export function mayReadCredential(spiffeId: string, credentialName: string): boolean {
  return !credentialName.includes("/") && spiffeId.length > 0;
}
