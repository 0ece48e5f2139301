import { XdsKitError } from "../errors.js";
import type { Node } from "../gen/envoy/config/core/v3/base.js";
import { type AckTracker, createAckTracker, type NodeStatus } from "./ack-tracker.js";
import type {
  CancelWatch,
  ConfigWatcher,
  DeltaResponse,
  NackEvent,
  SotwResponse,
  StreamFeedback,
  WatchRequest,
} from "./config-watcher.js";
import type { PreparedResource } from "./prepared-resource.js";
import { changedNames, deltaResponseFrom, type ResourceView, sotwResponseFrom, viewOf } from "./responses.js";
import type { Snapshot } from "./snapshot.js";

/** Options of {@link createSnapshotCache}. */
export interface SnapshotCacheOptions {
  /** Which snapshot a node gets: the key of its group. Default: the node id. */
  nodeHash?: (node: Node) => string;
  /**
   * NACK policy. "keep" (default): the rejected version is never resent and the client keeps what it last
   * accepted. "rollback": additionally restore the group's snapshot to the last one all its connected nodes
   * accepted (if there is one).
   */
  nackPolicy?: "keep" | "rollback";
  /** Called after every NACK, after the policy ran. */
  onNack?: (event: NackEvent, cache: SnapshotCache) => void;
  /** Snapshots remembered per group for awaitApplied and rollback. Default: 16. */
  historySize?: number;
}

/** Options of {@link SnapshotCache.awaitApplied}. */
export interface AwaitAppliedOptions {
  /** Reject with code TIMEOUT after this many milliseconds. Default: wait forever. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SnapshotGroupStatus {
  readonly key: string;
  readonly version: string | undefined;
  /** Open watches (streams × types waiting for a change). */
  readonly watches: number;
  /** Version of the newest snapshot every connected node of the group applied. */
  readonly lastAcceptedVersion: string | undefined;
}

/** One snapshot per node group, ACK tracking, and the ConfigWatcher the server consumes. */
export interface SnapshotCache extends ConfigWatcher {
  /** Sets the group's snapshot and pushes what changed to its open streams. */
  setSnapshot(key: string, snapshot: Snapshot): void;
  getSnapshot(key: string): Snapshot | undefined;
  /** Removes the group's snapshot; its streams keep what they have and wait for the next one. */
  clearSnapshot(key: string): void;
  keys(): string[];
  status(key: string): SnapshotGroupStatus;
  /** The group key of a node (the `nodeHash` option). */
  keyOf(node: Node): string;
  /** The resource the node's group currently has under this type and name (for CSDS and debugging). */
  resourceOf(node: Node, typeUrl: string, name: string): PreparedResource | undefined;
  readonly tracker: AckTracker;
  /**
   * Resolves once the node has ACKed `version` (a snapshot version of its group) for every type of that
   * snapshot it subscribes to. Rejects with code NACKED if it rejects that version.
   */
  awaitApplied(nodeId: string, version: string, options?: AwaitAppliedOptions): Promise<void>;
  /** The newest snapshot every connected node of the group applied, if any. */
  lastAccepted(key: string): Snapshot | undefined;
  /** Restores the group's last accepted snapshot; returns false when there is none or it is current. */
  rollback(key: string): boolean;
}

interface Watch {
  readonly key: string;
  readonly request: WatchRequest;
  readonly respond: (response: never) => void;
  readonly delta: boolean;
}

interface Waiter {
  readonly version: string;
  resolve(): void;
  reject(error: Error): void;
}

