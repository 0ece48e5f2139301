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
import * as asn1js from "asn1js";
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

/** DER of a constructed element (SEQUENCE, or a context tag) around already-encoded DER elements; asn1js writes the tag and length. */
function constructed(tagClass: 1 | 3, tagNumber: number, content: Uint8Array): Buffer {
  const block = new asn1js.Primitive({ idBlock: { tagClass, tagNumber }, valueHex: content });
  block.idBlock.isConstructed = true;
  return Buffer.from(block.toBER(false));
}

const SEQUENCE = 16;

/** What stays the same for every leaf one CA signs, encoded once. */
export interface LeafTemplate {
  /** Signs a workload certificate: the parts that vary are encoded, the rest spliced in as DER. */
  sign(spiffeId: string, subjectPublicKeyInfoDer: Uint8Array, notBefore: Date, notAfter: Date): Promise<Buffer>;
}

/**
 * A leaf signer for one CA key and certificate. Building a certificate through the ASN.1 schema classes
 * costs several times the signature itself; here the constant parts (version, algorithm, issuer, empty
 * subject, key usages, authority key id) are encoded once, each identity's SAN extension once, and a
 * certificate is a few DER elements concatenated inside asn1js-encoded SEQUENCEs.
 */
export function createLeafTemplate(
  signerKey: KeyObject,
  algorithm: SignatureAlgorithm,
  issuer: Name,
  authorityKeyId: Buffer | undefined,
): LeafTemplate {
  const der = (value: unknown) => Buffer.from(AsnConvert.serialize(value));
  const version = constructed(3, 0, Buffer.from(new asn1js.Integer({ value: Version.v3 }).toBER(false)));
  const algorithmDer = der(algorithm.identifier);
  const issuerDer = der(issuer);
  const emptySubject = der(new Name());
  const [keyUsage, extendedKeyUsage, basicConstraints, ...rest] = workloadExtensions(
    "spiffe://x/ns/x/sa/x",
    authorityKeyId,
  );
  const constantExtensions = Buffer.concat(
    [keyUsage, extendedKeyUsage, basicConstraints, ...rest.slice(0, -1)].map((e) => der(e)),
  );
  // SAN extensions by SPIFFE id: a fleet rotates the same identities over and over.
  const sanExtensions = new Map<string, Buffer>();
  const extensionsOf = (spiffeId: string) => {
    let extensions = sanExtensions.get(spiffeId);
    if (!extensions) {
      const san = der(
        extension(
          id_ce_subjectAltName,
          true,
          new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: spiffeId })]),
        ),
      );
      extensions = constructed(3, 3, constructed(1, SEQUENCE, Buffer.concat([constantExtensions, san])));
      if (sanExtensions.size >= 10_000) sanExtensions.clear();
      sanExtensions.set(spiffeId, extensions);
    }
    return extensions;
  };
  // Validity by second: concurrent requests of one TTL share it.
  let lastValidity: { key: string; der: Buffer } | undefined;
  const validityOf = (notBefore: Date, notAfter: Date) => {
    const key = `${Math.floor(notBefore.getTime() / 1000)}|${Math.floor(notAfter.getTime() / 1000)}`;
    if (lastValidity?.key !== key) lastValidity = { key, der: der(new Validity({ notBefore, notAfter })) };
    return lastValidity.der;
  };
  return {
    async sign(spiffeId, subjectPublicKeyInfoDer, notBefore, notAfter) {
      const serial = Buffer.from(new asn1js.Integer({ valueHex: new Uint8Array(serialNumber()) }).toBER(false));
      const tbs = constructed(
        1,
        SEQUENCE,
        Buffer.concat([
          version,
          serial,
          algorithmDer,
          issuerDer,
          validityOf(notBefore, notAfter),
          emptySubject,
          subjectPublicKeyInfoDer,
          extensionsOf(spiffeId),
        ]),
      );
      // In node's thread pool: it costs a hand-off, but puts the other cores to work next to gRPC's thread.
      const signature = await signAsync(algorithm.hash, tbs, signerKey);
      const signatureBits = Buffer.from(new asn1js.BitString({ valueHex: signature }).toBER(false));
      return constructed(1, SEQUENCE, Buffer.concat([tbs, algorithmDer, signatureBits]));
    },
  };
}
