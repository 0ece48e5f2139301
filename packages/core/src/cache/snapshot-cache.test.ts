import { describe, expect, it } from "vitest";
import { edsCluster } from "../../../../test/fixtures/resources.js";
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
    await expect(applied).rejects.toThrow(/rejected .*Cluster version .*: cluster a: bad config/);
    await expect(cache.awaitApplied("n1", "never", { timeoutMs: 20 })).rejects.toThrow(
      /did not apply version "never" within 20 ms/,
    );
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
