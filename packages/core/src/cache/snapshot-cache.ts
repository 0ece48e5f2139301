import { NackError, XdsKitError } from "../errors.js";
import type { Cluster } from "../gen/envoy/config/cluster/v3/cluster.js";
import type { Node } from "../gen/envoy/config/core/v3/base.js";
import type { Listener } from "../gen/envoy/config/listener/v3/listener.js";
import type { RouteConfiguration } from "../gen/envoy/config/route/v3/route.js";
import { type ResourceType, resourceTypes } from "../resource-types.js";
import { type AckTracker, createAckTracker } from "./ack-tracker.js";
import { type AppliedState, DEFAULT_AWAIT_APPLIED_TIMEOUT_MS, notAppliedError } from "./await-applied.js";
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
import { clusterNamesOf, edsNameOf, rdsNamesOf } from "./references.js";
import { changedBetween, deltaResponseFrom, type ResourceView, sotwResponseFrom, viewOf } from "./responses.js";
import {
  createSnapshot,
  type Snapshot,
  type SnapshotChanges,
  type SnapshotResources,
  type UpdateSnapshotOptions,
  updateSnapshot,
} from "./snapshot.js";

const EMPTY_SNAPSHOT = createSnapshot({ resources: {} });

/** What a node's resources of one type make it ask for next: listener → routes → clusters → endpoints. */
const DEPENDENCIES: ReadonlyArray<readonly [ResourceType, ResourceType, (resource: unknown) => string[]]> = [
  [resourceTypes.Listener, resourceTypes.RouteConfiguration, (r) => rdsNamesOf(r as Listener)],
  [resourceTypes.RouteConfiguration, resourceTypes.Cluster, (r) => clusterNamesOf(r as RouteConfiguration)],
  [
    resourceTypes.Cluster,
    resourceTypes.ClusterLoadAssignment,
    (r) => {
      const name = edsNameOf(r as Cluster);
      return name ? [name] : [];
    },
  ],
];

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
  /**
   * Make-before-break for deletions (XDS-RULES R18: remove stale CDS/EDS last). When a new snapshot drops
   * clusters or endpoints, first serve a bridge snapshot that still holds them next to everything new; once
   * every connected node of the group applied the bridge (or `staleRemovalTimeoutMs` passed), serve the
   * snapshot itself. Pair with the server's `ordering: "ack-gated"`. Default: false.
   */
  removeStaleLast?: boolean;
  /** With removeStaleLast: the longest a bridge snapshot is served. Default: 10000 ms. */
  staleRemovalTimeoutMs?: number;
}

/** Options of {@link SnapshotCache.awaitApplied}. */
export interface AwaitAppliedOptions {
  /**
   * Reject with code TIMEOUT after this many milliseconds; the error's `details.reason` says which case it is
   * ({@link NotAppliedReason}). Default: 30000. `Infinity` waits without a bound (then give a `signal`).
   */
  timeoutMs?: number;
  /** Aborting it rejects the wait with code CLOSED. */
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
  /**
   * Applies changes to the group's snapshot (an empty one when it has none), makes the result current and
   * returns it: {@link updateSnapshot} plus setSnapshot, O(what changed).
   */
  updateSnapshot(key: string, changes: SnapshotChanges, options?: UpdateSnapshotOptions): Snapshot;
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
   * snapshot it subscribes to. Rejects with a {@link NackError} (code NACKED: type URL, resource names, version,
   * error_detail) if it rejects that version; with code TIMEOUT naming the case ({@link NotAppliedReason}) after
   * `timeoutMs` (default 30000); with code CLOSED when `signal` aborts.
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
  const nodesPerKey = new Map<string, Set<string>>();
  const appliedCurrent = new Map<string, Set<string>>(); // key → node ids that applied the current snapshot
  const lastAccepted = new Map<string, Snapshot>();
  const waiters = new Map<string, Set<Waiter>>();

  const findSnapshot = (key: string, version: string) => history.get(key)?.find((s) => s.version === version);
  // What awaitApplied's TIMEOUT error reads to say which case it is.
  const appliedState: AppliedState = {
    keyOf: (nodeId) => nodeKeys.get(nodeId),
    nodesOf: (key) => nodesPerKey.get(key) ?? [],
    current: (key) => snapshots.get(key),
    history: (key) => history.get(key) ?? [],
    historySize,
    syncStates: (nodeId) => tracker.syncStates(nodeId),
  };

