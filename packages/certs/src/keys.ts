// Key pairs the CA makes and the key types it accepts from workloads.

import { createPublicKey, generateKeyPair as generateKeyPairCallback, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { ECParameters, id_ecPublicKey, id_secp256r1, id_secp384r1 } from "@peculiar/asn1-ecc";
import { id_rsaEncryption } from "@peculiar/asn1-rsa";
import { AsnConvert } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import { XdsKitError } from "@xdskit/core";
import * as asn1js from "asn1js";

const generateKeyPairAsync = promisify(generateKeyPairCallback);

/** Key types the CA generates: for its root and for `issue()`. */
export type KeyAlgorithm = "ECDSA_P256" | "RSA_2048" | "RSA_4096";

export const keyAlgorithms: readonly KeyAlgorithm[] = ["ECDSA_P256", "RSA_2048", "RSA_4096"];

/** A new key pair of the given type (node:crypto, in its thread pool). */
export async function generateKeyPair(
  algorithm: KeyAlgorithm,
): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (algorithm) {
    case "ECDSA_P256":
      return generateKeyPairAsync("ec", { namedCurve: "prime256v1" });
    case "RSA_2048":
      return generateKeyPairAsync("rsa", { modulusLength: 2048 });
    case "RSA_4096":
      return generateKeyPairAsync("rsa", { modulusLength: 4096 });
    default:
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `unknown key algorithm "${String(algorithm)}": use one of ${keyAlgorithms.join(", ")}`,
      );
  }
}

const NULL_PARAMETERS = new Uint8Array([0x05, 0x00]).buffer;

/** How a key signs certificates: the digest for node:crypto and the AlgorithmIdentifier written in them. */
export interface SignatureAlgorithm {
  readonly hash: "sha256" | "sha384";
  readonly identifier: AlgorithmIdentifier;
}

/** The signature algorithm a CA key signs with: ECDSA P-256 → ecdsa-with-SHA256, P-384 → SHA384, RSA → SHA256. */
export function signatureAlgorithmOf(key: KeyObject): SignatureAlgorithm {
  if (key.asymmetricKeyType === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1")
      return { hash: "sha256", identifier: new AlgorithmIdentifier({ algorithm: "1.2.840.10045.4.3.2" }) };
    if (curve === "secp384r1")
      return { hash: "sha384", identifier: new AlgorithmIdentifier({ algorithm: "1.2.840.10045.4.3.3" }) };
  }
  if (key.asymmetricKeyType === "rsa")
    return {
      hash: "sha256",
      identifier: new AlgorithmIdentifier({ algorithm: "1.2.840.113549.1.1.11", parameters: NULL_PARAMETERS }),
    };
  throw new XdsKitError("INVALID_ARGUMENT", `a CA key must be ECDSA P-256, P-384 or RSA, not ${describeKey(key)}`);
}

/** Digests of the signature algorithms accepted on a CSR, by OID. */
export const csrSignatureHashes: ReadonlyMap<string, string> = new Map([
  ["1.2.840.10045.4.3.2", "sha256"],
  ["1.2.840.10045.4.3.3", "sha384"],
  ["1.2.840.113549.1.1.11", "sha256"],
  ["1.2.840.113549.1.1.12", "sha384"],
  ["1.2.840.113549.1.1.13", "sha512"],
]);

/** "ECDSA P-256", "RSA 2048", "ed25519"... for messages. */
export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "ec") return `ECDSA ${curveName(details?.namedCurve)}`;
  if (key.asymmetricKeyType === "rsa") return `RSA ${details?.modulusLength ?? "?"}`;
  return String(key.asymmetricKeyType);
}

function curveName(curve: string | undefined): string {
  if (curve === "prime256v1") return "P-256";
  if (curve === "secp384r1") return "P-384";
  if (curve === "secp521r1") return "P-521";
  return curve ?? "unknown curve";
}

/**
 * Why a workload key is refused, or undefined when it is accepted: ECDSA P-256 or P-384, RSA of 2048, 3072
 * or 4096 bits (the key types istio-agent makes, and no weaker).
 */
export function workloadKeyProblem(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "ec") {
    if (details?.namedCurve === "prime256v1" || details?.namedCurve === "secp384r1") return undefined;
  } else if (key.asymmetricKeyType === "rsa") {
    const bits = details?.modulusLength ?? 0;
    if (bits === 2048 || bits === 3072 || bits === 4096) return undefined;
  }
  return `key type ${describeKey(key)} is not accepted: use ECDSA P-256, ECDSA P-384 or RSA 2048/3072/4096`;
}

const EC_CURVES: ReadonlyMap<string, { crv: "P-256" | "P-384"; pointBytes: number }> = new Map([
  [id_secp256r1, { crv: "P-256", pointBytes: 65 }],
  [id_secp384r1, { crv: "P-384", pointBytes: 97 }],
]);

