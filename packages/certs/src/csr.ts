// Certificate signing requests (PKCS#10): reading a workload's CSR and proving it holds the key, and
// writing one (what istio-agent does before calling the CA).

import { type KeyObject, sign as signSync, verify as verifyCallback, verify as verifySync } from "node:crypto";
import { Attributes, CertificationRequest, CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  Attribute,
  type Extension,
  Extensions,
  GeneralName,
  id_ce_subjectAltName,
  Name,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
} from "@peculiar/asn1-x509";
import { XdsKitError } from "@xdskit/core";
import * as asn1js from "asn1js";
import { extension } from "./certificate.js";
import {
  csrSignatureHashes,
  describeKey,
  signatureAlgorithmOf,
  type WorkloadKeyFields,
  workloadPublicKey,
} from "./keys.js";
import { derOfPem, encodePem } from "./pem.js";

/** PKCS#9 extensionRequest: the attribute carrying the extensions a CSR asks for. */
const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

/** What the CA reads from a CSR. */
export interface ParsedCsr {
  /** The requester's public key. */
  readonly publicKey: KeyObject;
  /** Its SubjectPublicKeyInfo, DER (re-encoded, not the CSR's bytes: what goes into the certificate). */
  readonly subjectPublicKeyInfoDer: Buffer;
  /** Why the key type is refused (see workloadPublicKey), or undefined. */
  readonly keyProblem: string | undefined;
  /** The SANs asked for, as "URI:spiffe://...", "DNS:name", "IP:addr"... */
  readonly subjectAltNames: readonly string[];
}

function refused(message: string): XdsKitError {
  return new XdsKitError("INVALID_ARGUMENT", message);
}

function verifyAsync(hash: string, data: Uint8Array, key: KeyObject, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) =>
    verifyCallback(hash, data, key, signature, (error, ok) => (error ? reject(error) : resolve(ok))),
  );
}

// A CSR is read with asn1js's decoder and walked by hand: the schema layer (@peculiar/asn1-csr) costs several
// signatures' worth of time per CSR, most of a signing. Every step checks what it reads and names it.

/** The one DER element of `bytes`, limits set for untrusted input; nothing may follow it. */
function decode(bytes: Uint8Array, what: string): asn1js.AsnType {
  const { offset, result } = asn1js.fromBER(bytes, { parseEmbedded: false, maxDepth: 32, maxNodes: 4096 });
  if (offset === -1 || result.error) throw new Error(`${what}: ${result.error || "not DER"}`);
  if (offset !== bytes.length) throw new Error(`${what}: ${bytes.length - offset} bytes after its end`);
  return result;
}

function sequence(block: asn1js.AsnType | undefined, what: string): asn1js.AsnType[] {
  if (!(block instanceof asn1js.Sequence)) throw new Error(`${what} is not a SEQUENCE`);
  return block.valueBlock.value;
}

function oid(block: asn1js.AsnType | undefined, what: string): string {
  if (!(block instanceof asn1js.ObjectIdentifier)) throw new Error(`${what} is not an OBJECT IDENTIFIER`);
  return block.getValue();
}

function bitString(block: asn1js.AsnType | undefined, what: string): Uint8Array {
  if (!(block instanceof asn1js.BitString) || block.valueBlock.isConstructed || block.valueBlock.unusedBits !== 0)
    throw new Error(`${what} is not a BIT STRING of whole bytes`);
  return block.valueBlock.valueHexView;
}

function octetString(block: asn1js.AsnType | undefined, what: string): Uint8Array {
  if (!(block instanceof asn1js.OctetString) || block.valueBlock.isConstructed)
    throw new Error(`${what} is not an OCTET STRING`);
  return block.valueBlock.valueHexView;
}

/** AlgorithmIdentifier: its OID, and its parameters' OID when they are one (an EC key's named curve). */
function algorithmOf(block: asn1js.AsnType | undefined, what: string): { oid: string; parameterOid?: string } {
  const [algorithm, parameters] = sequence(block, what);
  const id = oid(algorithm, `${what}.algorithm`);
  return parameters instanceof asn1js.ObjectIdentifier ? { oid: id, parameterOid: parameters.getValue() } : { oid: id };
}

/** The parts of a PKCS#10 CertificationRequest the CA reads; the signed part and the key as raw DER. */
interface CsrFields {
  readonly info: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly publicKey: WorkloadKeyFields;
  readonly subjectPublicKeyInfo: Uint8Array;
  /** The extensionRequest attributes' values. */
  readonly extensionRequests: readonly asn1js.AsnType[];
}

