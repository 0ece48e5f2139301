// The agent's certificate client and renewal against the real control plane's CreateCertificate on 15012.
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { type CertificateAuthority, createCertificateAuthority, createCertificateService } from "@xdskit/certs";
import { afterEach, describe, expect, it } from "vitest";
import { type ControlPlane, createControlPlane } from "../control-plane/control-plane.js";
import { CertificateFetchError, requestCertificate } from "./certificate-client.js";
import {
  type CertificateRenewal,
  type CertificateRenewalEvent,
  startCertificateRenewal,
} from "./certificate-renewal.js";

const IDENTITY = "spiffe://cluster.local/ns/default/sa/bookinfo-reviews";
const ISTIOD = "spiffe://cluster.local/ns/istio-system/sa/istiod";

const planes: ControlPlane[] = [];
const renewals: CertificateRenewal[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const r of renewals.splice(0)) r.stop();
  await Promise.all(planes.splice(0).map((p) => p.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-agent-cert-"));
  dirs.push(dir);
  return dir;
}

/** A control plane on 15012 (port 0 unless given) whose verifier accepts "reviews-token"; counts token checks. */
async function controlPlane(ca: CertificateAuthority, port = 0) {
  const tokens: string[] = [];
  const cp = await createControlPlane({
    ca,
    translator: { update: () => [], resourcesFor: () => ({}) },
    xds: { port: 0 },
    xdsTls: {
      port,
      verifyToken: ({ token }) => {
        tokens.push(token);
        if (token === "reviews-token") return IDENTITY;
        throw new Error(`unknown token ${token.slice(0, 8)}…`);
      },
    },
    monitoring: false,
    logger: { level: "silent" },
  });
  planes.push(cp);
  return { cp, tokens, address: `127.0.0.1:${cp.ports.xdsTls}` };
}

/** A certificate directory with the CA's root and a token file. */
function workloadDir(ca: CertificateAuthority, token = "reviews-token") {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "root-cert.pem"), ca.trustBundle.join(""));
  fs.writeFileSync(path.join(dir, "token"), `${token}\n`);
  return { dir, rootCertFile: path.join(dir, "root-cert.pem"), tokenFile: path.join(dir, "token") };
}

/** The error a promise rejects with (the test fails if it resolves). */
async function failure(promise: Promise<unknown>): Promise<CertificateFetchError> {
  try {
    await promise;
  } catch (error) {
    return error as CertificateFetchError;
  }
  throw new Error("expected a failure, got a result");
}

const serialOfFile = (dir: string) =>
  new X509Certificate(fs.readFileSync(path.join(dir, "cert-chain.pem"))).serialNumber.toLowerCase();

