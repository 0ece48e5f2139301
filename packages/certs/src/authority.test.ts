import { execFileSync } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createCertificateAuthority, formatDuration } from "./authority.js";
import { createCsr } from "./csr.js";
import { openssl, opensslPluginCa, opensslText, opensslVerify, tempDir } from "./testing/openssl.js";

const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

function checkWithNode(chain: readonly string[], roots: readonly string[]) {
  const certificates = chain.map((pem) => new X509Certificate(pem));
  for (let i = 0; i + 1 < certificates.length; i++) {
    const child = certificates[i] as X509Certificate;
    const parent = certificates[i + 1] as X509Certificate;
    expect(child.checkIssued(parent)).toBe(true);
    expect(child.verify(parent.publicKey)).toBe(true);
  }
  const last = certificates[certificates.length - 1] as X509Certificate;
  expect(roots.map((r) => new X509Certificate(r).fingerprint256)).toContain(last.fingerprint256);
  return certificates;
}

describe("self-signed CA", () => {
  for (const rootKeyAlgorithm of ["ECDSA_P256", "RSA_2048"] as const) {
    it(`issues Istio's leaf profile under a ${rootKeyAlgorithm} root, verified by openssl and node:crypto`, async () => {
      const ca = await createCertificateAuthority({ trustDomain: "example.org", rootKeyAlgorithm });
      const before = Date.now();
      const issued = await ca.issue({ namespace: "default", serviceAccount: "bookinfo-reviews" });
      expect(issued.spiffeId).toBe("spiffe://example.org/ns/default/sa/bookinfo-reviews");
      expect(issued.certChain).toHaveLength(2);
      const [leaf, root] = checkWithNode(issued.certChain, issued.trustBundle) as [X509Certificate, X509Certificate];
      expect(leaf.subjectAltName).toBe("URI:spiffe://example.org/ns/default/sa/bookinfo-reviews");
      expect(leaf.subject ?? "").toBe("");
      expect(leaf.ca).toBe(false);
      expect(leaf.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
      expect(root.ca).toBe(true);
      expect(root.subject).toBe("O=example.org");
      // NotBefore two minutes back (to the second), NotAfter 24 h on.
      const notBefore = Date.parse(leaf.validFrom);
      const notAfter = Date.parse(leaf.validTo);
      expect(Math.abs(notBefore - (before - 120_000))).toBeLessThan(5_000);
      expect(Math.abs(notAfter - (before + 86_400_000))).toBeLessThan(5_000);
      expect(Date.parse(root.validTo) - Date.parse(root.validFrom)).toBeGreaterThan(9.9 * 365 * 86_400_000);

      const text = opensslText(issued.certChain[0] as string);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(
        /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/example.org\/ns\/default\/sa\/bookinfo-reviews\n/,
      );
      expect(text).toMatch(/X509v3 Authority Key Identifier/);
      for (const purpose of ["sslserver", "sslclient"])
        expect(
          opensslVerify({ roots: issued.trustBundle.join(""), leaf: issued.certChain[0] as string, purpose }),
        ).toMatch(/: OK/);
      // The private key is the leaf's.
      expect(leaf.checkPrivateKey(await import("node:crypto").then((c) => c.createPrivateKey(issued.privateKey)))).toBe(
        true,
      );
    });
  }

  it("persists its root in a directory, the key readable by its owner only, and reads it back", async () => {
    const dir = join(tempDir(), "ca");
    const first = await createCertificateAuthority({ dir });
    expect(statSync(join(dir, "ca-key.pem")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "root-cert.pem"), "utf8")).toBe(first.trustBundle[0]);
    const second = await createCertificateAuthority({ dir });
    expect(second.trustBundle).toEqual(first.trustBundle);
    const issued = await second.issue({ namespace: "ns1", serviceAccount: "sa1" });
    expect(opensslVerify({ roots: first.trustBundle.join(""), leaf: issued.certChain[0] as string })).toMatch(/: OK/);
  });

  it("clamps NotAfter to the signer's and refuses TTLs above the maximum with a clear message", async () => {
    const ca = await createCertificateAuthority({ rootTtlSeconds: 3600 });
    const issued = await ca.issue({ namespace: "default", serviceAccount: "sa", ttlSeconds: 86_400 });
    expect(issued.notAfter.getTime()).toBe(ca.notAfter.getTime());
    expect(Date.parse(new X509Certificate(issued.certChain[0] as string).validTo)).toBe(ca.notAfter.getTime());
    await expect(ca.issue({ namespace: "default", serviceAccount: "sa", ttlSeconds: 91 * 86_400 })).rejects.toThrow(
      "requested TTL 91d is above the maximum 90d",
    );
    await expect(ca.issue({ namespace: "default", serviceAccount: "sa", ttlSeconds: -5 })).rejects.toThrow(
      "requested TTL -5 must be a positive whole number of seconds",
    );
    expect(formatDuration(90 * 86_400)).toBe("90d");
  });

  it("rotates its root with an overlapping trust bundle: staged, activated, retired", async () => {
    const dir = join(tempDir(), "ca");
    const ca = await createCertificateAuthority({ dir });
    const oldRoot = ca.trustBundle[0] as string;
    const oldLeaf = await ca.issue({ namespace: "default", serviceAccount: "a" });

    await ca.stageRoot();
    expect(ca.rootRotation).toBe("staged");
    expect(ca.trustBundle).toHaveLength(2);
    expect(ca.trustBundle[0]).toBe(oldRoot);
    const newRoot = ca.trustBundle[1] as string;
    // Still signing with the old root while the new one spreads.
    const during = await ca.issue({ namespace: "default", serviceAccount: "a" });
    expect(during.certChain[1]).toBe(oldRoot);

    // A restart in the middle of the rotation keeps it.
    const reloaded = await createCertificateAuthority({ dir });
    expect(reloaded.rootRotation).toBe("staged");
    expect(reloaded.trustBundle).toEqual(ca.trustBundle);

    await ca.activateStagedRoot();
    expect(ca.rootRotation).toBe("none");
    expect(ca.trustBundle).toEqual([newRoot, oldRoot]);
    const after = await ca.issue({ namespace: "default", serviceAccount: "b" });
    expect(after.certChain[1]).toBe(newRoot);
    // Both generations verify against the bundle: no connection breaks.
    const bundle = ca.trustBundle.join("");
    for (const leaf of [oldLeaf, during, after])
      expect(opensslVerify({ roots: bundle, leaf: leaf.certChain[0] as string })).toMatch(/: OK/);

    await ca.retirePreviousRoots();
    expect(ca.trustBundle).toEqual([newRoot]);
    expect(() => opensslVerify({ roots: ca.trustBundle.join(""), leaf: oldLeaf.certChain[0] as string })).toThrow(
      /unable to get local issuer certificate/,
    );
    const restarted = await createCertificateAuthority({ dir });
    expect(restarted.trustBundle).toEqual([newRoot]);
    await expect(restarted.activateStagedRoot()).rejects.toThrow(
      "activateStagedRoot: no root is staged (call stageRoot first)",
    );
  });

  it("refuses bad options naming the option", async () => {
    await expect(createCertificateAuthority({ trustDomain: "Bad Domain" })).rejects.toThrow(
      'createCertificateAuthority: options.trustDomain "Bad Domain" must be lowercase letters, digits, ".", "-" or "_"',
    );
    await expect(createCertificateAuthority({ rootKeyAlgorithm: "DSA" as never })).rejects.toThrow(
      'options.rootKeyAlgorithm must be one of ECDSA_P256, RSA_2048, RSA_4096, got "DSA"',
    );
    await expect(createCertificateAuthority({ maxTtlSeconds: 0 })).rejects.toThrow(
      "options.maxTtlSeconds must be a positive whole number, got 0",
    );
  });
});