function csrFields(der: Uint8Array): CsrFields {
  const [info, signatureAlgorithm, signature, ...extra] = sequence(decode(der, "CSR"), "CertificationRequest");
  if (extra.length > 0) throw new Error("CertificationRequest has more than three fields");
  const [version, subject, spki, attributes] = sequence(info, "certificationRequestInfo");
  if (!(version instanceof asn1js.Integer)) throw new Error("certificationRequestInfo.version is not an INTEGER");
  sequence(subject, "certificationRequestInfo.subject");
  const [keyAlgorithm, subjectPublicKey] = sequence(spki, "subjectPKInfo");
  const algorithm = algorithmOf(keyAlgorithm, "subjectPKInfo.algorithm");
  const extensionRequests: asn1js.AsnType[] = [];
  // attributes [0] IMPLICIT SET OF Attribute (absent is read as empty).
  if (attributes !== undefined) {
    const { tagClass, tagNumber } = attributes.idBlock;
    if (!(attributes instanceof asn1js.Constructed) || tagClass !== 3 || tagNumber !== 0)
      throw new Error("certificationRequestInfo.attributes is not [0] SET OF Attribute");
    for (const attribute of attributes.valueBlock.value) {
      const [type, values] = sequence(attribute, "Attribute");
      if (!(values instanceof asn1js.Set)) throw new Error("Attribute.values is not a SET");
      if (oid(type, "Attribute.type") === EXTENSION_REQUEST) extensionRequests.push(...values.valueBlock.value);
    }
  }
  return {
    // Both are SEQUENCEs (sequence() checked): their bytes as received, the signed part verbatim.
    info: (info as asn1js.Sequence).valueBeforeDecodeView,
    signatureAlgorithm: algorithmOf(signatureAlgorithm, "signatureAlgorithm").oid,
    signature: bitString(signature, "signature"),
    publicKey: {
      algorithm: algorithm.oid,
      namedCurve: algorithm.parameterOid,
      subjectPublicKey: bitString(subjectPublicKey, "subjectPKInfo.subjectPublicKey"),
    },
    subjectPublicKeyInfo: (spki as asn1js.Sequence).valueBeforeDecodeView,
    extensionRequests,
  };
}

/** A CSR read and its key imported, its signature not yet checked. */
interface UnverifiedCsr {
  readonly request: CsrFields;
  readonly hash: string;
  readonly publicKey: KeyObject;
  readonly keyProblem: string | undefined;
  readonly subjectPublicKeyInfoDer: Buffer;
}

function readUnverified(csrPem: string): UnverifiedCsr {
  if (typeof csrPem !== "string" || csrPem.length === 0) throw refused("malformed CSR: the request has no CSR");
  let blocks: Buffer[];
  try {
    blocks = derOfPem(csrPem, "CERTIFICATE REQUEST");
  } catch (error) {
    throw refused(`malformed CSR: ${(error as Error).message}`);
  }
  const der = blocks[0];
  if (!der || blocks.length !== 1)
    throw refused(`malformed CSR: expected one PEM block "CERTIFICATE REQUEST", found ${blocks.length}`);
  let request: CsrFields;
  try {
    request = csrFields(der);
  } catch (error) {
    throw refused(`malformed CSR: not a PKCS#10 certification request (${(error as Error).message})`);
  }
  const hash = csrSignatureHashes.get(request.signatureAlgorithm);
  if (!hash)
    throw refused(
      `malformed CSR: signature algorithm ${request.signatureAlgorithm} is not accepted (use ECDSA or RSA PKCS#1 v1.5 with SHA-256/384/512)`,
    );
  try {
    const { key, problem, der: spkiDer } = workloadPublicKey(request.publicKey, request.subjectPublicKeyInfo);
    return { request, hash, publicKey: key, keyProblem: problem, subjectPublicKeyInfoDer: spkiDer };
  } catch (error) {
    throw refused(`malformed CSR: its public key cannot be read (${(error as Error).message})`);
  }
}

function verifyFailure(csr: UnverifiedCsr, error: unknown): XdsKitError {
  return refused(
    `malformed CSR: its signature cannot be checked with its ${describeKey(csr.publicKey)} key (${(error as Error).message})`,
  );
}