describe("requestCertificate (CreateCertificate with a token, over TLS to the control plane)", () => {
  it("gets a certificate for the workload's identity and key, chained to the configured root", async () => {
    const ca = await createCertificateAuthority({});
    const { address } = await controlPlane(ca);
    const files = workloadDir(ca);
    const fetched = await requestCertificate({
      caAddress: address,
      caIdentity: ISTIOD,
      identity: IDENTITY,
      rootCertFile: files.rootCertFile,
      tokenFile: files.tokenFile,
      ttlSeconds: 600,
    });
    const leaf = new X509Certificate(fetched.certChain[0] ?? "");
    expect(leaf.subjectAltName).toBe(`URI:${IDENTITY}`);
    expect(leaf.checkPrivateKey(await import("node:crypto").then((c) => c.createPrivateKey(fetched.privateKey)))).toBe(
      true,
    );
    expect(leaf.verify(new X509Certificate(ca.trustBundle[0] ?? "").publicKey)).toBe(true);
    expect(fetched.notAfter.getTime() - Date.now()).toBeGreaterThan(590_000);
    expect(fetched.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(600_000);
    expect(fetched.trustBundle).toEqual(ca.trustBundle);
  });

  it("says why when the token is refused, missing, or the CA takes no tokens", async () => {
    const ca = await createCertificateAuthority({});
    const { address } = await controlPlane(ca);
    const files = workloadDir(ca, "stolen-token");
    const ask = (tokenFile: string, caAddress = address) =>
      requestCertificate({
        caAddress,
        caIdentity: ISTIOD,
        identity: IDENTITY,
        rootCertFile: files.rootCertFile,
        tokenFile,
      });
    const refused = await failure(ask(files.tokenFile));
    expect(refused).toBeInstanceOf(CertificateFetchError);
    expect(refused).toMatchObject({ code: "UNAUTHENTICATED", retryable: false });
    expect((refused as Error).message).toMatch(
      /refused the agent's credentials \(UNAUTHENTICATED\): bearer token refused: unknown token stolen-t/,
    );
    await expect(ask(path.join(files.dir, "no-such-token"))).rejects.toThrow(
      /token file .*no-such-token cannot be read \(ENOENT\)/,
    );
    fs.writeFileSync(path.join(files.dir, "empty"), "\n");
    await expect(ask(path.join(files.dir, "empty"))).rejects.toThrow(/token file .*empty is empty/);

    const noVerifier = await createControlPlane({
      ca,
      translator: { update: () => [], resourcesFor: () => ({}) },
      xds: { port: 0 },
      xdsTls: { port: 0 },
      monitoring: false,
      logger: { level: "silent" },
    });
    planes.push(noVerifier);
    await expect(ask(files.tokenFile, `127.0.0.1:${noVerifier.ports.xdsTls}`)).rejects.toThrow(
      /UNAUTHENTICATED\): bearer tokens are not accepted here/,
    );
  });

  it("refuses a CA it cannot verify, one it cannot reach, and an answer for another identity", async () => {
    const ca = await createCertificateAuthority({});
    const { address } = await controlPlane(ca);
    const files = workloadDir(ca);
    const base = { caIdentity: ISTIOD, identity: IDENTITY, tokenFile: files.tokenFile, timeoutMs: 3000 };

    // The control plane's certificate does not chain to this root: the token is never sent.
    const other = await createCertificateAuthority({});
    const otherRoot = path.join(files.dir, "other-root.pem");
    fs.writeFileSync(otherRoot, other.trustBundle.join(""));
    const untrusted = await failure(requestCertificate({ ...base, caAddress: address, rootCertFile: otherRoot }));
    expect(untrusted).toMatchObject({ retryable: true });
    expect(untrusted.message).toMatch(
      /^the CA at 127\.0\.0\.1:\d+ could not be verified: self-signed certificate in certificate chain \(it must present a certificate for spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istiod that chains to .*other-root\.pem\)$/,
    );
    // A certificate of the right root for another SPIFFE id than the CA's.
    const wrongName = await failure(
      requestCertificate({
        ...base,
        caAddress: address,
        rootCertFile: files.rootCertFile,
        caIdentity: "spiffe://cluster.local/ns/istio-system/sa/not-istiod",
      }),
    );
    expect(wrongName.message).toMatch(
      /could not be verified: the CA's certificate is for URI:spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istiod, not spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/not-istiod \(/,
    );
    await expect(
      requestCertificate({ ...base, caAddress: address, rootCertFile: path.join(files.dir, "missing.pem") }),
    ).rejects.toThrow(/root certificate file .*missing\.pem cannot be read \(ENOENT\)/);

    // Bad options are refused at the door, naming the field.
    await expect(
      requestCertificate({ ...base, caAddress: "nowhere", rootCertFile: files.rootCertFile }),
    ).rejects.toThrow('requestCertificate: caAddress must be host:port, got "nowhere"');
    await expect(
      requestCertificate({ ...base, identity: "reviews", caAddress: address, rootCertFile: files.rootCertFile }),
    ).rejects.toThrow(/^requestCertificate: identity must be a SPIFFE id like .*, got "reviews"$/);

    // Nothing listens: retryable, says so.
    const closed = await failure(
      requestCertificate({
        ...base,
        caAddress: "127.0.0.1:1",
        rootCertFile: files.rootCertFile,
      }),
    );
    expect(closed).toMatchObject({ retryable: true, code: "CLOSED" });
    expect(closed.message).toMatch(/^the CA at 127\.0\.0\.1:1 cannot be reached \(UNAVAILABLE\)/);
  }, 20_000);

  it("checks the answer: a certificate for another identity is not used", async () => {
    const ca = await createCertificateAuthority({});
    // A CA that answers every request with a certificate for someone else.
    const server = new grpc.Server();
    const service = createCertificateService({ ca });
    const someoneElse = await ca.issue({ namespace: "default", serviceAccount: "bookinfo-ratings" });
    server.addService(service.definition as grpc.ServiceDefinition, {
      CreateCertificate: (_call: unknown, callback: (e: null, v: { certChain: string[] }) => void) =>
        callback(null, { certChain: [...someoneElse.certChain] }),
    });
    const istiod = await ca.issue({ namespace: "istio-system", serviceAccount: "istiod" });
    const credentials = grpc.ServerCredentials.createSsl(
      Buffer.from(ca.trustBundle.join("")),
      [{ cert_chain: Buffer.from(istiod.certChain.join("")), private_key: Buffer.from(istiod.privateKey) }],
      false,
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    try {
      const files = workloadDir(ca);
      const answer = await failure(
        requestCertificate({
          caAddress: `127.0.0.1:${port}`,
          caIdentity: ISTIOD,
          identity: IDENTITY,
          rootCertFile: files.rootCertFile,
          tokenFile: files.tokenFile,
        }),
      );
      expect(answer).toBeInstanceOf(CertificateFetchError);
      expect(answer.message).toBe(
        `the CA at 127.0.0.1:${port} answered an unusable certificate: it is for spiffe://cluster.local/ns/default/sa/bookinfo-ratings, not ${IDENTITY}`,
      );
    } finally {
      server.forceShutdown();
    }
  });
});

describe("startSidecarAgent with xdsTls.tokenFile: options at the door", () => {
  it.each([
    [
      { certificateDir: "relative", tokenFile: "/t" },
      'xdsTls.certificateDir must be an absolute directory path, got "relative"',
    ],
    [{ certificateDir: "/d", tokenFile: "" }, 'xdsTls.tokenFile must be a file path, got ""'],
    [
      { certificateDir: "/d", tokenFile: "/t", ttlSeconds: 0 },
      "xdsTls.ttlSeconds must be a positive whole number, got 0",
    ],
    [{ certificateDir: "/d", tokenFile: "/t", caAddress: "ca" }, 'xdsTls.caAddress must be host:port, got "ca"'],
    [
      { certificateDir: "/d", tokenFile: "/t", trustDomain: "Bad Domain" },
      /xdsTls\.trustDomain, namespace and serviceAccount must make a SPIFFE id/,
    ],
  ])("%j is refused: %s", async (xdsTls, message) => {
    const { startSidecarAgent } = await import("./sidecar-agent.js");
    await expect(
      startSidecarAgent({ ip: "127.0.0.1", name: "reviews-v1", xdsTls, envoy: "/nonexistent/envoy" }),
    ).rejects.toThrow(message);
  });
});

describe("startCertificateRenewal", () => {
  it("writes the first certificate, renews at about half its lifetime over mTLS, keeps it when the CA is gone, retries with backoff", async () => {
    const ca = await createCertificateAuthority({});
    const { cp, tokens, address } = await controlPlane(ca);
    const files = workloadDir(ca);
    const events: CertificateRenewalEvent[] = [];
    const started = Date.now();
    const renewal = await startCertificateRenewal({
      dir: files.dir,
      caAddress: address,
      caIdentity: ISTIOD,
      identity: IDENTITY,
      rootCertFile: files.rootCertFile,
      tokenFile: files.tokenFile,
      ttlSeconds: 4,
      retry: { initialDelayMs: 200, maxDelayMs: 400 },
      timeoutMs: 1000,
      onEvent: (event) => void events.push(event),
    });
    renewals.push(renewal);
    const first = renewal.current();
    expect(first?.spiffeId).toBe(IDENTITY);
    expect(serialOfFile(files.dir)).toBe(first?.serialNumber);
    expect(events.map((e) => e.type)).toEqual(["issued"]);
    const firstEvent = events[0] as Extract<CertificateRenewalEvent, { renewAt: Date }>;
    // Half of 4 s from when it was issued (between `started` and now), ±1% jitter; X.509 times are whole seconds,
    // so notAfter may be up to 1 s short of the 4 s.
    expect(firstEvent.renewAt.getTime()).toBeGreaterThanOrEqual(started + 1470);
    expect(firstEvent.renewAt.getTime()).toBeLessThanOrEqual(Date.now() + 2040);
    expect(tokens).toEqual(["reviews-token"]);

    const until = async (what: string, test: () => boolean, ms = 8000) => {
      for (const end = Date.now() + ms; Date.now() < end; ) {
        if (test()) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`never: ${what}; events ${JSON.stringify(events.map((e) => e.type))}`);
    };
    await until("renewed", () => events.some((e) => e.type === "renewed"));
    const second = renewal.current();
    expect(second?.serialNumber).not.toBe(first?.serialNumber);
    expect(serialOfFile(files.dir)).toBe(second?.serialNumber);
    // The renewal proved the identity with the certificate it replaced: the token was not asked for again.
    expect(tokens).toEqual(["reviews-token"]);

    // The CA goes away: each attempt fails, the files keep the last good certificate, the delay doubles to its cap.
    await cp.close();
    planes.splice(planes.indexOf(cp), 1);
    await until("three failures", () => events.filter((e) => e.type === "failed").length >= 3);
    const failures = events.filter((e) => e.type === "failed") as Extract<
      CertificateRenewalEvent,
      { type: "failed" }
    >[];
    expect(failures.slice(0, 3).map((f) => f.retryInMs)).toEqual([200, 400, 400]);
    expect(failures[0]?.first).toBe(false);
    expect(failures[0]?.error.message).toMatch(/cannot be reached/);
    expect(serialOfFile(files.dir)).toBe(second?.serialNumber);
    expect(renewal.current()).toBe(second);

    // Back on the same port with the same CA: the next retry renews.
    const back = await controlPlane(ca, Number(address.split(":")[1]));
    const renewedBefore = events.filter((e) => e.type === "renewed").length;
    await until("renewed after the outage", () => events.filter((e) => e.type === "renewed").length > renewedBefore);
    expect(serialOfFile(files.dir)).not.toBe(second?.serialNumber);
    expect(back.tokens).toEqual([]); // still renewing by the (valid) old certificate
  }, 30_000);

  it("fails the start with the CA's reason at once on a refusal, and after startTimeoutMs when unreachable", async () => {
    const ca = await createCertificateAuthority({});
    const { address } = await controlPlane(ca);
    const refusedFiles = workloadDir(ca, "stolen-token");
    const started = Date.now();
    await expect(
      startCertificateRenewal({
        dir: refusedFiles.dir,
        caAddress: address,
        caIdentity: ISTIOD,
        identity: IDENTITY,
        rootCertFile: refusedFiles.rootCertFile,
        tokenFile: refusedFiles.tokenFile,
        startTimeoutMs: 20_000,
      }),
    ).rejects.toThrow(/UNAUTHENTICATED\): bearer token refused/);
    expect(Date.now() - started).toBeLessThan(10_000); // not retried until the deadline
    expect(fs.existsSync(path.join(refusedFiles.dir, "cert-chain.pem"))).toBe(false);

    const files = workloadDir(ca);
    const events: CertificateRenewalEvent[] = [];
    const unreachable = await failure(
      startCertificateRenewal({
        dir: files.dir,
        caAddress: "127.0.0.1:1",
        caIdentity: ISTIOD,
        identity: IDENTITY,
        rootCertFile: files.rootCertFile,
        tokenFile: files.tokenFile,
        startTimeoutMs: 1000,
        retry: { initialDelayMs: 100, maxDelayMs: 200 },
        timeoutMs: 500,
        onEvent: (event) => void events.push(event),
      }),
    );
    expect(unreachable).toBeInstanceOf(CertificateFetchError);
    expect(unreachable.message).toMatch(/the CA at 127\.0\.0\.1:1 cannot be reached .* \(gave up after \d+ s\)$/);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.every((e) => e.type === "failed" && e.first)).toBe(true);
  }, 30_000);
});
