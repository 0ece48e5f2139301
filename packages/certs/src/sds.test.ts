// SDS over a real xDS server: a raw ADS client over mTLS gets its own identity's secrets and is refused
// anyone else's.
import { X509Certificate } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import {
  createSnapshot,
  createSnapshotCache,
  DiscoveryRequest,
  DiscoveryResponse,
  type Node,
  resourceTypes,
  Secret,
} from "@xdskit/core";
import { createXdsServer, type XdsServer } from "@xdskit/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertificateAuthority, createCertificateAuthority, type IssuedCertificate } from "./authority.js";
import {
  createSecretAuthorizer,
  createWorkloadAuthenticator,
  gatewayCredentialFromObject,
  identityOfNode,
  workloadSecrets,
} from "./sds.js";
import { clientCredentials, serverCredentials } from "./testing/grpc.js";

const ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const SECRET = resourceTypes.Secret.typeUrl;

let ca: CertificateAuthority;
let server: XdsServer;
let address: string;
let cart: IssuedCertificate;
let web: IssuedCertificate;

const nodeOf = (serviceAccount: string): Node => ({
  id: `sidecar~10.0.0.1~${serviceAccount}-pod.shop~shop.svc.cluster.local`,
  metadata: { NAMESPACE: "shop", SERVICE_ACCOUNT: serviceAccount },
});

/** Opens an ADS stream, asks for Secrets, and returns the first response or the stream's error. */
function askSecrets(
  identity: IssuedCertificate | undefined,
  node: Node,
  names: string[],
): Promise<{ response?: DiscoveryResponse; error?: string }> {
  const client = new grpc.Client(address, clientCredentials(ca.trustBundle.join(""), identity));
  const call = client.makeBidiStreamRequest(
    ADS,
    (value: DiscoveryRequest) => Buffer.from(DiscoveryRequest.encode(value).finish()),
    (bytes: Buffer) => DiscoveryResponse.decode(bytes),
  );
  return new Promise((resolve) => {
    const done = (result: { response?: DiscoveryResponse; error?: string }) => {
      call.cancel();
      client.close();
      resolve(result);
    };
    call.on("data", (response: DiscoveryResponse) => done({ response }));
    call.on("error", (error: grpc.ServiceError) => done({ error: `${grpc.status[error.code]}: ${error.details}` }));
    call.write({ node, typeUrl: SECRET, resourceNames: names });
  });
}

beforeAll(async () => {
  ca = await createCertificateAuthority();
  [cart, web] = await Promise.all([
    ca.issue({ namespace: "shop", serviceAccount: "cart" }),
    ca.issue({ namespace: "shop", serviceAccount: "web" }),
  ]);
  const cache = createSnapshotCache({ nodeHash: (node) => identityOfNode(node, ca.trustDomain) ?? "" });
  const gateway = gatewayCredentialFromObject({
    metadata: { name: "shop-tls" },
    stringData: {
      "tls.crt": web.certChain[0] as string,
      "tls.key": web.privateKey,
      "ca.crt": ca.trustBundle[0] as string,
    },
  });
  cache.setSnapshot(
    "spiffe://cluster.local/ns/shop/sa/cart",
    createSnapshot({ resources: { Secret: [...workloadSecrets(cart), ...gateway] } }),
  );
  cache.setSnapshot(
    "spiffe://cluster.local/ns/shop/sa/web",
    createSnapshot({ resources: { Secret: workloadSecrets(web) } }),
  );
  const serving = await ca.issue({ namespace: "istio-system", serviceAccount: "istiod" });
  server = createXdsServer({
    cache,
    credentials: serverCredentials(serving, ca.trustBundle.join("")),
    authenticate: createWorkloadAuthenticator(ca),
    authorize: createSecretAuthorizer({
      mayReadCredential: (spiffeId, name) =>
        spiffeId === "spiffe://cluster.local/ns/shop/sa/cart" && name === "shop-tls",
    }),
  });
  address = `127.0.0.1:${await server.listen("127.0.0.1:0")}`;
});

