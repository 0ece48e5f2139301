import { Cluster_DiscoveryType, createSnapshot, createSnapshotCache, type Node, resourceTypes } from "@xdskit/core";
import { createAckTracker } from "@xdskit/core/watcher";
import { afterEach, describe, expect, it } from "vitest";
import { type MonitoringServer, startMonitoringServer } from "./monitoring-server.js";
import { formatSyncTable, syncStatusOf } from "./sync-status.js";
import { combineCallbacks, createXdsMetrics } from "./xds-metrics.js";

const CDS = resourceTypes.Cluster.typeUrl;
const LDS = resourceTypes.Listener.typeUrl;
const nodeA: Node = {
  id: "sidecar~127.0.0.2~productpage-v1.default~default.svc.cluster.local",
  cluster: "productpage.default",
};
const nodeB: Node = {
  id: "sidecar~127.0.0.3~reviews-v1.default~default.svc.cluster.local",
  cluster: "reviews.default",
};
const stream = (streamId: number) => ({ streamId, method: "ads", delta: false, peer: "127.0.0.1:1" });
const request = (streamId: number, node: Node) => ({ ...stream(streamId), request: { node, typeUrl: CDS } as never });
const response = (streamId: number, node: Node, typeUrl: string, nonce: string) => ({
  streamId,
  node,
  typeUrl,
  version: "v1",
  nonce,
  resourceNames: [],
  removedNames: [],
  bytes: 10,
});

