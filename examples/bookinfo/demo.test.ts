// The Bookinfo tutorial end to end on one machine: the control plane on a watched copy of mesh/, the four Node
// services, six Envoy sidecars and an Envoy ingress gateway (real Envoy). Samples are copied into the watched
// directory as a user would, and the page through the gateway must show what the tutorial says.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DETAILS_UNAVAILABLE } from "./apps/productpage.js";
import { RATINGS_UNAVAILABLE } from "./apps/reviews.js";
import { type BookinfoDemo, startBookinfoDemo } from "./demo.js";

let demo: BookinfoDemo;
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-bookinfo-"));

beforeAll(async () => {
  demo = await startBookinfoDemo({ workDir, xdsPort: 0, xdsTlsPort: 0, monitoringPort: 0 });
}, 120_000);
afterAll(async () => {
  await demo?.stop();
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

/** Copies a sample into the watched directory, then waits until `done` holds for a page (or fails saying what it saw). */
async function applySample(name: string, done: () => Promise<boolean>): Promise<void> {
  fs.copyFileSync(path.join(demo.samplesDir, name), path.join(demo.meshDir, name));
  for (let i = 0; i < 100; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`after applying ${name} the page never showed what was expected`);
}

const ten = async (user?: string) => Promise.all(Array.from({ length: 10 }, () => load(user)));

describe("Bookinfo on one machine (real Envoy sidecars and gateway)", () => {
  it("serves the Simple Bookstore App through the gateway", async () => {
    const page = await load();
    expect(page.status).toBe(200);
    expect(page.body).toContain("<title>Simple Bookstore App</title>");
    expect(page.body).toContain("<dt>ISBN-10</dt><dd>1234567890</dd>"); // details answered through the mesh
    expect(page.servedBy).toMatch(/^reviews-v[123]$/);
    const syncz = JSON.parse(await (await fetch(`${demo.controlPlane.monitoring?.url}/debug/syncz`)).text());
    expect(syncz).toHaveLength(7);
  });

  it("all v1: no stars for anyone", async () => {
    await applySample("virtual-service-all-v1.yaml", async () =>
      (await ten()).every((p) => p.servedBy === "reviews-v1"),
    );
    for (const page of await ten()) expect(page).toMatchObject({ status: 200, servedBy: "reviews-v1", stars: [] });
  });

  it("jason gets v2 (black stars), everyone else v1", async () => {
    await applySample(
      "virtual-service-reviews-test-v2.yaml",
      async () => (await load("jason")).servedBy === "reviews-v2",
    );
    for (const page of await ten("jason"))
      expect(page).toMatchObject({ servedBy: "reviews-v2", stars: ["black", "black"] });
    for (const page of await ten()) expect(page.servedBy).toBe("reviews-v1");
  });

  it("the ratings abort fault for jason shows the tutorial's error text", async () => {
    await applySample("virtual-service-ratings-test-abort.yaml", async () =>
      (await load("jason")).body.includes(RATINGS_UNAVAILABLE),
    );
    const page = await load("jason");
    expect(page.servedBy).toBe("reviews-v2");
    expect(page.body).toContain(RATINGS_UNAVAILABLE);
    expect((await load()).body).not.toContain(RATINGS_UNAVAILABLE);
  });

  it("switching reviews to v3 under load fails no request", async () => {
    let stop = false;
    const results: Page[] = [];
    const loaders = Array.from({ length: 4 }, async () => {
      while (!stop) results.push(await load());
    });
    await applySample("virtual-service-reviews-v3.yaml", async () => (await load()).servedBy === "reviews-v3");
    stop = true;
    await Promise.all(loaders);
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((p) => p.status !== 200 || !p.servedBy || p.body.includes(DETAILS_UNAVAILABLE))).toEqual([]);
    for (const page of await ten()) expect(page).toMatchObject({ servedBy: "reviews-v3", stars: ["red", "red"] });
  });
});
