import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createCertificateAuthority } from "./authority.js";
import { createCsr } from "./csr.js";
import { type CsrWorkerPool, createCsrWorkerPool, startCsrWorkerPool } from "./csr-worker-pool.js";
import { openssl, tempDir } from "./testing/openssl.js";

const me = "spiffe://cluster.local/ns/shop/sa/cart";
const pemOf = (der: Buffer) =>
  `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => "signed",
    (error: { code: string; message: string }) => `${error.code}: ${error.message}`,
  );

const pools: CsrWorkerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});

describe("createCsrWorkerPool", () => {
  it("signs through worker threads with the same answers and refusals as the CA's own thread", async () => {
    const pool = createCsrWorkerPool({ workers: 2 });
    pools.push(pool);
    const pooled = await createCertificateAuthority({ csrReader: pool, maxCsrBytes: 4096 });
    const inThread = await createCertificateAuthority({ maxCsrBytes: 4096 });
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const good = createCsr(me, p256.privateKey, p256.publicKey);
    const der = Buffer.from(good.split("\n").slice(1, -2).join(""), "base64");
    // A flipped bit in the signed part (the SAN's "cart" → "bart"): the proof of possession fails.
    const tampered = Buffer.from(der);
    const at = tampered.indexOf("sa/cart") + 3;
    tampered[at] = (tampered[at] ?? 0) ^ 0x01;
    const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const dir = tempDir();
    openssl(["genpkey", "-algorithm", "ed25519", "-out", join(dir, "ed.pem")]);
    const requests: Array<[string, string, number?]> = [
      [good, me],
      ["", me],
      ["hello", me],
      [pemOf(Buffer.from("AAAA", "base64")), me],
      [pemOf(Buffer.concat([der, Buffer.from([0, 0])])), me],
      [pemOf(tampered), me],
      [createCsr("spiffe://cluster.local/ns/shop/sa/admin", p256.privateKey, p256.publicKey), me],
      [createCsr(me, rsa1024.privateKey, rsa1024.publicKey), me],
      [openssl(["req", "-new", "-key", join(dir, "ed.pem"), "-subj", "/CN=x"]), me],
      [`${good}${"x".repeat(5000)}`, me],
      [good, me, 100 * 86_400],
      [good, "spiffe://other.org/ns/shop/sa/cart"],
    ];
    const answers = await Promise.all(requests.map(([csr, id, ttl]) => outcome(pooled.sign(csr, id, ttl))));
    const expected = await Promise.all(requests.map(([csr, id, ttl]) => outcome(inThread.sign(csr, id, ttl))));
    expect(answers).toEqual(expected);
    // Every kind above answered: one signing and eleven distinct refusals.
    expect(answers[0]).toBe("signed");
    expect(new Set(answers.slice(1)).size).toBe(11);
    expect(answers[5]).toBe("INVALID_ARGUMENT: malformed CSR: its signature does not verify with its own public key");
    expect(answers[7]).toBe(
      "INVALID_ARGUMENT: CSR refused: key type RSA 1024 is not accepted: use ECDSA P-256, ECDSA P-384 or RSA 2048/3072/4096",
    );

    // Many at once across both threads: each certificate carries its own CSR's key and verifies under the root.
    const pairs = Array.from({ length: 40 }, (_, i) =>
      i % 4 === 0
        ? generateKeyPairSync("rsa", { modulusLength: 2048 })
        : generateKeyPairSync("ec", { namedCurve: i % 4 === 1 ? "secp384r1" : "prime256v1" }),
    );
    const signed = await Promise.all(
      pairs.map((pair, i) =>
        pooled.sign(createCsr(`spiffe://cluster.local/ns/load/sa/sa-${i}`, pair.privateKey, pair.publicKey), {
          trustDomain: "cluster.local",
          namespace: "load",
          serviceAccount: `sa-${i}`,
        }),
      ),
    );
    const root = new X509Certificate(pooled.trustBundle[0] as string);
    signed.forEach((certificate, i) => {
      const leaf = new X509Certificate(certificate.certChain[0] as string);
      expect(leaf.verify(root.publicKey)).toBe(true);
      expect(leaf.subjectAltName).toBe(`URI:spiffe://cluster.local/ns/load/sa/sa-${i}`);
      expect(leaf.publicKey.export({ format: "jwk" })).toEqual(pairs[i]?.publicKey.export({ format: "jwk" }));
    });
  });

  it("answers a read whose thread died with a clear error, goes on with the others and replaces the thread", async () => {
    const pool = startCsrWorkerPool(new URL("./testing/crashing-csr-worker.ts", import.meta.url), 2);
    pools.push(pool);
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const good = createCsr(me, p256.privateKey, p256.publicKey);
    // Two threads busy: the crash takes one of them down with the reads queued on it.
    const reads = [good, "crash", good, good, good, good].map((csr) =>
      pool.readCsr(csr).then(
        (reading) => reading.subjectAltNames.join(","),
        (error: { code: string; message: string }) => `${error.code}: ${error.message}`,
      ),
    );
    const answers = await Promise.all(reads);
    expect(answers[1]).toMatch(
      /^INTERNAL: CSR worker thread \d stopped \(the fixture crashed on purpose\) while reading this CSR; other requests go on$/,
    );
    // The other thread's reads were answered.
    expect(answers.filter((answer) => answer === `URI:${me}`).length).toBeGreaterThanOrEqual(2);
    for (const answer of answers) expect([`URI:${me}`, answers[1]]).toContain(answer);
    // A new thread takes the next reads; a malformed CSR is refused by it like any other.
    expect((await pool.readCsr(good)).subjectAltNames).toEqual([`URI:${me}`]);
    await expect(pool.readCsr("hello")).rejects.toThrow(
      'malformed CSR: expected one PEM block "CERTIFICATE REQUEST", found 0',
    );
    const ca = await createCertificateAuthority({ csrReader: pool });
    expect(await outcome(ca.sign("crash", me))).toMatch(/^INTERNAL: CSR worker thread \d stopped/);
    expect(await outcome(ca.sign(good, me))).toBe("signed");
  });

  it("refuses reads once closed, and bad options naming the option", async () => {
    const pool = createCsrWorkerPool({ workers: 1 });
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const inFlight = pool.readCsr(createCsr(me, p256.privateKey, p256.publicKey));
    await pool.close();
    await expect(inFlight).rejects.toThrow("the CSR worker pool is closed");
    await expect(pool.readCsr("x")).rejects.toMatchObject({ code: "CLOSED" });
    expect(() => createCsrWorkerPool({ workers: 0 })).toThrow(
      "createCsrWorkerPool: options.workers must be a whole number from 1 to 64, got 0",
    );
    await expect(createCertificateAuthority({ csrReader: {} as never })).rejects.toThrow(
      "options.csrReader must have a readCsr(csrPem) method",
    );
  });
});