function verifiedCsr(csr: UnverifiedCsr, verified: boolean): ParsedCsr {
  if (!verified) throw refused("malformed CSR: its signature does not verify with its own public key");
  let subjectAltNames: string[];
  try {
    subjectAltNames = subjectAltNamesOf(csr.request.extensionRequests);
  } catch (error) {
    throw refused(`malformed CSR: its extension request cannot be read (${(error as Error).message})`);
  }
  return {
    publicKey: csr.publicKey,
    subjectPublicKeyInfoDer: csr.subjectPublicKeyInfoDer,
    keyProblem: csr.keyProblem,
    subjectAltNames,
  };
}

/**
 * Reads a PEM CSR and checks its signature (proof that the requester holds the private key).
 * Throws XdsKitError INVALID_ARGUMENT naming what is wrong: no CSR, not PKCS#10, a signature algorithm
 * or key that cannot be read, a signature that does not verify, an extension request that cannot be read.
 * The signature is checked in node's thread pool: on a CA thread that also runs gRPC, that puts the other
 * cores to work (measured faster than checking it in line, though the hand-off costs CPU).
 */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
  const csr = readUnverified(csrPem);
  let verified: boolean;
  try {
    verified = await verifyAsync(csr.hash, csr.request.info, csr.publicKey, csr.request.signature);
  } catch (error) {
    throw verifyFailure(csr, error);
  }
  return verifiedCsr(csr, verified);
}

/** {@link parseCsr} with the signature checked on this thread: for CSR worker threads, which have nothing else to do. */
export function parseCsrSync(csrPem: string): ParsedCsr {
  const csr = readUnverified(csrPem);
  let verified: boolean;
  try {
    verified = verifySync(csr.hash, csr.request.info, csr.publicKey, csr.request.signature);
  } catch (error) {
    throw verifyFailure(csr, error);
  }
  return verifiedCsr(csr, verified);
}

/** GeneralName tags ([n] IMPLICIT) of the names the CA reads; others are reported as "othername". */
const GENERAL_NAME_PREFIXES: ReadonlyMap<number, string> = new Map([
  [1, "email:"],
  [2, "DNS:"],
  [6, "URI:"],
  [7, "IP:"],
]);

function subjectAltNamesOf(extensionRequests: readonly asn1js.AsnType[]): string[] {
  const names: string[] = [];
  for (const requested of extensionRequests) {
    for (const extension of sequence(requested, "Extensions")) {
      const [id, ...rest] = sequence(extension, "Extension");
      if (oid(id, "Extension.extnID") !== id_ce_subjectAltName) continue;
      const value = octetString(rest[rest.length - 1], "subjectAltName extnValue");
      for (const name of sequence(decode(value, "subjectAltName"), "GeneralNames")) {
        const { tagClass, tagNumber, isConstructed } = name.idBlock;
        const prefix = tagClass === 3 && !isConstructed ? GENERAL_NAME_PREFIXES.get(tagNumber) : undefined;
        if (!prefix || !(name instanceof asn1js.Primitive)) {
          names.push("othername");
          continue;
        }
        const bytes = name.valueBlock.valueHexView;
        names.push(prefix + (prefix === "IP:" ? ipAddressText(bytes) : Buffer.from(bytes).toString("latin1")));
      }
    }
  }
  return names;
}

/** "10.0.0.1", "2001:db8::1" (RFC 5952, as URLs write it), or hex for any other length. */
function ipAddressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
    return new URL(`http://[${groups.join(":")}]`).hostname.slice(1, -1);
  }
  return Buffer.from(bytes).toString("hex");
}

/**
 * A PEM CSR for `spiffeId` signed by `privateKey` (empty subject, the SPIFFE id as a URI SAN), as
 * istio-agent sends. For clients and tests; the CA does not need it.
 */
export function createCsr(spiffeId: string, privateKey: KeyObject, publicKey: KeyObject): string {
  const algorithm = signatureAlgorithmOf(privateKey);
  const subjectPKInfo = AsnConvert.parse(publicKey.export({ format: "der", type: "spki" }), SubjectPublicKeyInfo);
  const requested: Extension = extension(
    id_ce_subjectAltName,
    true,
    new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: spiffeId })]),
  );
  const info = new CertificationRequestInfo({
    version: 0,
    subject: new Name(),
    subjectPKInfo,
    attributes: new Attributes([
      new Attribute({ type: EXTENSION_REQUEST, values: [AsnConvert.serialize(new Extensions([requested]))] }),
    ]),
  });
  const infoDer = Buffer.from(AsnConvert.serialize(info));
  const signature = signSync(algorithm.hash, infoDer, privateKey);
  const request = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: algorithm.identifier,
    signature: new Uint8Array(signature).buffer,
  });
  return encodePem("CERTIFICATE REQUEST", Buffer.from(AsnConvert.serialize(request)));
}
