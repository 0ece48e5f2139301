// The Bookinfo tutorial end to end on one machine, as a newcomer runs it: `xdskit demo` (the control plane on a
// watched copy of mesh/, the four Node services, six Envoy sidecars and an Envoy ingress gateway, real Envoy, on
// free ports), then `xdskit apply` of Istio's samples in the tutorial's order; the page through the gateway must
// show what the tutorial says. Ctrl-C (the abort signal) must free every port and leave no state behind.
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "xdskit";
import {
  DETAILS_UNAVAILABLE,
  type DemoState,
  RATINGS_UNAVAILABLE,
  REVIEWS_UNAVAILABLE,
  readWorkloads,
  runningDemo,
} from "xdskit/bookinfo";

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-bookinfo-"));
const stopDemo = new AbortController();
const output: string[] = [];
let exited: Promise<number>;
let demo: DemoState;

beforeAll(async () => {
  exited = runCli(["demo", "--free-ports", "--dir", workDir], {
    stdout: (text) => void output.push(text),
    stderr: (text) => void output.push(text),
    signal: stopDemo.signal,
  });
  let code: number | undefined;
  void exited.then((c) => {
    code = c;
  });
  while (!runningDemo(workDir)) {
    if (code !== undefined) throw new Error(`xdskit demo exited with ${code}:\n${output.join("")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  demo = runningDemo(workDir) as DemoState;
}, 120_000);
afterAll(async () => {
  stopDemo.abort();
  await exited;
  fs.rmSync(workDir, { recursive: true, force: true });
});

interface Page {
  status: number;
  servedBy?: string;
  stars: string[];
  body: string;
}

async function load(user?: string): Promise<Page> {
  const res = await fetch(demo.productpageUrl, user ? { headers: { cookie: `user=${user}` } } : {});
  const body = await res.text();
  return {
    status: res.status,
    servedBy: /Reviews served by: (reviews-v\d)/.exec(body)?.[1],
    stars: [...body.matchAll(/data-color="(\w+)"/g)].map((m) => m[1] ?? ""),
    body,
  };
}

/** One GET on a new connection with a Host header; the status and the x-bookinfo-peer the application echoes. */
function get(url: string, host: string): Promise<{ status: number; peer: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { host }, agent: false, timeout: 10_000 }, (response) => {
      response.resume();
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, peer: String(response.headers["x-bookinfo-peer"] ?? "") }),
      );
    });
    request.on("timeout", () => request.destroy(new Error("no answer in 10 s")));
    request.on("error", reject);
  });
}

async function xdskit(...argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const io = { stdout: (t: string) => void out.push(t), stderr: (t: string) => void out.push(t) };
  return { code: await runCli(argv, io), out: out.join("") };
}

/** `xdskit apply` of one of Istio's samples, then waits until `done` holds for a page (or fails saying so). */
async function applySample(name: string, done: () => Promise<boolean>): Promise<void> {
  const applied = await xdskit("apply", path.join(demo.samplesDir, name), "--demo-dir", workDir);
  expect(applied, applied.out).toMatchObject({ code: 0 });
  for (let i = 0; i < 100; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`after applying ${name} the page never showed what was expected`);
}

const ten = async (user?: string) => Promise.all(Array.from({ length: 10 }, () => load(user)));

describe("xdskit demo: Bookinfo on one machine (real Envoy sidecars and gateway)", () => {
  it("serves the Simple Bookstore App through the gateway and prints what to try", async () => {
    const page = await load();
    expect(page.status).toBe(200);
    expect(page.body).toContain("<title>Simple Bookstore App</title>");
    expect(page.body).toContain("<dt>ISBN-10</dt><dd>1234567890</dd>"); // details answered through the mesh
    expect(page.servedBy).toMatch(/^reviews-v[123]$/);
    const syncz = JSON.parse(await (await fetch(`${demo.monitoringUrl}/debug/syncz`)).text());
    expect(syncz).toHaveLength(7);
    const guide = output.join("");
    expect(guide).toContain(`Bookinfo is up: open ${demo.productpageUrl}`);
    expect(guide).toContain(`apply ${path.join(demo.samplesDir, "virtual-service-reviews-test-v2.yaml")}`);
  });

  it("apply validates first: an invalid file is reported at file:line and not copied", async () => {
    const bad = path.join(workDir, "bad-reviews.yaml");
    fs.writeFileSync(
      bad,
      "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: { subset: v1 }\n",
    );
    const result = await xdskit("apply", bad, "--demo-dir", workDir);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(
      /bad-reviews\.yaml:8:7: error \w+ VirtualService default\/reviews at spec\.http\[0\]\.route\[0\]\.destination\.host/,
    );
    expect(result.out).toMatch(/xdskit: nothing applied: \d+ errors? \(above\)/);
    expect(fs.existsSync(path.join(demo.meshDir, "bad-reviews.yaml"))).toBe(false);
    const notRunning = await xdskit("apply", bad, "--demo-dir", path.join(workDir, "none"));
    expect(notRunning.code).toBe(1);
    expect(notRunning.out).toMatch(/no `xdskit demo` running in .*none: .* --dir/);
  });

  it("request routing: all v1, no stars for anyone", async () => {
    await applySample("virtual-service-all-v1.yaml", async () =>
      (await ten()).every((p) => p.servedBy === "reviews-v1"),
    );
    for (const page of await ten()) expect(page).toMatchObject({ status: 200, servedBy: "reviews-v1", stars: [] });
  });

  it("request routing: jason gets v2 (black stars), everyone else v1", async () => {
    await applySample(
      "virtual-service-reviews-test-v2.yaml",
      async () => (await load("jason")).servedBy === "reviews-v2",
    );
    for (const page of await ten("jason"))
      expect(page).toMatchObject({ servedBy: "reviews-v2", stars: ["black", "black"] });
    for (const page of await ten()) expect(page.servedBy).toBe("reviews-v1");
  });

  it("fault injection: ratings 7 s late for jason, the page gives up on reviews (3 s, one retry)", async () => {
    let jason: { page: Page; ms: number } | undefined;
    await applySample("virtual-service-ratings-test-delay.yaml", async () => {
      const started = Date.now();
      const page = await load("jason");
      jason = { page, ms: Date.now() - started };
      return page.body.includes(REVIEWS_UNAVAILABLE);
    });
    expect(jason?.page.status).toBe(200);
    expect(jason?.ms).toBeGreaterThanOrEqual(5_500);
    expect(await load()).toMatchObject({ status: 200, servedBy: "reviews-v1" });
  }, 30_000);

  it("fault injection: the ratings abort for jason shows the tutorial's error text", async () => {
    await applySample("virtual-service-ratings-test-abort.yaml", async () =>
      (await load("jason")).body.includes(RATINGS_UNAVAILABLE),
    );
    const page = await load("jason");
    expect(page.servedBy).toBe("reviews-v2");
    expect(page.body).toContain(RATINGS_UNAVAILABLE);
    expect((await load()).body).not.toContain(RATINGS_UNAVAILABLE);
  });

  it("traffic shifting: all v1 applied again wins over the later samples, then 50% v1 / 50% v3", async () => {
    await applySample("virtual-service-all-v1.yaml", async () => (await load("jason")).servedBy === "reviews-v1");
    expect((await load("jason")).body).not.toContain(RATINGS_UNAVAILABLE);
    await applySample("virtual-service-reviews-50-v3.yaml", async () => (await load()).servedBy === "reviews-v3");
    const pages = await Promise.all(Array.from({ length: 40 }, () => load()));
    const count = (v: string) => pages.filter((p) => p.servedBy === v).length;
    // 40 requests at 50/50: fewer than 8 of either has a probability below 1e-4.
    expect(count("reviews-v1")).toBeGreaterThanOrEqual(8);
    expect(count("reviews-v3")).toBeGreaterThanOrEqual(8);
    expect(count("reviews-v1") + count("reviews-v3")).toBe(40);
    for (const page of pages.filter((p) => p.servedBy === "reviews-v3")) expect(page.stars).toEqual(["red", "red"]);
  });

  it("traffic shifting: switching reviews to v3 under load fails no request", async () => {
    let stop = false;
    const results: Page[] = [];
    const loaders = Array.from({ length: 4 }, async () => {
      while (!stop) results.push(await load());
    });
    await applySample("virtual-service-reviews-v3.yaml", async () =>
      (await ten()).every((p) => p.servedBy === "reviews-v3"),
    );
    stop = true;
    await Promise.all(loaders);
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((p) => p.status !== 200 || !p.servedBy || p.body.includes(DETAILS_UNAVAILABLE))).toEqual([]);
    for (const page of await ten()) expect(page).toMatchObject({ servedBy: "reviews-v3", stars: ["red", "red"] });
  });

  it("mutual TLS (mesh-wide PeerAuthentication STRICT): SPIFFE certificates from the control plane, mTLS between sidecars, plaintext refused", async () => {
    const workloads = readWorkloads(path.join(demo.meshDir, "platform.yaml"));
    const admin = (name: string) => demo.sidecars?.[name] ?? "";
    const spiffe = (serviceAccount: string) => `spiffe://cluster.local/ns/default/sa/${serviceAccount}`;
    // Each sidecar holds the workload certificate of its service account (SDS `default`, over its ADS stream).
    for (const w of workloads) {
      const dump = (await (await fetch(`${admin(w.name)}/certs`)).json()) as {
        certificates: { cert_chain?: { subject_alt_names?: { uri?: string }[] }[] }[];
      };
      const sans = dump.certificates.flatMap((c) => c.cert_chain ?? []).flatMap((e) => e.subject_alt_names ?? []);
      expect(new Set(sans.map((san) => san.uri)), w.name).toEqual(new Set([spiffe(w.serviceAccount)]));
    }
    const productpage = workloads.find((w) => w.name === "productpage-v1");
    const details = workloads.find((w) => w.name === "details-v1");
    if (!productpage || !details) throw new Error("platform.yaml has no productpage-v1 or details-v1");
    // Calling details as the productpage application does (through its sidecar): details' sidecar names both ends.
    const viaMesh = await get(`http://${productpage.egressIp}:9080/details/0`, "details:9080");
    expect(viaMesh.status).toBe(200);
    expect(viaMesh.peer).toContain(`By=${spiffe(details.serviceAccount)};`);
    expect(viaMesh.peer).toContain(`URI=${spiffe(productpage.serviceAccount)}`);
    const stats = await (await fetch(`${admin(productpage.name)}/stats?filter=details.*ssl.handshake`)).text();
    expect(stats).toMatch(/^cluster\.outbound\|9080\|\|details\.default\.svc\.cluster\.local\.ssl\.handshake: [1-9]/m);
    // Straight to details' sidecar without a mesh certificate: refused.
    await expect(get(`http://${details.ip}:9080/details/0`, "details:9080")).rejects.toThrow();
  });

  it("Ctrl-C stops everything: exit 0, every port free again, no demo state left", async () => {
    const ports = [
      Number(new URL(demo.productpageUrl).port),
      Number(new URL(demo.monitoringUrl ?? "").port),
      ...readWorkloads(path.join(demo.meshDir, "platform.yaml")).map((w) => w.appPort),
    ];
    stopDemo.abort();
    expect(await exited).toBe(0);
    expect(runningDemo(workDir)).toBeUndefined();
    for (const port of ports) {
      const free = await new Promise<boolean>((resolve) => {
        const server = net.createServer().once("error", () => resolve(false));
        server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
      });
      expect(free, `port ${port} after Ctrl-C`).toBe(true);
    }
  });
});
