import http from "node:http";
import type { AddressInfo } from "node:net";
import { createSnapshot, createSnapshotCache, resourceTypes } from "@xdskit/core";
import { createRestDiscoveryHandler } from "@xdskit/server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { edsCluster, endpoints } from "../fixtures/resources.js";

describe("REST-JSON discovery", () => {
  let server: http.Server;
  let base: string;
  const cache = createSnapshotCache();
  beforeEach(async () => {
    const handler = createRestDiscoveryHandler({ cache, pollTimeoutMs: 300 });
    server = http.createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    cache.setSnapshot(
      "rest-1",
      createSnapshot({ resources: { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("a", 80)] } }),
    );
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });

  it("R32: canonical proto3 JSON in and out, no nonce needed, 304 when nothing changed", async () => {
    const first = await post("/v3/discovery:clusters", { node: { id: "rest-1" } });
    expect(first.status).toBe(200);
    const json = (await first.json()) as { versionInfo: string; typeUrl: string; resources: Record<string, unknown>[] };
    expect(json.typeUrl).toBe(resourceTypes.Cluster.typeUrl);
    expect(json.versionInfo).toBe(cache.getSnapshot("rest-1")?.versionOf(resourceTypes.Cluster.typeUrl));
    expect(json.resources[0]).toMatchObject({
      "@type": resourceTypes.Cluster.typeUrl,
      name: "a",
      type: "EDS",
      connectTimeout: "1s",
    });

    const unchanged = await post("/v3/discovery:clusters", { node: { id: "rest-1" }, version_info: json.versionInfo });
    expect(unchanged.status).toBe(304);

    // A change during the long poll is answered right away.
    const polling = post("/v3/discovery:clusters", { node: { id: "rest-1" }, version_info: json.versionInfo });
    setTimeout(
      () => cache.setSnapshot("rest-1", createSnapshot({ resources: { Cluster: [edsCluster("a"), edsCluster("b")] } })),
      50,
    );
    const changed = await polling;
    expect(changed.status).toBe(200);
    const names = ((await changed.json()) as { resources: { name: string }[] }).resources.map((r) => r.name);
    expect(names).toEqual(["a", "b"]);
  });

  it("serves named EDS resources and refuses bad requests with a clear error", async () => {
    const eds = await post("/v3/discovery:endpoints", { node: { id: "rest-1" }, resource_names: ["a"] });
    const body = (await eds.json()) as { resources: { clusterName: string }[] };
    expect(body.resources.map((r) => r.clusterName)).toEqual(["a"]);
    const wrongType = await post("/v3/discovery:endpoints", {
      node: { id: "rest-1" },
      type_url: resourceTypes.Cluster.typeUrl,
    });
    expect(wrongType.status).toBe(400);
    expect(await wrongType.text()).toMatch(
      /serves type.googleapis.com\/envoy.config.endpoint.v3.ClusterLoadAssignment/,
    );
    const garbage = await fetch(`${base}/v3/discovery:clusters`, { method: "POST", body: "{not json" });
    expect(garbage.status).toBe(400);
    expect(await garbage.text()).toMatch(/invalid DiscoveryRequest JSON/);
    const noNode = await post("/v3/discovery:clusters", {});
    expect(await noNode.text()).toMatch(/must carry node/);
    expect((await fetch(`${base}/v3/discovery:clusters`)).status).toBe(405);
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
  });

  it("R32: a long poll stops waiting when its client goes away, and leaves no node behind", async () => {
    const polling = createRestDiscoveryHandler({ cache, pollTimeoutMs: 60_000 });
    const longPoll = http.createServer((req, res) => {
      if (!polling(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => longPoll.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(longPoll.address() as AddressInfo).port}/v3/discovery:clusters`;
      const version = cache.getSnapshot("rest-1")?.versionOf(resourceTypes.Cluster.typeUrl);
      const gone = new AbortController();
      const request = fetch(url, {
        method: "POST",
        body: JSON.stringify({ node: { id: "rest-1" }, version_info: version }),
        signal: gone.signal,
      }).catch(() => "aborted");
      await expect.poll(() => cache.status("rest-1").watches).toBe(1);
      gone.abort();
      expect(await request).toBe("aborted");
      await expect.poll(() => cache.status("rest-1").watches, { timeout: 2000 }).toBe(0);
      expect(cache.tracker.status("rest-1")).toBeUndefined();
    } finally {
      longPoll.closeAllConnections();
      await new Promise<void>((resolve) => longPoll.close(() => resolve()));
    }
  });
});