export function createSnapshotCache(options: SnapshotCacheOptions = {}): SnapshotCache {
  const nodeHash = options.nodeHash ?? ((node: Node) => node.id ?? "");
  const historySize = options.historySize ?? 16;
  const snapshots = new Map<string, Snapshot>();
  const history = new Map<string, Snapshot[]>();
  // key → type URL → open watches. An open watch is in sync with the current snapshot, so a new
  // snapshot only needs to be compared with it on the names that changed.
  const watches = new Map<string, Map<string, Set<Watch>>>();
  const tracker = createAckTracker();
  const nodeKeys = new Map<string, string>(); // node id → group key, for connected nodes
  const appliedCurrent = new Map<string, Set<string>>(); // key → node ids that applied the current snapshot
  const lastAccepted = new Map<string, Snapshot>();
  const waiters = new Map<string, Set<Waiter>>();

  const findSnapshot = (key: string, version: string) => history.get(key)?.find((s) => s.version === version);

  const hasApplied = (status: NodeStatus | undefined, snapshot: Snapshot): boolean => {
    if (!status) return false;
    let relevant = 0;
    for (const [typeUrl, type] of status.types) {
      const entry = snapshot.entry(typeUrl);
      if (!entry) continue;
      relevant++;
      if (type.acked?.version !== entry.version) return false;
    }
    return relevant > 0;
  };

  const connectedNodes = (key: string) => {
    let count = 0;
    for (const k of nodeKeys.values()) if (k === key) count++;
    return count;
  };

  const evaluate = (watch: Watch, view: ResourceView, changed?: Iterable<string>): boolean => {
    if (watch.delta) {
      const response = deltaResponseFrom(view, watch.request, changed);
      if (!response) return false;
      (watch.respond as (r: DeltaResponse) => void)(response);
    } else {
      const response = sotwResponseFrom(view, watch.request, changed);
      if (!response) return false;
      (watch.respond as (r: SotwResponse) => void)(response);
    }
    return true;
  };

  const open = (request: WatchRequest, respond: (response: never) => void, delta: boolean): CancelWatch => {
    const key = nodeHash(request.node);
    nodeKeys.set(request.node.id ?? "", key);
    const watch: Watch = { key, request, respond, delta };
    const snapshot = snapshots.get(key);
    if (snapshot && evaluate(watch, viewOf(snapshot, request.typeUrl))) return () => {};
    let byType = watches.get(key);
    if (!byType) {
      byType = new Map();
      watches.set(key, byType);
    }
    let set = byType.get(request.typeUrl);
    if (!set) {
      set = new Set();
      byType.set(request.typeUrl, set);
    }
    set.add(watch);
    return () => {
      set.delete(watch);
    };
  };

  const settleWaiters = (nodeId: string) => {
    const set = waiters.get(nodeId);
    const key = nodeKeys.get(nodeId);
    if (!set || key === undefined) return;
    const status = tracker.status(nodeId);
    for (const waiter of set) {
      const snapshot = findSnapshot(key, waiter.version);
      if (snapshot && hasApplied(status, snapshot)) waiter.resolve();
    }
  };

  const noteAccepted = (nodeId: string) => {
    const key = nodeKeys.get(nodeId);
    if (key === undefined) return;
    const current = snapshots.get(key);
    if (!current || !hasApplied(tracker.status(nodeId), current)) return;
    let set = appliedCurrent.get(key);
    if (!set) {
      set = new Set();
      appliedCurrent.set(key, set);
    }
    set.add(nodeId);
    if (set.size >= connectedNodes(key)) lastAccepted.set(key, current);
  };

  tracker.onAck((event) => {
    const nodeId = event.node.id ?? "";
    noteAccepted(nodeId);
    settleWaiters(nodeId);
  });

  // The server reports to the cache; the cache feeds its tracker and applies the NACK policy.
  const feedback: StreamFeedback = {
    sent: (event) => tracker.feedback.sent(event),
    acked: (event) => tracker.feedback.acked(event),
    nacked(event) {
      tracker.feedback.nacked(event);
      const nodeId = event.node.id ?? "";
      const key = nodeKeys.get(nodeId);
      if (key !== undefined) {
        for (const waiter of waiters.get(nodeId) ?? []) {
          const snapshot = findSnapshot(key, waiter.version);
          if (snapshot?.versionOf(event.typeUrl) === event.version)
            waiter.reject(
              new XdsKitError(
                "NACKED",
                `node "${nodeId}" rejected ${event.typeUrl} version "${event.version}": ${event.errorMessage}`,
              ),
            );
        }
        if (options.nackPolicy === "rollback") cache.rollback(key);
      }
      options.onNack?.(event, cache);
    },
    closed(event) {
      tracker.feedback.closed(event);
      const nodeId = event.node.id ?? "";
      if (!tracker.status(nodeId)) {
        const key = nodeKeys.get(nodeId);
        nodeKeys.delete(nodeId);
        if (key !== undefined) appliedCurrent.get(key)?.delete(nodeId);
      }
    },
  };

  const cache: SnapshotCache = {
    watchSotw: (request, respond) => open(request, respond as (r: never) => void, false),
    watchDelta: (request, respond) => open(request, respond as (r: never) => void, true),
    feedback,
    setSnapshot(key, snapshot) {
      const previous = snapshots.get(key);
      snapshots.set(key, snapshot);
      const list = history.get(key) ?? [];
      const next = [...list.filter((s) => s.version !== snapshot.version), snapshot].slice(-historySize);
      history.set(key, next);
      appliedCurrent.delete(key);
      const byType = watches.get(key);
      if (!byType) return;
      for (const [typeUrl, set] of byType) {
        if (set.size === 0) continue;
        const view = viewOf(snapshot, typeUrl);
        const before = previous ? viewOf(previous, typeUrl) : undefined;
        if (before === view) continue;
        const changed = before ? changedNames(before, view) : undefined;
        if (changed && changed.length === 0 && before?.version === view.version) continue;
        for (const watch of [...set]) {
          if (!set.has(watch)) continue;
          set.delete(watch);
          if (!evaluate(watch, view, changed)) set.add(watch);
        }
      }
    },
    getSnapshot: (key) => snapshots.get(key),
    clearSnapshot(key) {
      snapshots.delete(key);
      appliedCurrent.delete(key);
    },
    keys: () => [...snapshots.keys()],
    keyOf: (node) => nodeHash(node),
    resourceOf: (node, typeUrl, name) => snapshots.get(nodeHash(node))?.resourcesOf(typeUrl).get(name),
    status: (key) => ({
      key,
      version: snapshots.get(key)?.version,
      watches: [...(watches.get(key)?.values() ?? [])].reduce((n, set) => n + set.size, 0),
      lastAcceptedVersion: lastAccepted.get(key)?.version,
    }),
    tracker,
    lastAccepted: (key) => lastAccepted.get(key),
    rollback(key) {
      const good = lastAccepted.get(key);
      if (!good || good === snapshots.get(key)) return false;
      cache.setSnapshot(key, good);
      return true;
    },
    awaitApplied(nodeId, version, awaitOptions = {}) {
      return new Promise<void>((resolve, reject) => {
        let set = waiters.get(nodeId);
        if (!set) {
          set = new Set();
          waiters.set(nodeId, set);
        }
        const timer =
          awaitOptions.timeoutMs !== undefined
            ? setTimeout(
                () =>
                  done(
                    new XdsKitError(
                      "TIMEOUT",
                      `node "${nodeId}" did not apply version "${version}" within ${awaitOptions.timeoutMs} ms`,
                    ),
                  ),
                awaitOptions.timeoutMs,
              )
            : undefined;
        const onAbort = () => done(new XdsKitError("CLOSED", `awaitApplied("${nodeId}", "${version}") aborted`));
        const waiter: Waiter = { version, resolve: () => done(), reject: (error) => done(error) };
        function done(error?: Error) {
          if (timer) clearTimeout(timer);
          awaitOptions.signal?.removeEventListener("abort", onAbort);
          set?.delete(waiter);
          if (set?.size === 0) waiters.delete(nodeId);
          if (error) reject(error);
          else resolve();
        }
        if (awaitOptions.signal?.aborted) return onAbort();
        awaitOptions.signal?.addEventListener("abort", onAbort);
        set.add(waiter);
        settleWaiters(nodeId);
      });
    },
  };

  return cache;
}
