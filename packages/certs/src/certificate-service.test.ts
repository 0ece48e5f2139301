// CreateCertificate over a real gRPC connection: grpc-js client → TLS → an xDS server's grpc-js Server with
// the service registered beside ADS.
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { createSnapshotCache } from "@xdskit/core";
import { IstioCertificateRequest, IstioCertificateResponse } from "@xdskit/core/services";
import { createXdsServer, type XdsServer } from "@xdskit/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertificateAuthority, createCertificateAuthority } from "./authority.js";
import { CREATE_CERTIFICATE_PATH, createCertificateService } from "./certificate-service.js";
import { createCsr } from "./csr.js";
import { generateKeyPair } from "./keys.js";
import { clientCredentials, serverCredentials } from "./testing/grpc.js";
import { opensslVerify, tempDir } from "./testing/openssl.js";

const CART = "spiffe://cluster.local/ns/shop/sa/cart";
const tokens: Record<string, string> = { "token-cart": CART, "token-web": "spiffe://cluster.local/ns/shop/sa/web" };

let ca: CertificateAuthority;
let server: XdsServer;
let address: string;
const signed: string[] = [];
const refused: string[] = [];

function client(identity?: { certChain: readonly string[]; privateKey: string }): grpc.Client {
  return new grpc.Client(address, clientCredentials(ca.trustBundle.join(""), identity));
}

function createCertificate(
  caller: grpc.Client,
  request: IstioCertificateRequest,
  token?: string,
): Promise<IstioCertificateResponse> {
  const metadata = new grpc.Metadata();
  if (token) metadata.add("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    caller.makeUnaryRequest(
      CREATE_CERTIFICATE_PATH,
      (value: IstioCertificateRequest) => Buffer.from(IstioCertificateRequest.encode(value).finish()),
      (bytes: Buffer) => IstioCertificateResponse.decode(bytes),
      request,
      metadata,
      (error, response) => (error ? reject(error) : resolve(response as IstioCertificateResponse)),
    ),
  );
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: grpc.ServiceError) => e,
  );
  expect(error, "expected a refusal").toBeDefined();
  return `${grpc.status[error?.code ?? 0]}: ${error?.details}`;
}

async function csrFor(spiffeId: string) {
  const pair = await generateKeyPair("ECDSA_P256");
  return {
    csr: createCsr(spiffeId, pair.privateKey, pair.publicKey),
    privateKey: pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  };
}

beforeAll(async () => {
  ca = await createCertificateAuthority();
  const service = createCertificateService({
    ca,
    verifyToken: ({ token }) => {
      const identity = tokens[token];
      if (!identity) throw new Error("unknown token");
      return identity;
    },
    callbacks: {
      onSigned: (info) => signed.push(info.spiffeId),
      onRefused: (info) => refused.push(`${grpc.status[info.code]}: ${info.message}`),
    },
  });
  const serving = await ca.issue({ namespace: "istio-system", serviceAccount: "istiod" });
  server = createXdsServer({
    cache: createSnapshotCache(),
    credentials: serverCredentials(serving, ca.trustBundle.join("")),
  });
  server.grpcServer.addService(service.definition, service.implementation);
  address = `127.0.0.1:${await server.listen("127.0.0.1:0")}`;
});

afterAll(async () => {
  await server?.close({ graceMs: 100 });
});