describe("plug-in CA (Istio cacerts made by openssl)", () => {
  for (const depth of [1, 2]) {
    it(`signs with ca-cert.pem and answers the complete chain (${depth} intermediate${depth > 1 ? "s" : ""})`, async () => {
      const files = opensslPluginCa(depth);
      const ca = await createCertificateAuthority({ cacerts: files.dir, trustDomain: "cluster.local" });
      expect(ca.kind).toBe("plug-in");
      expect(ca.trustBundle).toEqual([files.rootCert]);
      const issued = await ca.issue({ namespace: "default", serviceAccount: "sleep" });
      expect(issued.certChain).toHaveLength(depth + 2);
      expect(issued.certChain[1]).toBe(files.caCert);
      expect(issued.certChain[issued.certChain.length - 1]).toBe(files.rootCert);
      checkWithNode(issued.certChain, [files.rootCert]);
      expect(
        opensslVerify({
          roots: files.rootCert,
          intermediates: issued.certChain.slice(1, -1).join(""),
          leaf: issued.certChain[0] as string,
          purpose: "sslclient",
        }),
      ).toMatch(/: OK/);
      const leaf = new X509Certificate(issued.certChain[0] as string);
      expect(leaf.issuer).toBe(`O=Acme\nCN=Acme Intermediate ${depth}`);
      // NotAfter clamped to the shortest-lived certificate of the chain (the deepest intermediate here).
      const longLeaf = await ca.issue({ namespace: "default", serviceAccount: "sleep", ttlSeconds: 90 * 86_400 });
      expect(longLeaf.notAfter.getTime()).toBeLessThanOrEqual(Date.parse(new X509Certificate(files.caCert).validTo));
    });
  }

  it("accepts the files as PEM texts and cert-chain.pem without the root", async () => {
    const files = opensslPluginCa(2);
    const withoutRoot = files.certChain.replace(files.rootCert, "");
    const ca = await createCertificateAuthority({
      cacerts: { caCert: files.caCert, caKey: files.caKey, rootCert: files.rootCert, certChain: withoutRoot },
    });
    const issued = await ca.issue({ namespace: "a", serviceAccount: "b" });
    expect(issued.certChain).toHaveLength(4);
    checkWithNode(issued.certChain, [files.rootCert]);
  });

  it("refuses broken cacerts naming the file", async () => {
    const files = opensslPluginCa(2);
    const other = opensslPluginCa(1);
    await expect(createCertificateAuthority({ cacerts: { ...files, caKey: other.caKey } })).rejects.toThrow(
      /ca-key.pem is not the key of ca-cert.pem \(O=Acme\nCN=Acme Intermediate 2\)/,
    );
    await expect(createCertificateAuthority({ cacerts: { ...files, rootCert: other.rootCert } })).rejects.toThrow(
      /"O=Acme\nCN=Acme Root CA" \(the top of cert-chain.pem\) is a root that root-cert.pem does not hold/,
    );
    await expect(
      createCertificateAuthority({ cacerts: { caCert: files.caCert, caKey: files.caKey, rootCert: files.rootCert } }),
    ).rejects.toThrow(/does not chain to any root in root-cert.pem \(is cert-chain.pem missing\?\)/);
    const leafOnly = await createCertificateAuthority();
    const leaf = await leafOnly.issue({ namespace: "a", serviceAccount: "b" });
    await expect(
      createCertificateAuthority({
        cacerts: {
          caCert: leaf.certChain[0] as string,
          caKey: leaf.privateKey,
          rootCert: leaf.trustBundle[0] as string,
        },
      }),
    ).rejects.toThrow(
      "ca-cert.pem (URI:spiffe://cluster.local/ns/a/sa/b) is not a CA certificate (basicConstraints CA:FALSE)",
    );
    const dir = tempDir();
    await expect(createCertificateAuthority({ cacerts: dir })).rejects.toThrow(
      `cacerts ${dir}: cannot read ca-cert.pem`,
    );
  });
});

