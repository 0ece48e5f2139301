// Workload certificates from the control plane, seen by a raw ADS client: the SDS secrets a proxy is served, who
// is refused on each port, renewal at half lifetime and a staged root rotation.
import { X509Certificate } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { IssuedCertificate } from "@xdskit/certs";
import { DiscoveryRequest, DiscoveryResponse, type Node, resourceTypes, Secret } from "@xdskit/core";
import { afterEach, describe, expect, it } from "vitest";
import { type ControlPlane, type ControlPlaneOptions, createControlPlane } from "./control-plane.js";
import type { MeshTranslator } from "./mesh-translator.js";

const ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const SECRET = resourceTypes.Secret.typeUrl;
const CART = "spiffe://cluster.local/ns/shop/sa/cart";

/** Every sidecar is in the mesh and gets no clusters: only the secrets matter here. */
const emptyMesh: MeshTranslator = {
  update: () => [],
  resourcesFor: (node) => (node.id?.startsWith("sidecar~") ? { Cluster: [] } : undefined),
};

const nodeOf = (serviceAccount: string | undefined, pod = `${serviceAccount ?? "anon"}-1`): Node => ({
  id: `sidecar~127.0.0.1~${pod}.shop~shop.svc.cluster.local`,
  metadata: { NAMESPACE: "shop", ...(serviceAccount ? { SERVICE_ACCOUNT: serviceAccount } : {}) },
});

interface SecretsSeen {
  /** The leaf certificate of `default` and the roots of `ROOTCA`, per response. */
  readonly leaf: X509Certificate;
  readonly roots: string;
  /** When the response arrived (Date.now()). */
  readonly at: number;
}

