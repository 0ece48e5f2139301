// removeStaleLast (XDS-RULES R18): while a new snapshot drops clusters or endpoints, a group is first served a
// bridge snapshot that still holds them; the bridge gives way to the new snapshot once every connected node
// applied it, or after a timeout.
import { type ResourceType, resourceTypes } from "../resource-types.js";
import type { PreparedResource } from "./prepared-resource.js";
import { createSnapshot, type Snapshot, type SnapshotResources } from "./snapshot.js";

interface PendingBridge {
  readonly bridge: Snapshot;
  readonly final: Snapshot;
  readonly timer: NodeJS.Timeout;
}

export interface StaleBridges {
  /** Serves `bridge` until {@link finish} or `timeoutMs`, then `replace(final)` runs if the bridge is still current. */
  start(key: string, bridge: Snapshot, final: Snapshot, timeoutMs: number): void;
  /** A snapshot set by the caller replaces the group's pending bridge, if any. */
  cancel(key: string): void;
  isBridge(key: string, snapshot: Snapshot): boolean;
  /** Replaces the group's bridge snapshot with the one it leads to. */
  finish(key: string): void;
}

/** `replace(key, bridge, final)` makes `final` current when `bridge` still is. */
export function createStaleBridges(replace: (key: string, bridge: Snapshot, final: Snapshot) => void): StaleBridges {
  const bridges = new Map<string, PendingBridge>();
  const cancel = (key: string) => {
    const pending = bridges.get(key);
    if (pending) clearTimeout(pending.timer);
    bridges.delete(key);
  };
  const finish = (key: string) => {
    const pending = bridges.get(key);
    if (!pending) return;
    cancel(key);
    replace(key, pending.bridge, pending.final);
  };
  return {
    start(key, bridge, final, timeoutMs) {
      const timer = setTimeout(() => finish(key), timeoutMs);
      timer.unref();
      bridges.set(key, { bridge, final, timer });
    },
    cancel,
    isBridge: (key, snapshot) => bridges.get(key)?.bridge === snapshot,
    finish,
  };
}

const STALE_LAST: readonly ResourceType[] = [resourceTypes.Cluster, resourceTypes.ClusterLoadAssignment];

/**
 * `next` plus the clusters and endpoints `previous` had and `next` drops, or undefined when it drops none.
 * Removing them only after everything that used them moved on keeps traffic flowing (R18).
 */
export function bridgeSnapshot(previous: Snapshot, next: Snapshot): Snapshot | undefined {
  const resources: Record<string, PreparedResource[]> = {};
  for (const entry of next.types.values()) resources[entry.type.kind] = [...entry.resources.values()];
  let stale = 0;
  for (const type of STALE_LAST) {
    const kept = next.entry(type.typeUrl);
    if (!kept) continue;
    for (const [name, resource] of previous.resourcesOf(type.typeUrl)) {
      if (kept.resources.has(name)) continue;
      const list = resources[type.kind] ?? [];
      list.push(resource);
      resources[type.kind] = list;
      stale++;
    }
  }
  return stale > 0 ? createSnapshot({ resources: resources as SnapshotResources }) : undefined;
}
