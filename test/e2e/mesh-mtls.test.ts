// Mesh mTLS between two real Envoy sidecars configured by @xdskit/translate from Istio YAML (no Kubernetes,
// captureMode NONE on loopback): the client's sidecar originates Istio mTLS (DestinationRule ISTIO_MUTUAL
// or auto mTLS), the server's sidecar terminates it as its PeerAuthentication says. Certificates come from
// @xdskit/certs' CA as the SDS secrets `default` and `ROOTCA` over each proxy's ADS stream.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type CertificateAuthority, createCertificateAuthority, workloadSecrets } from "@xdskit/certs";
import type { Secret } from "@xdskit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMesh, generate, loadConfig, proxyOf } from "../../packages/translate/src/index.js";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { freePort } from "../harness/ports.js";
import { closeHttpAgent, envoyBootstrap, httpGet, startXds, type XdsUnderTest } from "./helpers.js";

const HOST = "server.default.svc.cluster.local";
const spiffe = (sa: string) => `spiffe://cluster.local/ns/default/sa/${sa}`;

/** One GET on a fresh connection, straight to the server sidecar: no client certificate. */
function plainGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port, path: "/", headers: { host: HOST }, agent: false, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
  });
}

describe("mesh mTLS between two Envoy sidecars (PeerAuthentication, DestinationRule ISTIO_MUTUAL, auto mTLS)", () => {
  let ca: CertificateAuthority;
  let xds: XdsUnderTest;
  const envoys: EnvoyHandle[] = [];
  let app: http.Server;
  let servicePort: number;
  let inboundPort: number;
  let clientId: string;
  let serverId: string;
  const secrets: Record<string, Secret[]> = {};

  /** The platform: the server app behind its sidecar's inbound port, the client's sidecar egress on loopback. */
  const platform = (serverLabels: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: server, namespace: default }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${servicePort}, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: server } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: server, namespace: default }
spec: { address: 127.0.0.1, ports: { http: ${inboundPort} }, labels: { app: server${serverLabels} }, serviceAccount: server }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: client, namespace: default }
spec: { address: 127.0.0.1, labels: { app: client }, serviceAccount: client }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: server, namespace: default }
spec:
  workloadSelector: { labels: { app: server } }
  ingress:
  - port: { number: ${inboundPort}, protocol: HTTP, name: http }
    bind: 127.0.0.1
    captureMode: NONE
    defaultEndpoint: 127.0.0.1:${(app.address() as AddressInfo).port}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: client, namespace: default }
spec:
  workloadSelector: { labels: { app: client } }
  egress:
  - port: { number: ${servicePort}, protocol: HTTP, name: http }
    bind: 127.0.0.1
    captureMode: NONE
    hosts: ["./*"]
