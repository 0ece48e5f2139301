// Building and signing X.509 certificates: the ASN.1 structures come from @peculiar/asn1-x509, the
// signature from node:crypto (in its thread pool).

import { createHash, type KeyObject, randomBytes, sign as signCallback } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  type SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import type { SignatureAlgorithm } from "./keys.js";

/** What goes into a certificate besides its issuer's key. */
export interface CertificateTemplate {
  readonly subject: Name;
  readonly issuer: Name;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The subject's public key, SubjectPublicKeyInfo DER. */
  readonly subjectPublicKeyInfo: SubjectPublicKeyInfo;
  readonly extensions: readonly Extension[];
}

/** A positive 128-bit serial number (RFC 5280 allows up to 20 octets; the first bit clear keeps it positive). */
function serialNumber(): ArrayBuffer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return new Uint8Array(bytes).buffer;
}

function signAsync(hash: string, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    signCallback(hash, data, key, (error, signature) => (error ? reject(error) : resolve(signature))),
  );
}

/** Signs `template` with `signerKey`; returns the certificate's DER. */
export async function signCertificate(
  template: CertificateTemplate,
  signerKey: KeyObject,
  algorithm: SignatureAlgorithm,
): Promise<Buffer> {
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber(),
    signature: algorithm.identifier,
    issuer: template.issuer,
    validity: new Validity({ notBefore: template.notBefore, notAfter: template.notAfter }),
    subject: template.subject,
    subjectPublicKeyInfo: template.subjectPublicKeyInfo,
    extensions: new Extensions([...template.extensions]),
  });
  const tbs = Buffer.from(AsnConvert.serialize(tbsCertificate));
  const signature = await signAsync(algorithm.hash, tbs, signerKey);
  const certificate = new Certificate({
    tbsCertificate,
    tbsCertificateRaw: new Uint8Array(tbs).buffer,
    signatureAlgorithm: algorithm.identifier,
    signatureValue: new Uint8Array(signature).buffer,
  });
  return Buffer.from(AsnConvert.serialize(certificate));
}

/** An extension whose value is the DER of `value`. */
export function extension(id: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** RFC 5280's key identifier (method 1): SHA-1 of the subjectPublicKey bits. */
export function keyIdentifierOf(spki: SubjectPublicKeyInfo): Buffer {
  return createHash("sha1").update(Buffer.from(spki.subjectPublicKey)).digest();
}

/** A Name of one organization attribute ("O=cluster.local"), as Istio's self-signed root has. */
export function organizationName(organization: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: "2.5.4.10", value: new AttributeValue({ utf8String: organization }) }),
    ]),
  ]);
}

/** Extensions of a CA certificate: CA:true (critical), keyCertSign + cRLSign + digitalSignature, SKI. */
export function caExtensions(spki: SubjectPublicKeyInfo, authorityKeyId?: Buffer): Extension[] {
  const keyId = keyIdentifierOf(spki);
  return [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
    extension(
      id_ce_keyUsage,
      true,
      new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature),
    ),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyId)),
    ...(authorityKeyId
      ? [
          extension(
            id_ce_authorityKeyIdentifier,
            false,
            new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(authorityKeyId) }),
          ),
        ]
      : []),
  ];
}

/**
 * Extensions of a workload (leaf) certificate, Istio's profile: the SPIFFE id as the only SAN (a URI,
 * critical because the subject is empty), digitalSignature + keyEncipherment, serverAuth + clientAuth,
 * not a CA, and the issuer's key identifier.
 */
export function workloadExtensions(spiffeId: string, authorityKeyId: Buffer | undefined): Extension[] {
  return [
    extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment)),
    extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    ...(authorityKeyId
      ? [
          extension(
            id_ce_authorityKeyIdentifier,
            false,
            new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(authorityKeyId) }),
          ),
        ]
      : []),
    extension(
      id_ce_subjectAltName,
      true,
      new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: spiffeId })]),
    ),
  ];
}

/** The parsed structure of a certificate's DER. */
export function parseCertificate(der: Uint8Array): Certificate {
  return AsnConvert.parse(der, Certificate);
}

/** The subject key identifier of a parsed certificate, if it has one. */
export function subjectKeyIdOf(certificate: Certificate): Buffer | undefined {
  const found = certificate.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  if (!found) return undefined;
  return Buffer.from(AsnConvert.parse(found.extnValue, SubjectKeyIdentifier).buffer);
}