/** The value of one sample line of the Prometheus text, e.g. `pilot_xds_pushes{type="CDS"}`. */
async function sample(metrics: ReturnType<typeof createXdsMetrics>, line: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe("createXdsMetrics", () => {
  it("counts proxies, pushes by type, NACKs, rejected configs and certificates; times pushes and convergence", async () => {
    let clock = 1000;
    const metrics = createXdsMetrics({ processMetrics: false, now: () => clock });
    const cb = metrics.callbacks;
    cb.onRequest?.(request(1, nodeA));
    cb.onRequest?.(request(2, nodeA));
    cb.onRequest?.(request(3, nodeB));
    expect(metrics.connectedProxies()).toBe(2);
    expect(await sample(metrics, "pilot_xds")).toBe(2);

    metrics.pushStarted();
    clock = 1050;
    cb.onResponse?.(response(1, nodeA, CDS, "n1"));
    cb.onResponse?.(response(1, nodeA, CDS, "n2")); // a second response in the same push is not timed again
    cb.onResponse?.(response(3, nodeB, LDS, "n3"));
    clock = 1100;
    cb.onAck?.({ streamId: 1, node: nodeA, typeUrl: CDS, version: "v1", nonce: "n1" });
    cb.onNack?.({
      streamId: 3,
      node: nodeB,
      typeUrl: LDS,
      version: "v1",
      nonce: "n3",
      errorCode: 13,
      errorMessage: "bad",
    });
    metrics.configRejected(2);
    metrics.csrSigned();

    expect(await sample(metrics, 'pilot_xds_pushes{type="CDS"}')).toBe(2);
    expect(await sample(metrics, 'pilot_xds_pushes{type="LDS"}')).toBe(1);
    expect(await sample(metrics, 'pilot_xds_push_time_count{type="CDS"}')).toBe(1);
    expect(await sample(metrics, 'pilot_xds_push_time_sum{type="CDS"}')).toBeCloseTo(0.05);
    expect(await sample(metrics, "pilot_proxy_convergence_time_count")).toBe(1);
    expect(await sample(metrics, "pilot_proxy_convergence_time_sum")).toBeCloseTo(0.1);
    expect(await sample(metrics, 'pilot_total_xds_rejects{type="LDS"}')).toBe(1);
    expect(await sample(metrics, "pilot_total_rejected_configs")).toBe(2);
    expect(await sample(metrics, "citadel_server_success_cert_issuance_count")).toBe(1);

    cb.onStreamClose?.(stream(3));
    cb.onStreamClose?.(stream(1));
    expect(metrics.connectedProxies()).toBe(1);
  });

  it("combineCallbacks calls every set in order", async () => {
    const calls: string[] = [];
    const combined = combineCallbacks(
      { onAck: () => void calls.push("a") },
      undefined,
      { onAck: async () => void calls.push("b"), onNack: () => void calls.push("n") },
      { onAck: () => void calls.push("c") },
    );
    await combined.onAck?.({ streamId: 1, node: nodeA, typeUrl: CDS, version: "", nonce: "" });
    expect(calls).toEqual(["a", "b", "c"]);
    expect(combined.onResponse).toBeUndefined();
  });
});

describe("sync status", () => {
  it("says SYNCED, STALE or NACKED per proxy and type, like istioctl proxy-status", () => {
    const tracker = createAckTracker();
    const sent = (streamId: number, node: Node, typeUrl: string, nonce: string) =>
      tracker.feedback.sent({
        streamId,
        node,
        typeUrl,
        version: "v1",
        nonce,
        resources: [],
        removed: [],
        delta: false,
      });
    sent(1, nodeA, CDS, "a1");
    sent(1, nodeA, LDS, "a2");
    sent(2, nodeB, CDS, "b1");
    tracker.feedback.acked({ streamId: 1, node: nodeA, typeUrl: CDS, version: "v1", nonce: "a1" });
    tracker.feedback.nacked({
      streamId: 2,
      node: nodeB,
      typeUrl: CDS,
      version: "v1",
      nonce: "b1",
      errorCode: 13,
      errorMessage: "no",
    });
    const statuses = syncStatusOf(tracker);
    expect(statuses.map((s) => [s.proxy, s.types.CDS?.state, s.types.LDS?.state])).toEqual([
      [nodeA.id, "SYNCED", "STALE"],
      [nodeB.id, "NACKED", undefined],
    ]);
    expect(statuses[1]?.types.CDS?.error).toBe("no");
    const table = formatSyncTable(statuses).split("\n");
    expect(table[0]).toMatch(/^NAME\s+CLUSTER\s+CDS\s+LDS\s+EDS\s+RDS\s+SDS$/);
    expect(table[1]).toMatch(/productpage\.default\s+SYNCED\s+STALE\s+NOT SENT/);
  });
});

describe("startMonitoringServer", () => {
  let server: MonitoringServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("serves /metrics, /ready, /debug/syncz, /debug/config_dump and /debug/diagnostics", async () => {
    const cache = createSnapshotCache();
    const snapshot = createSnapshot({
      resources: {
        Cluster: [{ name: "outbound|9080||reviews.default.svc.cluster.local", type: Cluster_DiscoveryType.EDS }],
      },
    });
    cache.setSnapshot(nodeA.id as string, snapshot);
    const metrics = createXdsMetrics({ processMetrics: false });
    let ready = false;
    server = await startMonitoringServer({
      port: 0,
      registry: metrics.registry,
      tracker: cache.tracker,
      configDump: (proxy) => {
        const node = cache.tracker.status(proxy)?.node;
        const s = cache.getSnapshot(node ? cache.keyOf(node) : proxy);
        return s ? { version: s.version } : undefined;
      },
      diagnostics: () => [{ severity: "error", message: "boom" }],
      ready: () => ({ ready, reason: "no config loaded yet" }),
    });
    const get = async (path: string) => {
      const res = await fetch(`${server?.url}${path}`);
      return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
    };
    expect(await get("/ready")).toMatchObject({ status: 503, text: "not ready: no config loaded yet\n" });
    ready = true;
    expect((await get("/ready")).status).toBe(200);
    const m = await get("/metrics");
    expect(m.text).toContain("# TYPE pilot_xds gauge");
    expect(m.type).toContain("text/plain");
    expect(JSON.parse((await get("/debug/syncz")).text)).toEqual([]);
    expect(JSON.parse((await get(`/debug/config_dump?proxy=${encodeURIComponent(nodeA.id as string)}`)).text)).toEqual({
      version: snapshot.version,
    });
    expect((await get("/debug/config_dump?proxy=nobody")).status).toBe(404);
    expect((await get("/debug/config_dump")).status).toBe(400);
    expect(JSON.parse((await get("/debug/diagnostics")).text)).toEqual([{ severity: "error", message: "boom" }]);
    const missing = await get("/nope");
    expect(missing.status).toBe(404);
    expect(missing.text).toContain("/debug/syncz");
  });

  it("says which port is taken", async () => {
    server = await startMonitoringServer({ port: 0 });
    await expect(startMonitoringServer({ port: server.port })).rejects.toThrow(
      `monitoring port 127.0.0.1:${server.port} is in use`,
    );
  });
});
