// Bookinfo's routing samples through a real Envoy sidecar configured by @xdskit/translate and served by a
// real xdskit server. The mesh has no Kubernetes: reviews and ratings are ServiceEntries whose endpoints
// are WorkloadEntries (Node upstreams on 127.0.0.1 that answer with their name and version), and
// productpage's sidecar runs without iptables (Sidecar captureMode NONE, egress bound to 127.0.0.1). The
// VirtualServices and DestinationRules are Bookinfo's own files, unchanged.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../packages/translate/src/config/loader.js";
import { buildMesh, createConfigStore, generate, proxyOf } from "../../packages/translate/src/index.js";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { freePort } from "../harness/ports.js";
import { type HttpUpstream, startHttpUpstream } from "../harness/upstreams.js";
import {
  closeHttpAgent,
  envoyBootstrap,
  httpGet,
  meshSecrets,
  startXds,
  tallyGets,
  type XdsUnderTest,
} from "./helpers.js";

const networking = path.resolve(import.meta.dirname, "../fixtures/istio/bookinfo/networking");
const sample = (file: string) => ({ file, text: fs.readFileSync(path.join(networking, file), "utf8") });

/** 80/20 over this many requests: v1's share must be within ±0.1 of 0.8 (> 5 standard deviations). */
const SPLIT_REQUESTS = 300;
const SPLIT_TOLERANCE = 0.1;

describe("Bookinfo samples through a real Envoy sidecar (no Kubernetes, captureMode NONE)", () => {
  const upstreams: Record<string, HttpUpstream> = {};
  let xds: XdsUnderTest;
  let envoy: EnvoyHandle;
  let servicePort: number;
  let platform: string;
  let nodeId: string;

  /** Translates the platform plus `samples` for productpage's sidecar and waits until Envoy applied it. */
  const apply = async (...samples: Array<{ file: string; text: string }>) => {
    const loaded = loadConfig([{ file: "platform.yaml", text: platform }, ...samples]);
    expect(loaded.diagnostics).toEqual([]);
    const mesh = buildMesh(loaded);
    const proxy = proxyOf(mesh, "default/productpage-v1");
    nodeId = proxy.id;
    const snapshot = xds.set(nodeId, { ...generate(mesh, proxy), Secret: await meshSecrets(proxy) });
    if (envoy) await xds.cache.awaitApplied(nodeId, snapshot.version, { timeoutMs: 10_000 });
    return snapshot;
  };

  /** Translates the config store's valid objects for productpage's sidecar and waits until Envoy applied them. */
  const applyValid = async (objects: Parameters<typeof buildMesh>[0]) => {
    const mesh = buildMesh(objects);
    const proxy = proxyOf(mesh, "default/productpage-v1");
    const snapshot = xds.set(proxy.id, { ...generate(mesh, proxy), Secret: await meshSecrets(proxy) });
    await xds.cache.awaitApplied(proxy.id, snapshot.version, { timeoutMs: 10_000 });
  };

  const call = (host: string, headers: Record<string, string> = {}) =>
    httpGet(`http://127.0.0.1:${servicePort}/${host}/0`, { host, ...headers });

  beforeAll(async () => {
    for (const [service, version] of [
      ["reviews", "v1"],
      ["reviews", "v2"],
      ["reviews", "v3"],
      ["ratings", "v1"],
    ] as const)
      upstreams[`${service}-${version}`] = await startHttpUpstream({ service, version });
    servicePort = await freePort();
    const entry = (name: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${servicePort}, name: http, protocol: HTTP }]
  workloadSelector: { labels: { app: ${name} } }`;
    const workload = (name: string, app: string, version: string, port: number) => `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}, namespace: default }
spec: { address: 127.0.0.1, ports: { http: ${port} }, labels: { app: ${app}, version: ${version} } }`;
    platform = [
      entry("reviews"),
      entry("ratings"),
      ...Object.values(upstreams).map((u) => workload(`${u.service}-${u.version}`, u.service, u.version, u.port)),
      workload("productpage-v1", "productpage", "v1", 1),
      `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: productpage, namespace: default }