/** An ADS stream subscribed to `default` and `ROOTCA` that ACKs each response and keeps what it got. */
function secretStream(
  address: string,
  credentials: grpc.ChannelCredentials,
  node: Node,
  names = ["default", "ROOTCA"],
) {
  const client = new grpc.Client(address, credentials);
  const call = client.makeBidiStreamRequest(
    ADS,
    (value: DiscoveryRequest) => Buffer.from(DiscoveryRequest.encode(value).finish()),
    (bytes: Buffer) => DiscoveryResponse.decode(bytes),
  );
  const seen: SecretsSeen[] = [];
  let error: string | undefined;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  // A SotW Secret response may carry only the secrets that changed: the client keeps the others.
  const current = new Map<string, Secret>();
  call.on("data", (response: DiscoveryResponse) => {
    for (const any of response.resources ?? []) {
      const secret = Secret.decode(any.value ?? new Uint8Array());
      current.set(secret.name ?? "", secret);
    }
    const chain = current.get("default")?.tlsCertificate?.certificateChain?.inlineBytes;
    const roots = current.get("ROOTCA")?.validationContext?.trustedCa?.inlineBytes;
    if (chain && roots)
      seen.push({
        leaf: new X509Certificate(Buffer.from(chain)),
        roots: Buffer.from(roots).toString(),
        at: Date.now(),
      });
    call.write({
      typeUrl: SECRET,
      resourceNames: names,
      versionInfo: response.versionInfo,
      responseNonce: response.nonce,
    });
    wake();
  });
  call.on("error", (e: grpc.ServiceError) => {
    error = `${grpc.status[e.code]}: ${e.details}`;
    wake();
  });
  call.write({ node, typeUrl: SECRET, resourceNames: names });
  return {
    seen,
    error: () => error,
    /** Resolves once `test` holds, or rejects after `timeoutMs` saying what was seen. */
    async until(test: () => boolean, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!test()) {
        if (Date.now() > deadline)
          throw new Error(`no such response after ${timeoutMs} ms: ${seen.length} seen, error ${error ?? "none"}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close() {
      call.cancel();
      client.close();
    },
  };
}

const tlsCredentials = (roots: readonly string[], identity?: IssuedCertificate) =>
  grpc.credentials.createSsl(
    Buffer.from(roots.join("")),
    identity ? Buffer.from(identity.privateKey) : null,
    identity ? Buffer.from(identity.certChain.join("")) : null,
    { checkServerIdentity: () => undefined },
  );

const planes: ControlPlane[] = [];
const streams: { close(): void }[] = [];
afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

async function start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const cp = await createControlPlane({
    translator: emptyMesh,
    xds: { port: 0 },
    xdsTls: { port: 0 },
    monitoring: false,
    logger: { level: "silent" },
    ...options,
  });
  planes.push(cp);
  return cp;
}

function open(address: string, credentials: grpc.ChannelCredentials, node: Node, names?: string[]) {
  const stream = secretStream(address, credentials, node, names);
  streams.push(stream);
  return stream;
}

const plaintext = grpc.credentials.createInsecure();

describe("createControlPlane: workload certificates over SDS", () => {
  it("serves a proxy `default` (its declared identity's chain and key) and `ROOTCA` on plaintext 15010", async () => {
    const cp = await start({ monitoring: { port: 0 } });
    const stream = open(cp.xdsAddress, plaintext, nodeOf("cart"));
    await stream.until(() => stream.seen.length > 0);
    const [first] = stream.seen;
    expect(first?.leaf.subjectAltName).toBe(`URI:${CART}`);
    expect(first?.leaf.verify(new X509Certificate(cp.ca?.trustBundle[0] ?? "").publicKey)).toBe(true);
    expect(first?.roots).toBe(cp.ca?.trustBundle.join(""));
    expect(cp.workloadCertificate(nodeOf("cart").id ?? "")?.spiffeId).toBe(CART);
    expect(cp.workloadCertificate(nodeOf("cart").id ?? "")).not.toHaveProperty("privateKey");
    // The monitoring port's config dump shows the secrets without the key.
    const dump = (await (
      await fetch(`${cp.monitoring?.url}/debug/config_dump?proxy=${encodeURIComponent(nodeOf("cart").id ?? "")}`)
    ).json()) as { resources: { Secret: { name: string; tlsCertificate?: Record<string, unknown> }[] } };
    const secret = dump.resources.Secret.find((s) => s.name === "default");
    expect(secret?.tlsCertificate?.privateKey).toEqual({ inlineString: "[redacted]" });
    expect(secret?.tlsCertificate?.certificateChain).toHaveProperty("inlineBytes");
  });

  it("refuses names other than default/ROOTCA, nodes without an identity, and plaintext when told to", async () => {
    const cp = await start();
    const other = open(cp.xdsAddress, plaintext, nodeOf("cart"), ["default", "spiffe://cluster.local/ns/shop/sa/web"]);
    const anonymous = open(cp.xdsAddress, plaintext, nodeOf(undefined));
    await other.until(() => other.error() !== undefined);
    await anonymous.until(() => anonymous.error() !== undefined);
    expect(other.error()).toMatch(
      /^PERMISSION_DENIED: .*may not read secret "spiffe:\/\/cluster.local\/ns\/shop\/sa\/web"/,
    );
    expect(anonymous.error()).toMatch(/^PERMISSION_DENIED: .*declares no identity/);
    expect(other.seen).toEqual([]);

    const strict = await start({ workloadCertificates: { plaintext: false } });
    const refused = open(strict.xdsAddress, plaintext, nodeOf("cart"));
    await refused.until(() => refused.error() !== undefined);
    expect(refused.error()).toMatch(/^PERMISSION_DENIED: .*over plaintext xDS: connect with a workload certificate/);
  });

  it("on 15012 the client certificate must be the identity the node declares", async () => {
    const cp = await start({ workloadCertificates: { plaintext: false } });
    const ca = cp.ca;
    if (!ca) throw new Error("no CA");
    const [cart, web] = await Promise.all([
      ca.issue({ namespace: "shop", serviceAccount: "cart" }),
      ca.issue({ namespace: "shop", serviceAccount: "web" }),
    ]);
    const address = `127.0.0.1:${cp.ports.xdsTls}`;
    const impostor = open(address, tlsCredentials(ca.trustBundle, web), nodeOf("cart", "cart-2"));
    const anonymous = open(address, tlsCredentials(ca.trustBundle), nodeOf("cart", "cart-3"));
    const genuine = open(address, tlsCredentials(ca.trustBundle, cart), nodeOf("cart"));
    await impostor.until(() => impostor.error() !== undefined);
    await anonymous.until(() => anonymous.error() !== undefined);
    await genuine.until(() => genuine.seen.length > 0);
    expect(impostor.error()).toMatch(
      new RegExp(
        `^PERMISSION_DENIED: .*claims identity ${CART} but authenticated as spiffe://cluster.local/ns/shop/sa/web`,
      ),
    );
    expect(anonymous.error()).toMatch(/^PERMISSION_DENIED: .*not authenticated by a workload certificate/);
    expect(genuine.seen[0]?.leaf.subjectAltName).toBe(`URI:${CART}`);
    // The proxy's own key, not the certificate it authenticated with.
    expect(genuine.seen[0]?.leaf.serialNumber).not.toBe(new X509Certificate(cart.certChain[0] as string).serialNumber);
  });

  it("renews each certificate at about half its lifetime", async () => {
    const cp = await start({ workloadCertificates: { ttlSeconds: 4 } });
    const stream = open(cp.xdsAddress, plaintext, nodeOf("cart"));
    await stream.until(() => new Set(stream.seen.map((s) => s.leaf.serialNumber)).size >= 2, 15_000);
    const first = stream.seen[0] as SecretsSeen;
    const second = stream.seen.find((s) => s.leaf.serialNumber !== first.leaf.serialNumber) as SecretsSeen;
    // 4 s from issue, plus the two minutes the CA backdates NotBefore for clock skew (X.509 times are whole seconds).
    const lifetime = Date.parse(first.leaf.validTo) - Date.parse(first.leaf.validFrom);
    expect(lifetime).toBeGreaterThanOrEqual(123_000);
    expect(lifetime).toBeLessThanOrEqual(125_000);
    // Renewed at ~2 s: not at once (the backdated NotBefore does not count), and before the first one expired.
    expect(second.at - first.at).toBeGreaterThan(1000);
    expect(second.at).toBeLessThan(Date.parse(first.leaf.validTo) + 1000);
  });

  it("follows a root rotation through cp.ca: bundle with both roots, leaves from the new one, old root dropped", async () => {
    const cp = await start();
    const ca = cp.ca;
    if (!ca) throw new Error("no CA");
    const stream = open(cp.xdsAddress, plaintext, nodeOf("cart"));
    await stream.until(() => stream.seen.length > 0);
    const [oldRoot] = ca.trustBundle as [string];
    const latest = () => stream.seen.at(-1) as SecretsSeen;

    await ca.stageRoot();
    const [, newRoot] = ca.trustBundle as [string, string];
    await stream.until(() => latest().roots === `${oldRoot}${newRoot}`);
    expect(latest().leaf.verify(new X509Certificate(oldRoot).publicKey)).toBe(true); // still signed by the old root

    await ca.activateStagedRoot();
    await stream.until(() => latest().leaf.verify(new X509Certificate(newRoot).publicKey));
    expect(latest().roots).toBe(`${newRoot}${oldRoot}`);

    await ca.retirePreviousRoots();
    await stream.until(() => latest().roots === newRoot);
    expect(cp.workloadCertificate(nodeOf("cart").id ?? "")?.trustBundle).toEqual([newRoot]);

    // 15012 follows too: a client trusting only the new root accepts the renewed serving certificate.
    const client = new grpc.Client(`127.0.0.1:${cp.ports.xdsTls}`, tlsCredentials([newRoot]));
    try {
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(Date.now() + 5000, (error) => (error ? reject(error) : resolve())),
      );
    } finally {
      client.close();
    }
  });
});
