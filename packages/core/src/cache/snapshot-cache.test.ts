import { describe, expect, it, vi } from "vitest";
import { edsCluster } from "../../../../test/fixtures/resources.js";
import { NackError, XdsKitError } from "../errors.js";
import { resourceTypes } from "../resource-types.js";
import type { SotwResponse, WatchRequest } from "./config-watcher.js";
import { createSnapshot } from "./snapshot.js";
import { createSnapshotCache } from "./snapshot-cache.js";

const CDS = resourceTypes.Cluster.typeUrl;
const node = (id: string) => ({ id, cluster: "edge" });

function wildcard(id: string, streamId = 1): WatchRequest {
  return {
    streamId,
    node: node(id),
    typeUrl: CDS,
    wildcard: true,
    names: new Set(),
    known: new Map(),
    responded: false,
  };
}

/** Plays a client that receives and answers one CDS response. */
function deliver(cache: ReturnType<typeof createSnapshotCache>, id: string, nonce: string, nack?: string) {
  let response: SotwResponse | undefined;
  cache.watchSotw(wildcard(id), (r) => {
    response = r;
  });
  if (!response) throw new Error("no response");
  const event = { streamId: 1, node: node(id), typeUrl: CDS, nonce, version: response.version };
  cache.feedback?.sent({
    ...event,
    resources: response.resources.map((r) => ({ name: r.name, version: r.version })),
    removed: [],
    delta: false,
  });
  if (nack) cache.feedback?.nacked({ ...event, errorCode: 3, errorMessage: nack });
  else cache.feedback?.acked(event);
  return response;
}

describe("SnapshotCache", () => {
  it("updateSnapshot: a changed resource reaches an in-sync stream alone; nothing else is re-examined", () => {
    const cache = createSnapshotCache();
    const first = cache.updateSnapshot("n1", { set: { Cluster: [edsCluster("a"), edsCluster("b")] } });
    expect([...first.resourcesOf(CDS).keys()].sort()).toEqual(["a", "b"]);
    const initial = deliver(cache, "n1", "1");
    const known = new Map(initial.resources.map((r) => [r.name, r.version]));
    const responses: SotwResponse[] = [];
    const request: WatchRequest = { ...wildcard("n1"), known, responded: true, syncedView: first.entry(CDS) };
    cache.watchSotw(request, (r) => responses.push(r));
    expect(responses).toEqual([]);
    const second = cache.updateSnapshot("n1", {
      set: { Cluster: [edsCluster("b", { connectTimeout: { seconds: 9, nanos: 0 } })] },
    });
    expect(cache.getSnapshot("n1")).toBe(second);
    expect(responses).toHaveLength(1);
    // CDS is a full-state type: the response holds every cluster, at the new version.
    expect(responses[0]?.version).toBe(second.versionOf(CDS));
    expect(responses[0]?.resources.map((r) => r.name).sort()).toEqual(["a", "b"]);
    expect(second.resourcesOf(CDS).get("a")).toBe(first.resourcesOf(CDS).get("a"));
  });

  it("groups nodes by nodeHash and resolves awaitApplied when the node ACKs the version", async () => {
    const cache = createSnapshotCache({ nodeHash: (n) => n.cluster ?? "" });
    const v1 = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    cache.setSnapshot("edge", v1);
    const applied = cache.awaitApplied("e1", v1.version, { timeoutMs: 1000 });
    deliver(cache, "e1", "1");
    await expect(applied).resolves.toBeUndefined();
    expect(cache.tracker.status("e1")?.types.get(CDS)?.state).toBe("SYNCED");
    expect(cache.tracker.status("e1")?.types.get(CDS)?.resources.get("a")?.ackedVersion).toBeDefined();
    expect(cache.status("edge")).toMatchObject({ version: v1.version, lastAcceptedVersion: v1.version });
  });

  it("rejects awaitApplied with the client's error when the version is NACKed, and times out otherwise", async () => {
    const cache = createSnapshotCache();
    const v1 = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    cache.setSnapshot("n1", v1);
    const applied = cache.awaitApplied("n1", v1.version);
    deliver(cache, "n1", "1", "cluster a: bad config");
    await expect(applied).rejects.toThrow(
      `node "n1" rejected ${CDS} version "${v1.versionOf(CDS)}" (resources "a"): cluster a: bad config`,
    );
    const nack = await applied.catch((error: unknown) => error);
    expect(nack).toBeInstanceOf(NackError);
    expect(nack).toBeInstanceOf(XdsKitError);
    expect(nack).toMatchObject({
      code: "NACKED",
      nodeId: "n1",
      typeUrl: CDS,
      version: v1.versionOf(CDS),
      nonce: "1",
      resourceNames: ["a"],
      errorDetail: { code: 3, message: "cluster a: bad config" },
    });
    expect(JSON.parse(JSON.stringify((nack as NackError).details))).toMatchObject({
      typeUrl: CDS,
      resourceNames: ["a"],
    });
  });

  it("rolls back to the last snapshot every node accepted under nackPolicy rollback", () => {
    const nacks: string[] = [];
    const cache = createSnapshotCache({ nackPolicy: "rollback", onNack: (e) => nacks.push(e.errorMessage) });
    const good = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    cache.setSnapshot("n1", good);
    deliver(cache, "n1", "1");
    expect(cache.lastAccepted("n1")).toBe(good);
    const bad = createSnapshot({ resources: { Cluster: [edsCluster("a"), edsCluster("b")] } });
    cache.setSnapshot("n1", bad);
    deliver(cache, "n1", "2", "b is bad");
    expect(nacks).toEqual(["b is bad"]);
    expect(cache.getSnapshot("n1")).toBe(good);
    expect(cache.rollback("n1")).toBe(false);
  });

  it("keeps the rejected snapshot under the default policy and forgets closed nodes", () => {
    const cache = createSnapshotCache();
    cache.setSnapshot("n1", createSnapshot({ resources: { Cluster: [edsCluster("a")] } }));
    deliver(cache, "n1", "1");
    const bad = createSnapshot({ resources: { Cluster: [edsCluster("b")] } });
    cache.setSnapshot("n1", bad);
    deliver(cache, "n1", "2", "nope");
    expect(cache.getSnapshot("n1")).toBe(bad);
    expect(cache.tracker.status("n1")?.types.get(CDS)?.state).toBe("NACKED");
    cache.feedback?.closed({ streamId: 1, node: node("n1") });
    expect(cache.tracker.status("n1")).toBeUndefined();
  });
});