  /**
   * A node applied a snapshot when every type it asked for is ACKed (or found current) at the snapshot's
   * version, and it has asked for every type its resources lead to (listener → routes → clusters →
   * endpoints): clients such as gRPC ask for one type after another.
   */
  const hasApplied = (nodeId: string, snapshot: Snapshot): boolean => {
    const asked = new Set<string>();
    for (const [typeUrl, acked] of tracker.syncStates(nodeId)) {
      const entry = snapshot.entry(typeUrl);
      if (!entry) continue;
      if (acked !== entry.version) return false;
      asked.add(typeUrl);
    }
    if (asked.size === 0) return false;
    for (const [from, to, refs] of DEPENDENCIES) {
      if (!asked.has(from.typeUrl) || asked.has(to.typeUrl)) continue;
      const targets = snapshot.resourcesOf(to.typeUrl);
      if (targets.size === 0) continue;
      const sources = snapshot.resourcesOf(from.typeUrl);
      for (const name of tracker.resourceNames(nodeId, from.typeUrl)) {
        const source = sources.get(name);
        if (source && refs(source.resource).some((ref) => targets.has(ref))) return false;
      }
    }
    return true;
  };

  const connectedNodes = (key: string) => nodesPerKey.get(key)?.size ?? 0;
  const connect = (nodeId: string, key: string) => {
    const previous = nodeKeys.get(nodeId);
    if (previous === key) return;
    if (previous !== undefined) disconnect(nodeId);
    nodeKeys.set(nodeId, key);
    let set = nodesPerKey.get(key);
    if (!set) {
      set = new Set();
      nodesPerKey.set(key, set);
    }
    set.add(nodeId);
  };
  const disconnect = (nodeId: string) => {
    const key = nodeKeys.get(nodeId);
    if (key === undefined) return;
    nodeKeys.delete(nodeId);
    nodesPerKey.get(key)?.delete(nodeId);
    appliedCurrent.get(key)?.delete(nodeId);
  };

  /** Nothing to send: the stream is current at this view's version (if its last response was ACKed). */
  const inSync = (watch: Watch, view: ResourceView): false => {
    const { node, streamId, typeUrl } = watch.request;
    if (tracker.inSync(node, streamId, typeUrl, view.version)) {
      const nodeId = node.id ?? "";
      noteAccepted(nodeId);
      settleWaiters(nodeId);
    }
    return false;
  };

  const evaluate = (watch: Watch, view: ResourceView, changed?: readonly string[]): boolean => {
    if (watch.delta) {
      const response = deltaResponseFrom(view, watch.request, changed);
      if (!response) return inSync(watch, view);
      (watch.respond as (r: DeltaResponse) => void)(response);
    } else {
      const response = sotwResponseFrom(view, watch.request, changed);
      if (!response) return inSync(watch, view);
      (watch.respond as (r: SotwResponse) => void)(response);
    }
    return true;
  };

  const open = (request: WatchRequest, respond: (response: never) => void, delta: boolean): CancelWatch => {
    const key = nodeHash(request.node);
    connect(request.node.id ?? "", key);
    const watch: Watch = { key, request, respond, delta };
    const snapshot = snapshots.get(key);
    if (snapshot) {
      const view = viewOf(snapshot, request.typeUrl);
      // A stream in sync with an earlier view is compared only on what changed since (views are immutable).
      const synced = request.syncedView;
      if (synced === view) inSync(watch, view);
      else if (evaluate(watch, view, synced ? changedBetween(synced, view) : undefined)) return () => {};
    }
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
    for (const waiter of set) {
      const snapshot = findSnapshot(key, waiter.version);
      if (snapshot && hasApplied(nodeId, snapshot)) waiter.resolve();
    }
  };

  const noteAccepted = (nodeId: string) => {
    const key = nodeKeys.get(nodeId);
    if (key === undefined) return;
    const current = snapshots.get(key);
    if (!current || !hasApplied(nodeId, current)) return;
    let set = appliedCurrent.get(key);
    if (!set) {
      set = new Set();
      appliedCurrent.set(key, set);
    }
    set.add(nodeId);
    if (set.size >= connectedNodes(key)) {
      lastAccepted.set(key, current);
      if (bridges.get(key)?.bridge === current) queueMicrotask(() => finishBridge(key));
    }
  };

  tracker.onAck((event) => {
    const nodeId = event.node.id ?? "";
    noteAccepted(nodeId);
    settleWaiters(nodeId);
  });

