// The agent against a real Envoy (ENVOY_BIN, or the one `npm run envoy:install` recorded) and a real xdskit server.
import fs from "node:fs";
import { Cluster_DiscoveryType, createSnapshot, createSnapshotCache } from "@xdskit/core";
import { createXdsServer, type StreamInfo, type XdsServer } from "@xdskit/server";
import { afterEach, describe, expect, it } from "vitest";
import { type EnvoyExit, type SidecarAgent, startSidecarAgent } from "./sidecar-agent.js";

const snapshot = createSnapshot({
  resources: {
    Cluster: [
      {
        name: "backend",
        type: Cluster_DiscoveryType.STATIC,
        connectTimeout: { seconds: 1, nanos: 0 },
        loadAssignment: {
          clusterName: "backend",
          endpoints: [
            { lbEndpoints: [{ endpoint: { address: { socketAddress: { address: "127.0.0.1", portValue: 9 } } } }] },
          ],
        },
      },
    ],
  },
});

let server: XdsServer | undefined;
const agents: SidecarAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop({ drainMs: 0 })));
  await server?.close({ graceMs: 100 });
  server = undefined;
});

async function controlPlane() {
  const cache = createSnapshotCache();
  const streams: StreamInfo[] = [];
  server = createXdsServer({ cache, callbacks: { onStreamOpen: (s) => void streams.push(s) } });
  const port = await server.listen("127.0.0.1:0");
  return { cache, streams, address: `127.0.0.1:${port}` };
}

const workload = { ip: "127.0.0.1", name: "reviews-v1", labels: { app: "reviews", version: "v1" } };

describe("startSidecarAgent (real Envoy)", () => {
  it("bootstraps Envoy onto the control plane, restarts it when it dies, drains and stops it", async () => {
    const { cache, streams, address } = await controlPlane();
    const nodeId = "sidecar~127.0.0.1~reviews-v1.default~default.svc.cluster.local";
    cache.setSnapshot(nodeId, snapshot);
    const exits: [EnvoyExit, boolean][] = [];
    const agent = await startSidecarAgent({
      ...workload,
      serviceAccount: "bookinfo-reviews",
      discoveryAddress: address,
      adminPort: 0,
      drainMs: 100,
      restart: { initialDelayMs: 50 },
      onLog: () => {},
      onExit: (exit, restarting) => void exits.push([exit, restarting]),
    });
    agents.push(agent);
    expect(agent.nodeId).toBe(nodeId);
    await cache.awaitApplied(nodeId, snapshot.version, { timeoutMs: 15_000 });
    expect(streams[0]?.delta).toBe(false);
    const node = cache.tracker.status(nodeId)?.node;
    expect(node?.metadata).toMatchObject({
      NAMESPACE: "default",
      SERVICE_ACCOUNT: "bookinfo-reviews",
      LABELS: workload.labels,
    });
    const admin = await agent.ready();
    expect(await (await fetch(`${admin}/clusters`)).text()).toContain("backend::");

    const firstPid = agent.pid();
    process.kill(firstPid as number, "SIGKILL");
    for (let i = 0; i < 400 && (agent.restarts < 1 || agent.pid() === undefined); i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(agent.restarts).toBe(1);
    expect(agent.pid()).not.toBe(firstPid);
    expect(exits[0]).toEqual([{ code: null, signal: "SIGKILL" }, true]);
    const again = await agent.ready();
    expect(await (await fetch(`${again}/clusters`)).text()).toContain("backend::");

    const dir = agent.bootstrapPath;
    const exit = await agent.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await agent.exited).toEqual(exit);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("stop() leaves no timer behind, so a command exits as soon as Envoy has", async () => {
    const { cache, address } = await controlPlane();
    cache.setSnapshot("sidecar~127.0.0.1~reviews-v1.default~default.svc.cluster.local", snapshot);
    const agent = await startSidecarAgent({ ...workload, discoveryAddress: address, adminPort: 0, onLog: () => {} });
    agents.push(agent);
    await agent.ready();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    await agent.stop({ drainMs: 0 });
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it("speaks delta xDS when asked", async () => {
    const { cache, streams, address } = await controlPlane();
    const agent = await startSidecarAgent({
      ...workload,
      delta: true,
      discoveryAddress: address,
      adminPort: 0,
      onLog: () => {},
    });
    agents.push(agent);
    cache.setSnapshot(agent.nodeId, snapshot);
    await cache.awaitApplied(agent.nodeId, snapshot.version, { timeoutMs: 15_000 });
    expect(streams.map((s) => s.delta)).toEqual([true]);
  });

  it("gives up after maxRestarts and forwards Envoy's exit status and logs", async () => {
    const lines: string[] = [];
    const agent = await startSidecarAgent({
      ...workload,
      adminPort: 0,
      args: ["--config-yaml", "this is: [not valid"],
      restart: { initialDelayMs: 10, maxRestarts: 1 },
      onLog: (line) => void lines.push(line),
    });
    agents.push(agent);
    const exit = await agent.exited;
    expect(exit.code).toBe(1);
    expect(agent.restarts).toBe(1);
    expect(lines.join("\n")).toMatch(/yaml|parse|malformed/i);
    await expect(agent.ready()).rejects.toThrow("Envoy for reviews-v1 exited (code 1)");
  });
});