const base64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
const withoutLeadingZeros = (bytes: Uint8Array) => {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
};

/** A SubjectPublicKeyInfo's fields, as the CSR reader takes them apart. */
export interface WorkloadKeyFields {
  /** The key algorithm's OID. */
  readonly algorithm: string;
  /** An EC key's named curve OID (the algorithm's parameters), if they are one. */
  readonly namedCurve: string | undefined;
  /** The subjectPublicKey BIT STRING's bytes. */
  readonly subjectPublicKey: Uint8Array;
}

/** DER of an EC SubjectPublicKeyInfo up to its point, by curve OID: encoded once by the schema library. */
const ecSpkiPrefixes = new Map<string, Buffer>();

/**
 * The DER SubjectPublicKeyInfo of an accepted EC key, as the certificate carries it: the schema library's
 * encoding whatever the CSR's (exporting it through OpenSSL costs about as much as importing it).
 */
function ecSpkiDer(namedCurve: string, point: Uint8Array): Buffer {
  let prefix = ecSpkiPrefixes.get(namedCurve);
  if (!prefix) {
    const der = AsnConvert.serialize(
      new SubjectPublicKeyInfo({
        algorithm: new AlgorithmIdentifier({
          algorithm: id_ecPublicKey,
          parameters: AsnConvert.serialize(new ECParameters({ namedCurve })),
        }),
        subjectPublicKey: new Uint8Array(point.length).buffer,
      }),
    );
    prefix = Buffer.from(der, 0, der.byteLength - point.length);
    ecSpkiPrefixes.set(namedCurve, prefix);
  }
  return Buffer.concat([prefix, point]);
}

/** The INTEGERs of an RSAPublicKey (modulus, publicExponent), read with asn1js. */
function rsaPublicKeyOf(bytes: Uint8Array): { modulus: Uint8Array; publicExponent: Uint8Array } {
  const { offset, result } = asn1js.fromBER(bytes, { parseEmbedded: false, maxDepth: 4, maxNodes: 8 });
  const [modulus, publicExponent] = result instanceof asn1js.Sequence ? result.valueBlock.value : [];
  if (offset !== bytes.length || !(modulus instanceof asn1js.Integer) || !(publicExponent instanceof asn1js.Integer))
    throw new Error("the RSA public key is not SEQUENCE { modulus INTEGER, publicExponent INTEGER }");
  return { modulus: modulus.valueBlock.valueHexView, publicExponent: publicExponent.valueBlock.valueHexView };
}

/**
 * A workload's public key from its SubjectPublicKeyInfo, and why it is refused if it is. The accepted key
 * types are imported as JWK from the parsed fields: OpenSSL 3 decodes DER keys several times slower, and a
 * CA reads one key per request. Anything else goes through the DER decoder, for the message.
 */
export function workloadPublicKey(
  spki: WorkloadKeyFields,
  spkiDer: Uint8Array,
): { readonly key: KeyObject; readonly problem: string | undefined; readonly der: Buffer } {
  const point = spki.subjectPublicKey;
  if (spki.algorithm === id_ecPublicKey && spki.namedCurve) {
    const curve = EC_CURVES.get(spki.namedCurve);
    // Uncompressed points only (0x04 || X || Y); compressed ones take the DER path.
    if (curve && point.length === curve.pointBytes && point[0] === 0x04) {
      const half = (curve.pointBytes - 1) / 2;
      const jwk = {
        kty: "EC",
        crv: curve.crv,
        x: base64url(point.subarray(1, 1 + half)),
        y: base64url(point.subarray(1 + half)),
      };
      return {
        key: createPublicKey({ key: jwk, format: "jwk" }),
        problem: undefined,
        der: ecSpkiDer(spki.namedCurve, point),
      };
    }
  } else if (spki.algorithm === id_rsaEncryption) {
    const rsa = rsaPublicKeyOf(point);
    const modulus = withoutLeadingZeros(rsa.modulus);
    const bits = modulus.length * 8 - Math.clz32(modulus[0] ?? 0) + 24;
    if (bits === 2048 || bits === 3072 || bits === 4096) {
      const jwk = { kty: "RSA", n: base64url(modulus), e: base64url(withoutLeadingZeros(rsa.publicExponent)) };
      const key = createPublicKey({ key: jwk, format: "jwk" });
      return { key, problem: undefined, der: key.export({ format: "der", type: "spki" }) };
    }
  }
  const der = Buffer.from(spkiDer);
  const key = createPublicKey({ key: der, format: "der", type: "spki" });
  return { key, problem: workloadKeyProblem(key) ?? `key type ${describeKey(key)} is not accepted`, der };
}