spec:
  workloadSelector: { labels: { app: productpage } }
  egress:
  - port: { number: ${servicePort}, protocol: HTTP, name: http }
    bind: 127.0.0.1
    captureMode: NONE
    hosts: ["./*"]`,
    ].join("\n---\n");
    xds = await startXds();
    const first = await apply(sample("destination-rule-all.yaml"), sample("virtual-service-all-v1.yaml"));
    envoy = await startEnvoy({
      name: "bookinfo-productpage-sidecar",
      bootstrap: envoyBootstrap({ transport: "ads-sotw", xdsPort: xds.port, nodeId }),
    });
    await xds.cache.awaitApplied(nodeId, first.version, { timeoutMs: 15_000 });
  });

  afterAll(async () => {
    closeHttpAgent();
    await envoy?.stop();
    await xds?.close();
    for (const upstream of Object.values(upstreams)) await upstream.close();
  });

  it("listens on 127.0.0.1:<service port> without iptables and sends everything to v1 (virtual-service-all-v1)", async () => {
    const dump = await envoy.configDump("dynamic_listeners");
    const names = dump.configs.map((c) => (c as { name?: string }).name);
    expect(names).toEqual([`127.0.0.1_${servicePort}`]);
    expect(await tallyGets(`http://127.0.0.1:${servicePort}/reviews/0`, 20, { host: "reviews" })).toEqual({
      "reviews/v1": 20,
    });
    expect((await call("ratings")).upstream).toBe("ratings/v1");
    expect(xds.nacks).toEqual([]);
  });

  it("sends jason to reviews v2 and everyone else to v1 (virtual-service-reviews-test-v2)", async () => {
    await apply(sample("destination-rule-all.yaml"), sample("virtual-service-reviews-test-v2.yaml"));
    expect(
      await tallyGets(`http://127.0.0.1:${servicePort}/reviews/0`, 10, { host: "reviews", "end-user": "jason" }),
    ).toEqual({
      "reviews/v2": 10,
    });
    expect(
      await tallyGets(`http://127.0.0.1:${servicePort}/reviews/0`, 10, { host: "reviews", "end-user": "kim" }),
    ).toEqual({
      "reviews/v1": 10,
    });
  });

  it(`splits 80/20 between v1 and v2 within ±${SPLIT_TOLERANCE} over ${SPLIT_REQUESTS} requests (virtual-service-reviews-80-20)`, async () => {
    await apply(sample("destination-rule-all.yaml"), sample("virtual-service-reviews-80-20.yaml"));
    const tally = await tallyGets(`http://127.0.0.1:${servicePort}/reviews/0`, SPLIT_REQUESTS, { host: "reviews" });
    expect(Object.keys(tally).sort()).toEqual(["reviews/v1", "reviews/v2"]);
    const share = (tally["reviews/v1"] ?? 0) / SPLIT_REQUESTS;
    expect(Math.abs(share - 0.8), JSON.stringify(tally)).toBeLessThanOrEqual(SPLIT_TOLERANCE);
  });

  it("aborts jason's calls to ratings with HTTP 500 and lets others through (virtual-service-ratings-test-abort)", async () => {
    await apply(sample("destination-rule-all.yaml"), sample("virtual-service-ratings-test-abort.yaml"));
    const jason = await call("ratings", { "end-user": "jason" });
    expect(jason.status).toBe(500);
    expect(jason.upstream).toBe("");
    expect(upstreams["ratings-v1"]?.requests.length).toBeGreaterThan(0);
    const before = upstreams["ratings-v1"]?.requests.length ?? 0;
    const other = await call("ratings", { "end-user": "kim" });
    expect(other.upstream).toBe("ratings/v1");
    expect(upstreams["ratings-v1"]?.requests.length).toBe(before + 1);
  });

  it("configures the 7 s delay for jason, and delays jason (only) by a short fixed delay of the same shape", async () => {
    await apply(sample("destination-rule-all.yaml"), sample("virtual-service-ratings-test-delay.yaml"));
    const routes = await envoy.configDump("dynamic_route_configs");
    const text = JSON.stringify(routes);
    expect(text).toContain('"fixed_delay":"7s"');
    expect(text).toContain("envoy.filters.http.fault");

    const short = sample("virtual-service-ratings-test-delay.yaml");
    await apply(sample("destination-rule-all.yaml"), {
      file: short.file,
      text: short.text.replace("fixedDelay: 7s", "fixedDelay: 0.6s"),
    });
    const started = Date.now();
    const jason = await call("ratings", { "end-user": "jason" });
    const jasonMs = Date.now() - started;
    expect(jason.upstream).toBe("ratings/v1");
    expect(jasonMs).toBeGreaterThanOrEqual(550);
    expect((await call("ratings", { "end-user": "kim" })).upstream).toBe("ratings/v1");
    expect(xds.nacks).toEqual([]);
  });

  it("keeps the previous routing when a VirtualService is rejected, and applies the rest of the batch", async () => {
    const store = createConfigStore();
    const first = store.applyText([
      { file: "platform.yaml", text: platform },
      sample("destination-rule-all.yaml"),
      sample("virtual-service-reviews-test-v2.yaml"),
    ]);
    expect(first.results.filter((r) => r.status !== "accepted")).toEqual([]);
    await applyValid(store.list());
    const jasonToReviews = () =>
      tallyGets(`http://127.0.0.1:${servicePort}/reviews/0`, 10, { host: "reviews", "end-user": "jason" });
    expect(await jasonToReviews()).toEqual({ "reviews/v2": 10 });

    // reviews edited to send jason to v3, with a route and a redirect in one HTTP route: Istio rejects it.
    const broken = sample("virtual-service-reviews-test-v2.yaml");
    const batch = store.applyText([
      {
        file: broken.file,
        text: broken.text.replace("subset: v2", "subset: v3\n    redirect:\n      uri: /elsewhere"),
      },
      sample("virtual-service-ratings-test-abort.yaml"),
    ]);
    expect(batch.results.map((r) => [r.key, r.status])).toEqual([
      ["VirtualService/default/reviews", "rejected"],
      ["VirtualService/default/ratings", "accepted"],
    ]);
    expect(batch.results[0]?.diagnostics.map((d) => d.message)).toEqual([
      "HTTP route cannot contain both route and redirect",
    ]);
    await applyValid(store.list());
    expect(await jasonToReviews()).toEqual({ "reviews/v2": 10 });
    expect((await call("ratings", { "end-user": "jason" })).status).toBe(500);
    expect(xds.nacks).toEqual([]);
  });
});