  /** Makes `snapshot` the group's current one and pushes what changed to its open watches. */
  const apply = (key: string, snapshot: Snapshot) => {
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
      const changed = before ? changedBetween(before, view) : undefined;
      if (changed && changed.length === 0 && before?.version === view.version) continue;
      for (const watch of [...set]) {
        if (!set.has(watch)) continue;
        set.delete(watch);
        if (!evaluate(watch, view, changed)) set.add(watch);
      }
    }
  };

  const bridges = new Map<string, { bridge: Snapshot; final: Snapshot; timer: NodeJS.Timeout }>();
  const cancelBridge = (key: string) => {
    const pending = bridges.get(key);
    if (pending) clearTimeout(pending.timer);
    bridges.delete(key);
  };
  /** Replaces a bridge snapshot with the one it leads to. */
  const finishBridge = (key: string) => {
    const pending = bridges.get(key);
    if (!pending) return;
    cancelBridge(key);
    if (snapshots.get(key) === pending.bridge) apply(key, pending.final);
  };

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
          if (snapshot?.versionOf(event.typeUrl) === event.version) waiter.reject(nackErrorOf(tracker, event));
        }
        if (options.nackPolicy === "rollback") cache.rollback(key);
      }
      options.onNack?.(event, cache);
    },
    closed(event) {
      tracker.feedback.closed(event);
      const nodeId = event.node.id ?? "";
      if (!tracker.status(nodeId)) disconnect(nodeId);
    },
  };

  const cache: SnapshotCache = {
    watchSotw: (request, respond) => open(request, respond as (r: never) => void, false),
    watchDelta: (request, respond) => open(request, respond as (r: never) => void, true),
    feedback,
    setSnapshot(key, snapshot) {
      cancelBridge(key);
      const previous = snapshots.get(key);
      const bridge = options.removeStaleLast && previous ? bridgeSnapshot(previous, snapshot) : undefined;
      if (bridge && connectedNodes(key) > 0) {
        const timer = setTimeout(() => finishBridge(key), options.staleRemovalTimeoutMs ?? 10_000);
        timer.unref();
        bridges.set(key, { bridge, final: snapshot, timer });
        apply(key, bridge);
        // Nodes the bridge sends nothing new to (they already have all of it) are done with it now.
        for (const nodeId of nodesPerKey.get(key) ?? []) noteAccepted(nodeId);
        return;
      }
      apply(key, snapshot);
    },
    updateSnapshot(key, changes, updateOptions) {
      const next = updateSnapshot(snapshots.get(key) ?? EMPTY_SNAPSHOT, changes, updateOptions);
      cache.setSnapshot(key, next);
      return next;
    },
    getSnapshot: (key) => snapshots.get(key),
    clearSnapshot(key) {
      cancelBridge(key);
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
      const badArgument = awaitAppliedArgumentProblem(nodeId, version, awaitOptions);
      if (badArgument) return Promise.reject(new XdsKitError("INVALID_ARGUMENT", `awaitApplied: ${badArgument}`));
      return new Promise<void>((resolve, reject) => {
        let set = waiters.get(nodeId);
        if (!set) {
          set = new Set();
          waiters.set(nodeId, set);
        }
        const timeoutMs = awaitOptions.timeoutMs ?? DEFAULT_AWAIT_APPLIED_TIMEOUT_MS;
        const timer = Number.isFinite(timeoutMs)
          ? setTimeout(() => done(notAppliedError(appliedState, nodeId, version, timeoutMs)), timeoutMs)
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

/** The NackError of a NACK: its facts, and the names of the resources the rejected response carried. */
function nackErrorOf(tracker: AckTracker, event: NackEvent): NackError {
  const nodeId = event.node.id ?? "";
  const resources = tracker.status(nodeId)?.types.get(event.typeUrl)?.resources;
  const resourceNames = [...(resources?.values() ?? [])].filter((r) => r.nacked).map((r) => r.name);
  return new NackError(
    `node "${nodeId}" rejected ${event.typeUrl} version "${event.version}"` +
      (resourceNames.length > 0 ? ` (resources ${resourceNames.map((n) => `"${n}"`).join(", ")})` : "") +
      `: ${event.errorMessage}`,
    {
      nodeId,
      typeUrl: event.typeUrl,
      version: event.version,
      nonce: event.nonce,
      resourceNames,
      errorDetail: { code: event.errorCode, message: event.errorMessage },
    },
  );
}

function awaitAppliedArgumentProblem(
  nodeId: unknown,
  version: unknown,
  options: AwaitAppliedOptions,
): string | undefined {
  if (typeof nodeId !== "string") return `nodeId must be a string (a node id), got ${typeof nodeId}`;
  if (typeof version !== "string") return `version must be a string (a snapshot version), got ${typeof version}`;
  const { timeoutMs } = options ?? {};
  if (timeoutMs !== undefined && !(typeof timeoutMs === "number" && timeoutMs > 0))
    return `timeoutMs must be a positive number of milliseconds (or Infinity), got ${String(timeoutMs)}`;
  return undefined;
}

const STALE_LAST: readonly ResourceType[] = [resourceTypes.Cluster, resourceTypes.ClusterLoadAssignment];

/**
 * `next` plus the clusters and endpoints `previous` had and `next` drops, or undefined when it drops none.
 * Removing them only after everything that used them moved on keeps traffic flowing (R18).
 */
function bridgeSnapshot(previous: Snapshot, next: Snapshot): Snapshot | undefined {
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