afterAll(async () => {
  await server?.close({ graceMs: 100 });
});

describe("SDS secrets per identity", () => {
  it("serves a node its own default (chain without root + key) and ROOTCA", async () => {
    const { response, error } = await askSecrets(cart, nodeOf("cart"), ["default", "ROOTCA"]);
    expect(error).toBeUndefined();
    const secrets = new Map(
      (response?.resources ?? []).map((any) => {
        const secret = Secret.decode(any.value as Uint8Array);
        return [secret.name, secret] as const;
      }),
    );
    expect([...secrets.keys()].sort()).toEqual(["ROOTCA", "default"]);
    const chain = Buffer.from(secrets.get("default")?.tlsCertificate?.certificateChain?.inlineBytes ?? []).toString();
    expect(chain).toBe(cart.certChain[0]);
    expect(new X509Certificate(chain).subjectAltName).toBe("URI:spiffe://cluster.local/ns/shop/sa/cart");
    expect(Buffer.from(secrets.get("default")?.tlsCertificate?.privateKey?.inlineBytes ?? []).toString()).toBe(
      cart.privateKey,
    );
    expect(Buffer.from(secrets.get("ROOTCA")?.validationContext?.trustedCa?.inlineBytes ?? []).toString()).toBe(
      ca.trustBundle.join(""),
    );
  });

  it("serves a granted gateway credential and its -cacert", async () => {
    const { response, error } = await askSecrets(cart, nodeOf("cart"), [
      "kubernetes://shop-tls",
      "kubernetes://shop-tls-cacert",
    ]);
    expect(error).toBeUndefined();
    const names = (response?.resources ?? []).map((any) => Secret.decode(any.value as Uint8Array).name).sort();
    expect(names).toEqual(["kubernetes://shop-tls", "kubernetes://shop-tls-cacert"]);
  });

  it("refuses a node claiming another identity's secrets, an anonymous node, and ungranted credentials", async () => {
    const spoofed = await askSecrets(web, nodeOf("cart"), ["default"]);
    expect(spoofed.error).toBe(
      `PERMISSION_DENIED: node "${nodeOf("cart").id}" may not subscribe to ${SECRET} [default]: node "${nodeOf("cart").id}" claims identity spiffe://cluster.local/ns/shop/sa/cart but authenticated as spiffe://cluster.local/ns/shop/sa/web: secrets refused`,
    );
    const anonymous = await askSecrets(undefined, nodeOf("cart"), ["default"]);
    expect(anonymous.error).toMatch(/: the stream is not authenticated by a workload certificate$/);
    const ungranted = await askSecrets(web, nodeOf("web"), ["kubernetes://shop-tls"]);
    expect(ungranted.error).toMatch(
      /: spiffe:\/\/cluster.local\/ns\/shop\/sa\/web may not read secret "kubernetes:\/\/shop-tls"$/,
    );
    const other = await askSecrets(web, nodeOf("web"), ["something-else"]);
    expect(other.error).toMatch(
      /may not read secret "something-else": only default, ROOTCA and granted kubernetes:\/\/<name> credentials are served$/,
    );
    // And the rightful owner still gets its secrets.
    expect((await askSecrets(web, nodeOf("web"), ["default"])).response?.resources).toHaveLength(1);
  });

  it("checks gateway credential objects", () => {
    expect(() => gatewayCredentialFromObject({ metadata: { name: "x" }, data: {} })).toThrow(
      'gateway credential Secret "x": data needs tls.crt and tls.key (or cert and key)',
    );
    const fromBase64 = gatewayCredentialFromObject({
      metadata: { name: "b64" },
      data: {
        cert: Buffer.from(cart.certChain[0] as string).toString("base64"),
        key: Buffer.from(cart.privateKey).toString("base64"),
      },
    });
    expect(fromBase64.map((s) => s.name)).toEqual(["kubernetes://b64"]);
  });
});