`;
  const peerAuthentication = (mode: string) => `
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: server, namespace: default }
spec: { selector: { matchLabels: { app: server } }, mtls: { mode: ${mode} } }
`;
  const destinationRule = (tls: string) => `
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: server, namespace: default }
spec: { host: server, trafficPolicy: { tls: ${tls} } }
`;

  /** Translates `yaml` for both sidecars and waits until both Envoys applied it. */
  const apply = async (yaml: string) => {
    const loaded = loadConfig([{ file: "mesh.yaml", text: yaml }]);
    expect(loaded.diagnostics).toEqual([]);
    const mesh = buildMesh(loaded);
    const versions: Array<[string, string]> = [];
    for (const [name, id] of [
      ["client", clientId],
      ["server", serverId],
    ] as const) {
      const proxy = proxyOf(mesh, `default/${name}`);
      const snapshot = xds.set(id, { ...generate(mesh, proxy), Secret: secrets[name] ?? [] });
      versions.push([id, snapshot.version]);
    }
    if (envoys.length > 0)
      for (const [id, version] of versions) await xds.cache.awaitApplied(id, version, { timeoutMs: 10_000 });
  };

  /** Through the client's sidecar, as the client application calls the service. */
  const viaClientSidecar = () => httpGet(`http://127.0.0.1:${servicePort}/`, { host: HOST });

  beforeAll(async () => {
    ca = await createCertificateAuthority();
    secrets.client = workloadSecrets(await ca.issue({ namespace: "default", serviceAccount: "client" }));
    secrets.server = workloadSecrets(await ca.issue({ namespace: "default", serviceAccount: "server" }));
    // The application answers with the client identity its sidecar forwarded.
    app = http.createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ xfcc: req.headers["x-forwarded-client-cert"] ?? "" }));
    });
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    servicePort = await freePort();
    inboundPort = await freePort();
    xds = await startXds();
    clientId = proxyOf(buildMesh(loadConfig(platform(""))), "default/client").id;
    serverId = proxyOf(buildMesh(loadConfig(platform(""))), "default/server").id;
    expect(clientId).not.toBe(serverId);
    await apply(platform("") + peerAuthentication("STRICT") + destinationRule("{ mode: ISTIO_MUTUAL }"));
    for (const [name, id] of [
      ["client", clientId],
      ["server", serverId],
    ] as const)
      envoys.push(
        await startEnvoy({
          name: `mtls-${name}`,
          bootstrap: envoyBootstrap({ transport: "ads-sotw", xdsPort: xds.port, nodeId: id }),
          readyTimeoutMs: 30_000,
        }),
      );
  }, 90_000);

  afterAll(async () => {
    closeHttpAgent();
    await Promise.all(envoys.map((e) => e.stop()));
    await xds?.close();
    await new Promise((resolve) => app?.close(resolve));
  });

  it("STRICT + ISTIO_MUTUAL: the request goes over mTLS and the server sees the client's SPIFFE id", async () => {
    const reply = await viaClientSidecar();
    expect(reply.status).toBe(200);
    const xfcc = JSON.parse(reply.body).xfcc as string;
    expect(xfcc).toContain(`By=${spiffe("server")}`);
    expect(xfcc).toContain(`URI=${spiffe("client")}`);
    const stats = await envoys[1]?.stats();
    const handshakes = Object.entries(stats ?? {})
      .filter(([name]) => name.startsWith("listener.127.0.0.1_") && name.endsWith(".ssl.handshake"))
      .reduce((sum, [, value]) => sum + Number(value), 0);
    expect(handshakes).toBeGreaterThan(0);
  });

  it("STRICT: a plaintext client to the server sidecar's inbound port is refused", async () => {
    await expect(plainGet(inboundPort)).rejects.toThrow(/socket hang up|ECONNRESET|EPIPE/);
  });

  it("DestinationRule subjectAltNames: a server with another SPIFFE id is refused by the client's sidecar", async () => {
    await apply(
      platform("") +
        peerAuthentication("STRICT") +
        destinationRule(`{ mode: ISTIO_MUTUAL, subjectAltNames: ["${spiffe("someone-else")}"] }`),
    );
    expect((await viaClientSidecar()).status).toBe(503);
    // Without subjectAltNames the SANs are the service's accounts: an impostor's certificate is refused too.
    secrets.server = workloadSecrets(await ca.issue({ namespace: "default", serviceAccount: "impostor" }));
    await apply(platform("") + peerAuthentication("STRICT") + destinationRule("{ mode: ISTIO_MUTUAL }"));
    expect((await viaClientSidecar()).status).toBe(503);
    secrets.server = workloadSecrets(await ca.issue({ namespace: "default", serviceAccount: "server" }));
  });

  it("PERMISSIVE: auto mTLS to a workload with a sidecar, and plaintext from a client without one", async () => {
    await apply(platform(", security.istio.io/tlsMode: istio") + peerAuthentication("PERMISSIVE"));
    const mtls = await viaClientSidecar();
    expect(mtls.status).toBe(200);
    expect(JSON.parse(mtls.body).xfcc).toContain(`URI=${spiffe("client")}`);
    const plain = await plainGet(inboundPort);
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body).xfcc).toBe("");
  });
});
