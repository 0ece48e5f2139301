import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { Cluster_DiscoveryType, type Node } from "@xdskit/core";
import type { AnyConfigObject } from "@xdskit/translate";
import { afterEach, describe, expect, it } from "vitest";
import { type SidecarAgent, startSidecarAgent } from "../agent/sidecar-agent.js";
import { type ControlPlane, createControlPlane } from "./control-plane.js";
import type { MeshTranslator } from "./mesh-translator.js";

/** A small custom mesh: every ServiceEntry host and port becomes a STATIC cluster, for every proxy. */
function serviceEntryClusters() {
  let clusters: { name: string; type: Cluster_DiscoveryType; connectTimeout: { seconds: number; nanos: number } }[] =
    [];
  const updates: number[] = [];
  const translator: MeshTranslator = {
    update(objects: readonly AnyConfigObject[]) {
      updates.push(objects.length);
      clusters = objects.flatMap((o) =>
        o.kind === "ServiceEntry"
          ? (o.spec.hosts ?? []).flatMap((host) =>
              (o.spec.ports ?? []).map((p) => ({
                name: `outbound|${p.number}||${host}`,
                type: Cluster_DiscoveryType.STATIC,
                connectTimeout: { seconds: 1, nanos: 0 },
              })),
            )
          : [],
      );
      return [];
    },
    resourcesFor: (node: Node) => (node.id?.startsWith("sidecar~") ? { Cluster: clusters } : undefined),
  };
  return { translator, updates };
}

const serviceEntry = (name: string, hosts: unknown = [`${name}.default.svc.cluster.local`]) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "ServiceEntry",
  metadata: { name, namespace: "default" },
  spec: {
    hosts,
    location: "MESH_INTERNAL",
    resolution: "STATIC",
    ports: [{ number: 9080, name: "http", protocol: "HTTP" }],
  },
});

function logSink() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: { level: "debug", destination } };
}

const planes: ControlPlane[] = [];
const agents: SidecarAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop({ drainMs: 0 })));
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

describe("createControlPlane", () => {
  it("serves a real Envoy, pushes applied changes, rejects an invalid one and keeps the last good config", async () => {
    const { translator } = serviceEntryClusters();
    const log = logSink();
    const cp = await createControlPlane({
      translator,
      config: { objects: [serviceEntry("reviews")], debounceMs: 10 },
      xds: { port: 0 },
      monitoring: { port: 0 },
      logger: log.logger,
    });
    planes.push(cp);
    const agent = await startSidecarAgent({
      ip: "127.0.0.1",
      name: "productpage-v1",
      labels: { app: "productpage" },
      discoveryAddress: cp.xdsAddress,
      adminPort: 0,
      onLog: () => {},
    });
    agents.push(agent);
    const clustersOfEnvoy = async () => {
      const text = await (await fetch(`${agent.adminUrl()}/clusters?format=json`)).text();
      return (JSON.parse(text).cluster_statuses as { name: string }[])
        .map((c) => c.name)
        .filter((n) => n.startsWith("outbound"));
    };
    const applied = async () => {
      await cp.settled();
      const snapshot = cp.cache.getSnapshot(agent.nodeId);
      expect(snapshot).toBeDefined();
      await cp.cache.awaitApplied(agent.nodeId, snapshot?.version ?? "", { timeoutMs: 15_000 });
      await agent.ready();
    };
    // wait for the proxy to connect and take the first config
    for (let i = 0; i < 600 && !cp.cache.getSnapshot(agent.nodeId); i++) await new Promise((r) => setTimeout(r, 25));
    await applied();
    expect(await clustersOfEnvoy()).toEqual(["outbound|9080||reviews.default.svc.cluster.local"]);

    cp.apply(serviceEntry("ratings"));
    await applied();
    expect((await clustersOfEnvoy()).sort()).toEqual([
      "outbound|9080||ratings.default.svc.cluster.local",
      "outbound|9080||reviews.default.svc.cluster.local",
    ]);

    // An invalid version of ratings is rejected: Envoy keeps both clusters, the diagnostics say why.
    const before = cp.cache.getSnapshot(agent.nodeId)?.version;
    cp.apply(serviceEntry("ratings", 5));
    await cp.settled();
    expect(cp.cache.getSnapshot(agent.nodeId)?.version).toBe(before);
    expect(cp.status().diagnostics.map((d) => `${d.severity} ${d.kind} ${d.name}`)).toEqual([
      "error ServiceEntry ratings",
    ]);
    expect(log.lines.some((l) => l.msg === "config rejected; the last good version keeps being served")).toBe(true);

    cp.delete({ kind: "ServiceEntry", namespace: "default", name: "reviews" });
    await applied();
    expect(await clustersOfEnvoy()).toEqual(["outbound|9080||ratings.default.svc.cluster.local"]);

    const syncz = JSON.parse(await (await fetch(`${cp.monitoring?.url}/debug/syncz`)).text());
    expect(syncz[0]).toMatchObject({ proxy: agent.nodeId, types: { CDS: { state: "SYNCED" } } });
    const metrics = await (await fetch(`${cp.monitoring?.url}/metrics`)).text();
    expect(metrics).toMatch(/^pilot_total_rejected_configs 1$/m);
    expect(metrics).toMatch(/^pilot_xds 1$/m);
    expect(cp.status().proxies.map((p) => p.proxy)).toEqual([agent.nodeId]);
    const dump = JSON.parse(
      await (await fetch(`${cp.monitoring?.url}/debug/config_dump?proxy=${encodeURIComponent(agent.nodeId)}`)).text(),
    );
    expect(dump.resources.Cluster.map((c: { name: string }) => c.name)).toEqual([
      "outbound|9080||ratings.default.svc.cluster.local",
    ]);
    expect(log.lines.some((l) => l.msg === "proxy connected" && l.proxy === agent.nodeId)).toBe(true);
  });

  it("watches a config directory: edits are taken after the debounce; close frees its ports", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-cp-"));
    try {
      fs.writeFileSync(path.join(dir, "mesh.yaml"), JSON.stringify(serviceEntry("reviews")));
      const { translator, updates } = serviceEntryClusters();
      const cp = await createControlPlane({
        translator,
        config: { path: dir, debounceMs: 20 },
        xds: { port: 0 },
        monitoring: { port: 0 },
        logger: { level: "silent" },
      });
      expect(cp.status()).toMatchObject({ objects: 1, diagnostics: [] });
      fs.writeFileSync(path.join(dir, "more.yaml"), JSON.stringify(serviceEntry("details")));
      for (let i = 0; i < 400 && cp.status().objects < 2; i++) await new Promise((r) => setTimeout(r, 25));
      await cp.settled();
      expect(cp.status().objects).toBe(2);
      expect(updates.at(-1)).toBe(2);
      const ports = cp.ports;
      await cp.close();
      const again = await createControlPlane({
        translator,
        xds: { port: ports.xds },
        monitoring: { port: ports.monitoring },
        logger: { level: "silent" },
      });
      planes.push(again);
      expect(again.ports).toEqual(ports);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad options at the door and fails fast on a missing config path", async () => {
    const { translator } = serviceEntryClusters();
    await expect(createControlPlane({} as never)).rejects.toThrow(
      "options.translator must have update() and resourcesFor()",
    );
    await expect(createControlPlane({ translator, xds: { port: -1 } })).rejects.toThrow("xds.port must be 0..65535");
    await expect(
      createControlPlane({
        translator,
        config: { path: "/no/such/dir" },
        xds: { port: 0 },
        monitoring: false,
        logger: { level: "silent" },
      }),
    ).rejects.toThrow("config path /no/such/dir does not exist");
  });
});