describe("IstioCertificateService/CreateCertificate over gRPC", () => {
  it("signs for the identity a bearer token proves, then renews over mTLS with that certificate", async () => {
    const caller = client();
    const { csr, privateKey } = await csrFor(CART);
    const response = await createCertificate(caller, { csr, validityDuration: 3600 }, "token-cart");
    caller.close();
    expect(response.certChain).toHaveLength(2);
    const leaf = new X509Certificate(response.certChain?.[0] as string);
    expect(leaf.subjectAltName).toBe(`URI:${CART}`);
    expect(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)).toBe(3600_000 + 120_000);
    expect(response.certChain?.[1]).toBe(ca.trustBundle[0]);
    expect(
      opensslVerify({ roots: ca.trustBundle.join(""), leaf: response.certChain?.[0] as string, purpose: "sslclient" }),
    ).toMatch(/: OK/);

    // Renewal: no token, the certificate just issued is the credential.
    const renewing = client({ certChain: response.certChain ?? [], privateKey });
    const next = await csrFor(CART);
    const renewed = await createCertificate(renewing, { csr: next.csr });
    expect(new X509Certificate(renewed.certChain?.[0] as string).subjectAltName).toBe(`URI:${CART}`);
    // ... but not for someone else's identity.
    const foreign = await csrFor("spiffe://cluster.local/ns/shop/sa/web");
    expect(await refusal(createCertificate(renewing, { csr: foreign.csr }))).toBe(
      `PERMISSION_DENIED: CSR asks for SAN URI:spiffe://cluster.local/ns/shop/sa/web but the caller's identity is ${CART}`,
    );
    renewing.close();
    expect(signed).toContain(CART);
  });

  it("refuses callers without credentials, with a bad token, or with another CA's certificate: UNAUTHENTICATED", async () => {
    const caller = client();
    const { csr } = await csrFor(CART);
    expect(await refusal(createCertificate(caller, { csr }))).toBe(
      'UNAUTHENTICATED: no credentials: present a client certificate issued by this CA or an "authorization: Bearer <token>" header',
    );
    expect(await refusal(createCertificate(caller, { csr }, "stolen"))).toBe(
      "UNAUTHENTICATED: bearer token refused: unknown token",
    );
    caller.close();
    const otherCa = await createCertificateAuthority();
    const stranger = await otherCa.issue({ namespace: "shop", serviceAccount: "cart" });
    // TLS does not authorize another CA's certificate, so grpc-js does not pass it on: no credentials.
    const strangerClient = client(stranger);
    expect(await refusal(createCertificate(strangerClient, { csr }))).toMatch(/^UNAUTHENTICATED: no credentials/);
    strangerClient.close();
    // Had the server's TLS trusted it, the service checks the certificate itself.
    const service = createCertificateService({ ca });
    const der = new X509Certificate(stranger.certChain[0] as string).raw;
    await expect(service.createCertificate({ csr }, { certificate: der })).rejects.toThrow(
      `client certificate (URI:${CART}) is not issued by this CA`,
    );
    const mine = await ca.issue({ namespace: "shop", serviceAccount: "cart" });
    // The same CA (one directory), once two days ago and once now.
    const dir = join(tempDir(), "ca");
    const pastCa = await createCertificateAuthority({ dir, now: () => Date.now() - 2 * 86_400_000 });
    const expired = await pastCa.issue({ namespace: "shop", serviceAccount: "cart" });
    const expiredService = createCertificateService({ ca: await createCertificateAuthority({ dir }) });
    await expect(
      expiredService.createCertificate(
        { csr },
        { certificate: new X509Certificate(expired.certChain[0] as string).raw },
      ),
    ).rejects.toThrow(/^client certificate expired or not yet valid/);
    const accepted = await service.createCertificate(
      { csr },
      { certificate: new X509Certificate(mine.certChain[0] as string).raw },
    );
    expect(accepted.certChain).toHaveLength(2);
    await expect(
      createCertificateService({ ca, acceptClientCertificates: false }).createCertificate(
        { csr },
        { certificate: new X509Certificate(mine.certChain[0] as string).raw },
      ),
    ).rejects.toThrow('no credentials: present an "authorization: Bearer <token>" header');
    await expect(
      service.createCertificate(
        { csr, metadata: { ImpersonatedIdentity: "spiffe://cluster.local/ns/shop/sa/web" } },
        { certificate: new X509Certificate(mine.certChain[0] as string).raw },
      ),
    ).rejects.toThrow(
      `${CART} may not ask for a certificate of spiffe://cluster.local/ns/shop/sa/web (impersonation is not supported)`,
    );
    expect(refused).toContain("UNAUTHENTICATED: bearer token refused: unknown token");
  });

  it("answers malformed messages, bad CSRs and huge TTLs with INVALID_ARGUMENT while good callers are served", async () => {
    const caller = client();
    const garbage = new Promise<unknown>((resolve, reject) =>
      caller.makeUnaryRequest(
        CREATE_CERTIFICATE_PATH,
        (value: Buffer) => value,
        (bytes: Buffer) => bytes,
        Buffer.from([0x0a, 0xff, 0xff, 0xff]),
        new grpc.Metadata({}),
        (error, response) => (error ? reject(error) : resolve(response)),
      ),
    );
    const { csr } = await csrFor(CART);
    const bad = [
      refusal(garbage),
      refusal(createCertificate(caller, { csr: "not a csr" }, "token-cart")),
      refusal(createCertificate(caller, { csr, validityDuration: 365 * 86_400 }, "token-cart")),
    ];
    const good = Array.from({ length: 40 }, async () => {
      const request = await csrFor(CART);
      return createCertificate(caller, { csr: request.csr }, "token-cart");
    });
    const [malformed, notCsr, tooLong] = await Promise.all(bad);
    expect(malformed).toMatch(/^INVALID_ARGUMENT: malformed request message: /);
    expect(notCsr).toBe('INVALID_ARGUMENT: malformed CSR: expected one PEM block "CERTIFICATE REQUEST", found 0');
    expect(tooLong).toBe("INVALID_ARGUMENT: requested TTL 365d is above the maximum 90d");
    const responses = await Promise.all(good);
    expect(responses.every((r) => r.certChain?.length === 2)).toBe(true);
    caller.close();
  });
});
