// Certificate signing requests (PKCS#10): reading a workload's CSR and proving it holds the key, and
// writing one (what istio-agent does before calling the CA).

import { type KeyObject, sign as signSync, verify as verifyCallback } from "node:crypto";
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
import { extension } from "./certificate.js";
import { csrSignatureHashes, describeKey, signatureAlgorithmOf, workloadPublicKey } from "./keys.js";
import { derOfPem, encodePem } from "./pem.js";

/** PKCS#9 extensionRequest: the attribute carrying the extensions a CSR asks for. */
const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

/** What the CA reads from a CSR. */
export interface ParsedCsr {
  /** The requester's public key. */
  readonly publicKey: KeyObject;
  readonly subjectPublicKeyInfo: SubjectPublicKeyInfo;
  /** The same, DER. */
  readonly subjectPublicKeyInfoDer: Buffer;
  /** Why the key type is refused (see workloadPublicKey), or undefined. */
  readonly keyProblem: string | undefined;
  /** The SANs asked for, as "URI:spiffe://...", "DNS:name", "IP:addr"... */
  readonly subjectAltNames: readonly string[];
}

function refused(message: string): XdsKitError {
  return new XdsKitError("INVALID_ARGUMENT", message);
}

function verifyAsync(hash: string, data: Buffer, key: KeyObject, signature: Buffer): Promise<boolean> {
  return new Promise((resolve, reject) =>
    verifyCallback(hash, data, key, signature, (error, ok) => (error ? reject(error) : resolve(ok))),
  );
}

/**
 * Reads a PEM CSR and checks its signature (proof that the requester holds the private key).
 * Throws XdsKitError INVALID_ARGUMENT naming what is wrong: no CSR, not PKCS#10, a signature algorithm
 * or key that cannot be read, a signature that does not verify.
 */
export async function parseCsr(csrPem: string): Promise<ParsedCsr> {
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
  let request: CertificationRequest;
  try {
    request = AsnConvert.parse(der, CertificationRequest);
  } catch (error) {
    throw refused(`malformed CSR: not a PKCS#10 certification request (${(error as Error).message})`);
  }
  const info = request.certificationRequestInfo;
  const hash = csrSignatureHashes.get(request.signatureAlgorithm.algorithm);
  if (!hash)
    throw refused(
      `malformed CSR: signature algorithm ${request.signatureAlgorithm.algorithm} is not accepted (use ECDSA or RSA PKCS#1 v1.5 with SHA-256/384/512)`,
    );
  let publicKey: KeyObject;
  let keyProblem: string | undefined;
  let subjectPublicKeyInfoDer: Buffer;
  try {
    subjectPublicKeyInfoDer = Buffer.from(AsnConvert.serialize(info.subjectPKInfo));
    ({ key: publicKey, problem: keyProblem } = workloadPublicKey(info.subjectPKInfo, subjectPublicKeyInfoDer));
  } catch (error) {
    throw refused(`malformed CSR: its public key cannot be read (${(error as Error).message})`);
  }
  const raw = request.certificationRequestInfoRaw;
  if (!raw) throw refused("malformed CSR: no certificationRequestInfo");
  let verified: boolean;
  try {
    verified = await verifyAsync(hash, Buffer.from(raw), publicKey, Buffer.from(request.signature));
  } catch (error) {
    throw refused(
      `malformed CSR: its signature cannot be checked with its ${describeKey(publicKey)} key (${(error as Error).message})`,
    );
  }
  if (!verified) throw refused("malformed CSR: its signature does not verify with its own public key");
  return {
    publicKey,
    subjectPublicKeyInfo: info.subjectPKInfo,
    subjectPublicKeyInfoDer,
    keyProblem,
    subjectAltNames: subjectAltNamesOf(info),
  };
}

function subjectAltNamesOf(info: CertificationRequestInfo): string[] {
  const names: string[] = [];
  for (const attribute of info.attributes) {
    if (attribute.type !== EXTENSION_REQUEST) continue;
    for (const value of attribute.values) {
      for (const requested of AsnConvert.parse(value, Extensions)) {
        if (requested.extnID !== id_ce_subjectAltName) continue;
        for (const name of AsnConvert.parse(requested.extnValue, SubjectAlternativeName))
          names.push(describeName(name));
      }
    }
  }
  return names;
}

function describeName(name: GeneralName): string {
  if (name.uniformResourceIdentifier !== undefined) return `URI:${name.uniformResourceIdentifier}`;
  if (name.dNSName !== undefined) return `DNS:${name.dNSName}`;
  if (name.iPAddress !== undefined) return `IP:${name.iPAddress}`;
  if (name.rfc822Name !== undefined) return `email:${name.rfc822Name}`;
  return "othername";
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
