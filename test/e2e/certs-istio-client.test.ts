// A certificate client nobody here wrote the protocol side of: grpc-go with Istio's generated
// IstioCertificateService client (istio.io/api security/v1alpha1), making its CSR with Go's crypto/x509 the way
// istio-agent does and verifying the answer with Go's verifier, against xdskit's CreateCertificate registered
// on an xDS server. The Go program (test/e2e/certs-istio-client) is built into .cache/ on first use.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { type CertificateAuthority, createCertificateAuthority, createCertificateService } from "@xdskit/certs";
import { createSnapshotCache } from "@xdskit/core";
import { createXdsServer, type XdsServer } from "@xdskit/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opensslPluginCa, tempDir } from "../../packages/certs/src/testing/openssl.js";

const run = promisify(execFile);
const root = new URL("../..", import.meta.url).pathname;
const sourceDir = join(root, "test/e2e/certs-istio-client");
const binary = join(root, ".cache/certs-istio-client");
const TOKENS: Record<string, string> = { "token-productpage": "spiffe://cluster.local/ns/bookinfo/sa/productpage" };

interface ClientResult {
  spiffeId?: string;
  chainLength?: number;
  notAfter?: string;
  verifiedBy?: string;
  code?: string;
  message?: string;
}

const servers: XdsServer[] = [];

/** Builds the Go client when it is missing or older than its sources. */
function buildClient(): void {
  const newest = Math.max(...["main.go", "go.mod", "go.sum"].map((f) => statSync(join(sourceDir, f)).mtimeMs));
  if (existsSync(binary) && statSync(binary).mtimeMs >= newest) return;
  execFileSync("sh", [join(sourceDir, "build.sh")], { stdio: "inherit", timeout: 540_000 });
}

/** A CA behind an xDS server (TLS) with IstioCertificateService registered; returns its address and root file. */
async function serveCa(ca: CertificateAuthority): Promise<{ address: string; rootFile: string }> {
  const service = createCertificateService({ ca, verifyToken: ({ token }) => TOKENS[token] });
  const serving = await ca.issue({ namespace: "istio-system", serviceAccount: "istiod" });
  const server = createXdsServer({
    cache: createSnapshotCache(),
    credentials: grpc.ServerCredentials.createSsl(
      null,
      [{ cert_chain: Buffer.from(serving.certChain.join("")), private_key: Buffer.from(serving.privateKey) }],
      false,
    ),
  });
  server.grpcServer.addService(service.definition, service.implementation);
  servers.push(server);
  const port = await server.listen("127.0.0.1:0");
  const rootFile = join(tempDir(), "root-cert.pem");
  writeFileSync(rootFile, ca.trustBundle.join(""));
  return { address: `127.0.0.1:${port}`, rootFile };
}

async function runClient(args: string[]): Promise<{ exitCode: number; result: ClientResult }> {
  try {
    const { stdout } = await run(binary, args, { timeout: 60_000 });
    return { exitCode: 0, result: JSON.parse(stdout.trim()) as ClientResult };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    if (!failed.stdout) throw new Error(`certs-istio-client failed: ${failed.stderr ?? String(error)}`);
    return { exitCode: failed.code ?? -1, result: JSON.parse(failed.stdout.trim()) as ClientResult };
  }
}

beforeAll(() => buildClient(), 600_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close({ graceMs: 100 })));
});

describe("Istio's certificate API client (grpc-go + istio.io/api) against xdskit's CreateCertificate", () => {
  it("gets a certificate from a self-signed CA and Go's crypto/x509 verifies it against the root", async () => {
    const ca = await createCertificateAuthority();
    const { address, rootFile } = await serveCa(ca);
    const { exitCode, result } = await runClient([
      `-addr=${address}`,
      `-root=${rootFile}`,
      "-token=token-productpage",
      "-spiffe=spiffe://cluster.local/ns/bookinfo/sa/productpage",
      "-ttl=7200",
    ]);
    expect(exitCode).toBe(0);
    expect(result).toMatchObject({
      spiffeId: "spiffe://cluster.local/ns/bookinfo/sa/productpage",
      chainLength: 2,
      verifiedBy: "crypto/x509",
    });
    const lifetime = Date.parse(result.notAfter ?? "") - Date.now();
    expect(lifetime).toBeGreaterThan(7000_000);
    expect(lifetime).toBeLessThanOrEqual(7200_000);
  });

  it("gets the complete chain from a plug-in CA with two intermediates", async () => {
    const files = opensslPluginCa(2);
    const ca = await createCertificateAuthority({ cacerts: files.dir });
    const { address, rootFile } = await serveCa(ca);
    const { exitCode, result } = await runClient([
      `-addr=${address}`,
      `-root=${rootFile}`,
      "-token=token-productpage",
      "-spiffe=spiffe://cluster.local/ns/bookinfo/sa/productpage",
    ]);
    expect(exitCode).toBe(0);
    expect(result).toMatchObject({ chainLength: 4, verifiedBy: "crypto/x509" });
  });

  it("is refused with Unauthenticated for a bad token and PermissionDenied for another identity's CSR", async () => {
    const ca = await createCertificateAuthority();
    const { address, rootFile } = await serveCa(ca);
    const badToken = await runClient([`-addr=${address}`, `-root=${rootFile}`, "-token=forged"]);
    expect(badToken.exitCode).toBe(2);
    expect(badToken.result).toEqual({ code: "Unauthenticated", message: "bearer token refused" });
    const foreign = await runClient([
      `-addr=${address}`,
      `-root=${rootFile}`,
      "-token=token-productpage",
      "-spiffe=spiffe://cluster.local/ns/bookinfo/sa/reviews",
    ]);
    expect(foreign.exitCode).toBe(2);
    expect(foreign.result).toEqual({
      code: "PermissionDenied",
      message:
        "CSR asks for SAN URI:spiffe://cluster.local/ns/bookinfo/sa/reviews but the caller's identity is spiffe://cluster.local/ns/bookinfo/sa/productpage",
    });
  });
});