describe("sign(csr, identity)", () => {
  const keyOf = (type: "ec" | "rsa" | "ed25519", detail?: string | number) =>
    type === "ec"
      ? generateKeyPairSync("ec", { namedCurve: String(detail) })
      : type === "rsa"
        ? generateKeyPairSync("rsa", { modulusLength: Number(detail) })
        : generateKeyPairSync("ed25519");

  it("signs a CSR made by openssl for the caller's identity, whatever its subject says", async () => {
    const ca = await createCertificateAuthority();
    const dir = tempDir();
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, "key.pem")]);
    const csr = openssl([
      "req",
      "-new",
      "-key",
      join(dir, "key.pem"),
      "-subj",
      "/O=whoever/CN=admin",
      "-addext",
      "subjectAltName=URI:spiffe://cluster.local/ns/shop/sa/cart",
    ]);
    const signed = await ca.sign(csr, "spiffe://cluster.local/ns/shop/sa/cart", 3600);
    const leaf = new X509Certificate(signed.certChain[0] as string);
    expect(leaf.subject ?? "").toBe("");
    expect(leaf.subjectAltName).toBe("URI:spiffe://cluster.local/ns/shop/sa/cart");
    expect(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)).toBe(3600_000 + 120_000);
    writeFileSync(join(dir, "leaf.pem"), signed.certChain[0] as string);
    // The certificate carries the CSR's key.
    expect(openssl(["x509", "-in", join(dir, "leaf.pem"), "-noout", "-pubkey"])).toBe(
      openssl(["pkey", "-in", join(dir, "key.pem"), "-pubout"]),
    );
  });

  it("accepts a CSR with no SAN, and RSA 2048 and ECDSA P-384 keys", async () => {
    const ca = await createCertificateAuthority();
    for (const pair of [keyOf("rsa", 2048), keyOf("ec", "secp384r1")]) {
      const csr = createCsr("spiffe://cluster.local/ns/a/sa/b", pair.privateKey, pair.publicKey);
      const signed = await ca.sign(csr, { trustDomain: "cluster.local", namespace: "a", serviceAccount: "b" });
      expect(new X509Certificate(signed.certChain[0] as string).publicKey.export({ format: "jwk" })).toEqual(
        pair.publicKey.export({ format: "jwk" }),
      );
    }
    const dir = tempDir();
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, "key.pem")]);
    const bare = openssl(["req", "-new", "-key", join(dir, "key.pem"), "-subj", "/CN=x"]);
    const signed = await ca.sign(bare, "spiffe://cluster.local/ns/a/sa/b");
    expect(new X509Certificate(signed.certChain[0] as string).subjectAltName).toBe(
      "URI:spiffe://cluster.local/ns/a/sa/b",
    );
  });

  it("names each kind of SAN a foreign CSR asks for, and refuses bytes after the CSR", async () => {
    const ca = await createCertificateAuthority();
    const me = "spiffe://cluster.local/ns/shop/sa/cart";
    const dir = tempDir();
    openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, "key.pem")]);
    const csrWith = (san: string) =>
      openssl(["req", "-new", "-key", join(dir, "key.pem"), "-subj", "/CN=x", "-addext", `subjectAltName=${san}`]);
    const refusalOf = (csr: string) =>
      ca.sign(csr, me).then(
        () => "signed",
        (error: { code: string; message: string }) => `${error.code}: ${error.message}`,
      );
    for (const [san, named] of [
      ["DNS:cart.shop.svc", "DNS:cart.shop.svc"],
      ["IP:10.0.0.1", "IP:10.0.0.1"],
      ["IP:2001:db8:0:0:0:0:0:1", "IP:2001:db8::1"],
      ["email:cart@shop.example", "email:cart@shop.example"],
      [`URI:${me},DNS:extra.example`, "DNS:extra.example"],
    ]) {
      expect(await refusalOf(csrWith(san as string))).toBe(
        `PERMISSION_DENIED: CSR asks for SAN ${named} but the caller's identity is ${me}`,
      );
    }
    const good = csrWith(`URI:${me}`);
    const der = Buffer.concat([Buffer.from(good.split("\n").slice(1, -2).join(""), "base64"), Buffer.from([0, 0])]);
    expect(
      await refusalOf(
        `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`,
      ),
    ).toBe("INVALID_ARGUMENT: malformed CSR: not a PKCS#10 certification request (CSR: 2 bytes after its end)");
    expect(await refusalOf(good)).toBe("signed");
  });

  it("refuses malformed, foreign, weak, oversized and out-of-domain requests with clear messages", async () => {
    const ca = await createCertificateAuthority({ maxCsrBytes: 4096 });
    const me = "spiffe://cluster.local/ns/shop/sa/cart";
    const p256 = keyOf("ec", "prime256v1");
    const good = createCsr(me, p256.privateKey, p256.publicKey);
    const refusal = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(error, "expected a refusal").toBeDefined();
      return `${error?.code}: ${error?.message}`;
    };
    expect(await refusal(ca.sign("", me))).toBe("INVALID_ARGUMENT: malformed CSR: the request has no CSR");
    expect(await refusal(ca.sign("hello", me))).toBe(
      'INVALID_ARGUMENT: malformed CSR: expected one PEM block "CERTIFICATE REQUEST", found 0',
    );
    expect(
      await refusal(ca.sign("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", me)),
    ).toMatch(/^INVALID_ARGUMENT: malformed CSR: not a PKCS#10 certification request/);
    // A flipped bit in the signed part: the proof of possession fails.
    const der = Buffer.from(good.split("\n").slice(1, -2).join(""), "base64");
    der[40] = (der[40] ?? 0) ^ 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(await refusal(ca.sign(tampered, me))).toMatch(/^INVALID_ARGUMENT: malformed CSR: /);
    expect(
      await refusal(ca.sign(createCsr("spiffe://cluster.local/ns/shop/sa/admin", p256.privateKey, p256.publicKey), me)),
    ).toBe(
      "PERMISSION_DENIED: CSR asks for SAN URI:spiffe://cluster.local/ns/shop/sa/admin but the caller's identity is spiffe://cluster.local/ns/shop/sa/cart",
    );
    expect(await refusal(ca.sign(good, "spiffe://other.org/ns/shop/sa/cart"))).toBe(
      'PERMISSION_DENIED: identity spiffe://other.org/ns/shop/sa/cart is not in this CA\'s trust domain "cluster.local"',
    );
    expect(await refusal(ca.sign(good, "https://cluster.local/cart"))).toBe(
      'INVALID_ARGUMENT: identity "https://cluster.local/cart" is not a SPIFFE id spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>',
    );
    const dir = tempDir();
    openssl(["genpkey", "-algorithm", "ed25519", "-out", join(dir, "ed.pem")]);
    const ed = openssl(["req", "-new", "-key", join(dir, "ed.pem"), "-subj", "/CN=x"]);
    expect(await refusal(ca.sign(ed, me))).toMatch(
      /^INVALID_ARGUMENT: malformed CSR: signature algorithm 1.3.101.112 is not accepted/,
    );
    const rsa1024 = keyOf("rsa", 1024);
    expect(await refusal(ca.sign(createCsr(me, rsa1024.privateKey, rsa1024.publicKey), me))).toBe(
      "INVALID_ARGUMENT: CSR refused: key type RSA 1024 is not accepted: use ECDSA P-256, ECDSA P-384 or RSA 2048/3072/4096",
    );
    openssl(["ecparam", "-name", "secp521r1", "-genkey", "-noout", "-out", join(dir, "p521.pem")]);
    const p521 = openssl(["req", "-new", "-key", join(dir, "p521.pem"), "-subj", "/CN=x", "-sha256"]);
    expect(await refusal(ca.sign(p521, me))).toBe(
      "INVALID_ARGUMENT: CSR refused: key type ECDSA P-521 is not accepted: use ECDSA P-256, ECDSA P-384 or RSA 2048/3072/4096",
    );
    const padded = `${good}${"x".repeat(5000)}`;
    expect(await refusal(ca.sign(padded, me))).toBe(
      `INVALID_ARGUMENT: CSR of ${Buffer.byteLength(padded)} bytes is above the limit of 4096 bytes`,
    );
    expect(await refusal(ca.sign(good, me, 100 * 86_400))).toBe(
      "INVALID_ARGUMENT: requested TTL 100d is above the maximum 90d",
    );
    // And after all that, a good request still goes through.
    const signed = await ca.sign(good, me);
    expect(new X509Certificate(signed.certChain[0] as string).subjectAltName).toBe(`URI:${me}`);
  });

  it("issues 200 certificates concurrently, all distinct serials, all verifying", async () => {
    const ca = await createCertificateAuthority();
    const issued = await Promise.all(
      Array.from({ length: 200 }, (_, i) => ca.issue({ namespace: "load", serviceAccount: `sa-${i}` })),
    );
    const serials = new Set(issued.map((c) => new X509Certificate(c.certChain[0] as string).serialNumber));
    expect(serials.size).toBe(200);
    const root = new X509Certificate(ca.trustBundle[0] as string);
    for (const c of issued) expect(new X509Certificate(c.certChain[0] as string).verify(root.publicKey)).toBe(true);
    expect(execFileSync("openssl", ["version"], { encoding: "utf8" })).toMatch(/^OpenSSL 3/);
  });
});
