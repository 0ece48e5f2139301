// Bookinfo's ingress gateway (bookinfo-gateway.yaml, unchanged but for its port and a loopback bind) through
// a real Envoy gateway configured by @xdskit/translate: the router proxy is identified by Istio's node id and
// LABELS metadata, gets listener `127.0.0.1_<port>` with RDS `http.<port>`, and sends Bookinfo's paths to a
// productpage WorkloadEntry; everything else is 404 (no route).
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMesh, generate, loadConfig, proxyOf } from "../../packages/translate/src/index.js";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { freePort } from "../harness/ports.js";
import { type HttpUpstream, startHttpUpstream } from "../harness/upstreams.js";
import { closeHttpAgent, envoyBootstrap, httpGet, meshSecrets, startXds, type XdsUnderTest } from "./helpers.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/istio/bookinfo/networking/bookinfo-gateway.yaml");

describe("Bookinfo's ingress gateway through a real Envoy gateway", () => {
  let upstream: HttpUpstream;
  let xds: XdsUnderTest;
  let envoy: EnvoyHandle;
  let port: number;
  const node = {
    id: "router~127.0.0.1~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local",
    metadata: { NAMESPACE: "istio-system", LABELS: { istio: "ingressgateway" } },
  };

  beforeAll(async () => {
    upstream = await startHttpUpstream({ service: "productpage", version: "v1" });
    port = await freePort();
    const gateway = fs
      .readFileSync(fixture, "utf8")
      .replace("      number: 8080", `      number: ${port}`)
      .replace('    hosts:\n    - "*"\n---', '    bind: 127.0.0.1\n    hosts:\n    - "*"\n---');
    const platform = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: productpage, namespace: default }
spec:
  hosts: [productpage.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${upstream.port} }, labels: { app: productpage, version: v1 } }]`;
    const loaded = loadConfig([
      { file: "platform.yaml", text: platform },
      { file: "bookinfo-gateway.yaml", text: gateway },
    ]);
    expect(loaded.diagnostics).toEqual([]);
    const mesh = buildMesh(loaded);
    xds = await startXds();
    const proxy = proxyOf(mesh, node);
    const snapshot = xds.set(node.id, { ...generate(mesh, proxy), Secret: await meshSecrets(proxy) });
    envoy = await startEnvoy({
      name: "bookinfo-ingress-gateway",
      bootstrap: envoyBootstrap({ transport: "ads-sotw", xdsPort: xds.port, nodeId: node.id }),
    });
    await xds.cache.awaitApplied(node.id, snapshot.version, { timeoutMs: 15_000 });
  });

  afterAll(async () => {
    closeHttpAgent();
    await envoy?.stop();
    await xds?.close();
    await upstream?.close();
  });

  it("binds the gateway's server port on the given address with RDS http.<port>", async () => {
    const routes = await envoy.configDump("dynamic_route_configs");
    expect(JSON.stringify(routes)).toContain(`"name":"http.${port}"`);
    expect(await envoy.listenerPort(`127.0.0.1_${port}`)).toBe(port);
    expect(xds.nacks).toEqual([]);
  });

  it("routes Bookinfo's paths to productpage and answers 404 for the rest", async () => {
    for (const p of ["/productpage", "/static/style.css", "/login", "/api/v1/products/1"]) {
      const reply = await httpGet(`http://127.0.0.1:${port}${p}`, { host: "bookinfo.example" });
      expect(reply.status, p).toBe(200);
      expect(reply.upstream, p).toBe("productpage/v1");
    }
    expect(upstream.requests.map((r) => r.path)).toContain("/api/v1/products/1");
    const other = await httpGet(`http://127.0.0.1:${port}/admin`, { host: "bookinfo.example" });
    expect(other.status).toBe(404);
    expect(other.upstream).toBe("");
  });
});