/** The error `promise` rejects with (failing the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<XdsKitError> {
  const error = await promise.then(
    () => new Error("expected a rejection"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(XdsKitError);
  return error as XdsKitError;
}

describe("awaitApplied says why it did not resolve", () => {
  it("a node that is not connected", async () => {
    const cache = createSnapshotCache();
    const v1 = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    cache.setSnapshot("n1", v1);
    const error = await rejection(cache.awaitApplied("ghost", v1.version, { timeoutMs: 20 }));
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toBe(
      `awaitApplied("ghost", "${v1.version}"): not applied within 20 ms: no node with id "ghost" is connected (it never connected, or its streams closed)`,
    );
    expect(error.details).toMatchObject({ reason: "NOT_CONNECTED", nodeId: "ghost", timeoutMs: 20 });
  });

  it("a group key given where a node id belongs", async () => {
    const cache = createSnapshotCache({ nodeHash: (n) => n.cluster ?? "" });
    const v1 = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    cache.setSnapshot("edge", v1);
    deliver(cache, "e1", "1");
    const error = await rejection(cache.awaitApplied("edge", v1.version, { timeoutMs: 20 }));
    expect(error.message).toBe(
      `awaitApplied("edge", "${v1.version}"): not applied within 20 ms: "edge" is a snapshot group key, not a node id; ` +
        'no node with this id is connected. The group\'s connected nodes: "e1". awaitApplied takes a node id (node.id).',
    );
    expect(error.details).toMatchObject({ reason: "GROUP_KEY", groupNodes: ["e1"] });
  });

  it("a version never set, or dropped from the history", async () => {
    const cache = createSnapshotCache({ historySize: 2 });
    const versions = ["a", "b", "c"].map((name) => {
      const snapshot = createSnapshot({ resources: { Cluster: [edsCluster(name)] } });
      cache.setSnapshot("n1", snapshot);
      return snapshot.version;
    });
    deliver(cache, "n1", "1");
    const dropped = await rejection(cache.awaitApplied("n1", versions[0] as string, { timeoutMs: 20 }));
    expect(dropped.message).toBe(
      `awaitApplied("n1", "${versions[0]}"): not applied within 20 ms: "${versions[0]}" is not a version of the node's group "n1" ` +
        `(never set, or dropped from the 2 remembered): the group's current version is "${versions[2]}"; remembered: "${versions[2]}", "${versions[1]}"`,
    );
    expect(dropped.details).toMatchObject({ reason: "UNKNOWN_VERSION", key: "n1", currentVersion: versions[2] });
  });

  it("a connected node that has not ACKed the version, type by type", async () => {
    const cache = createSnapshotCache();
    const v1 = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    cache.setSnapshot("n1", v1);
    deliver(cache, "n1", "1");
    const v2 = createSnapshot({ resources: { Cluster: [edsCluster("b")] } });
    cache.setSnapshot("n1", v2);
    const error = await rejection(cache.awaitApplied("n1", v2.version, { timeoutMs: 20 }));
    expect(error.message).toBe(
      `awaitApplied("n1", "${v2.version}"): not applied within 20 ms: node "n1" (group "n1") has not ACKed it for every type: ` +
        `CDS SYNCED, ACKed "${v1.versionOf(CDS)}"`,
    );
    expect(error.details).toMatchObject({
      reason: "NOT_APPLIED",
      types: { [CDS]: { state: "SYNCED", ackedVersion: v1.versionOf(CDS), wanted: v2.versionOf(CDS) } },
    });
  });

  it("waits 30 s by default; Infinity waits until the signal aborts; a bad bound is refused", async () => {
    vi.useFakeTimers();
    try {
      const cache = createSnapshotCache();
      cache.setSnapshot("n1", createSnapshot({ resources: { Cluster: [edsCluster("a")] } }));
      let settled: unknown;
      cache.awaitApplied("n1", "v").catch((e: unknown) => {
        settled = e;
      });
      await vi.advanceTimersByTimeAsync(29_999);
      expect(settled).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect((settled as XdsKitError).message).toMatch(/^awaitApplied\("n1", "v"\): not applied within 30000 ms: /);

      const abort = new AbortController();
      const unbounded = cache.awaitApplied("n1", "v", { timeoutMs: Number.POSITIVE_INFINITY, signal: abort.signal });
      await vi.advanceTimersByTimeAsync(3_600_000);
      abort.abort();
      expect((await rejection(unbounded)).code).toBe("CLOSED");
    } finally {
      vi.useRealTimers();
    }
    const cache = createSnapshotCache();
    expect((await rejection(cache.awaitApplied("n1", "v", { timeoutMs: -1 }))).message).toBe(
      "awaitApplied: timeoutMs must be a positive number of milliseconds (or Infinity), got -1",
    );
    expect((await rejection(cache.awaitApplied("n1", 7 as never))).message).toBe(
      "awaitApplied: version must be a string (a snapshot version), got number",
    );
  });
});

describe("tracker.status() as data", () => {
  it("serialises to JSON with types and resources as objects", () => {
    const cache = createSnapshotCache();
    const v1 = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    cache.setSnapshot("n1", v1);
    deliver(cache, "n1", "1");
    const status = cache.tracker.status("n1");
    const json = JSON.parse(JSON.stringify(status));
    expect(json).toMatchObject({
      nodeId: "n1",
      node: { id: "n1", cluster: "edge" },
      types: {
        [CDS]: {
          typeUrl: CDS,
          state: "SYNCED",
          acked: { version: v1.versionOf(CDS), nonce: "1" },
          resources: { a: { name: "a", ackedVersion: v1.resourcesOf(CDS).get("a")?.version, nacked: false } },
        },
      },
    });
    expect(JSON.parse(JSON.stringify(cache.tracker.nodes()))).toEqual([json]);
    expect(JSON.parse(JSON.stringify(status?.types.get(CDS)))).toEqual(json.types[CDS]);
    expect(Object.keys(status ?? {})).toEqual(["nodeId", "node", "streams", "types"]);
  });
});

describe("SnapshotCache removeStaleLast", () => {
  it("serves a bridge with the dropped clusters until every node applied it, then the snapshot itself", async () => {
    const cache = createSnapshotCache({ removeStaleLast: true });
    cache.setSnapshot("n1", createSnapshot({ resources: { Cluster: [edsCluster("a"), edsCluster("b")] } }));
    deliver(cache, "n1", "1");
    const final = createSnapshot({
      resources: { Cluster: [edsCluster("a", { connectTimeout: { seconds: 3, nanos: 0 } })] },
    });
    cache.setSnapshot("n1", final);
    const bridge = cache.getSnapshot("n1");
    expect(bridge).not.toBe(final);
    expect([...(bridge?.resourcesOf(CDS).keys() ?? [])].sort()).toEqual(["a", "b"]);
    expect(bridge?.resourcesOf(CDS).get("a")?.version).toBe(final.resourcesOf(CDS).get("a")?.version);
    deliver(cache, "n1", "2");
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(cache.getSnapshot("n1")).toBe(final);
  });

  it("applies the snapshot directly when nothing is dropped or no node is connected", () => {
    const cache = createSnapshotCache({ removeStaleLast: true });
    cache.setSnapshot("n1", createSnapshot({ resources: { Cluster: [edsCluster("a"), edsCluster("b")] } }));
    const smaller = createSnapshot({ resources: { Cluster: [edsCluster("a")] } });
    cache.setSnapshot("n1", smaller);
    expect(cache.getSnapshot("n1")).toBe(smaller);
  });
});
