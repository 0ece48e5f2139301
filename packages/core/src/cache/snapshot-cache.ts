// The snapshot cache: one snapshot per node group, served to SotW and delta watches, with ACK tracking,
// awaitApplied, the NACK policy and removeStaleLast. Each concern is its own unit; this file wires them.
import type { Node } from "../gen/envoy/config/core/v3/base.js";
import { type AckTracker, createAckTracker } from "./ack-tracker.js";
import { type AwaitAppliedOptions, createAppliedWaiters } from "./applied-waiters.js";
import type { ConfigWatcher, NackEvent, StreamFeedback, WatchRequest } from "./config-watcher.js";
import { createConnectedNodes } from "./connected-nodes.js";
import { createGroupAcceptance } from "./group-acceptance.js";
import { createGroupSnapshots } from "./group-snapshots.js";
import { createOpenWatches } from "./open-watches.js";
import type { PreparedResource } from "./prepared-resource.js";
import {
  createSnapshot,
  type Snapshot,
  type SnapshotChanges,
  type UpdateSnapshotOptions,
  updateSnapshot,
} from "./snapshot.js";
import { bridgeSnapshot, createStaleBridges } from "./stale-bridges.js";

export type { AwaitAppliedOptions } from "./applied-waiters.js";

const EMPTY_SNAPSHOT = createSnapshot({ resources: {} });

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

export function createSnapshotCache(options: SnapshotCacheOptions = {}): SnapshotCache {
  const nodeHash = options.nodeHash ?? ((node: Node) => node.id ?? "");
  const tracker = createAckTracker();
  const snapshots = createGroupSnapshots(options.historySize ?? 16);
  const nodes = createConnectedNodes((nodeId, key) => acceptance.forgetNode(nodeId, key));
  const acceptance = createGroupAcceptance(tracker, nodes, snapshots, (key, current) => {
    if (bridges.isBridge(key, current)) queueMicrotask(() => bridges.finish(key));
  });
  const waiters = createAppliedWaiters(tracker, nodes, snapshots, acceptance.hasApplied);
  /** The node's ACK state changed: it may have applied its group's snapshot, or a version someone awaits. */
  const ackStateChanged = (nodeId: string) => {
    acceptance.noteAccepted(nodeId);
    waiters.settle(nodeId);
  };
  const watches = createOpenWatches(tracker, ackStateChanged);
  tracker.onAck((event) => ackStateChanged(event.node.id ?? ""));

  /** Makes `snapshot` the group's current one and pushes what changed to its open watches. */
  const apply = (key: string, snapshot: Snapshot) => {
    const previous = snapshots.set(key, snapshot);
    acceptance.resetGroup(key);
    watches.push(key, previous, snapshot);
  };
  const bridges = createStaleBridges((key, bridge, final) => {
    if (snapshots.current(key) === bridge) apply(key, final);
  });

  const open = (request: WatchRequest, respond: (r: never) => void, delta: boolean) => {
    const key = nodeHash(request.node);
    nodes.connect(request.node.id ?? "", key);
    return watches.open(key, snapshots.current(key), request, respond, delta);
  };

  // The server reports to the cache; the cache feeds its tracker and applies the NACK policy.
  const feedback: StreamFeedback = {
    sent: (event) => tracker.feedback.sent(event),
    acked: (event) => tracker.feedback.acked(event),
    nacked(event: NackEvent) {
      tracker.feedback.nacked(event);
      const key = nodes.keyOf(event.node.id ?? "");
      if (key !== undefined) {
        waiters.rejectNacked(event);
        if (options.nackPolicy === "rollback") cache.rollback(key);
      }
      options.onNack?.(event, cache);
    },
    closed(event) {
      tracker.feedback.closed(event);
      const nodeId = event.node.id ?? "";
      if (!tracker.status(nodeId)) nodes.disconnect(nodeId);
    },
  };

  const cache: SnapshotCache = {
    watchSotw: (request, respond) => open(request, respond as (r: never) => void, false),
    watchDelta: (request, respond) => open(request, respond as (r: never) => void, true),
    feedback,
    setSnapshot(key, snapshot) {
      bridges.cancel(key);
      const previous = snapshots.current(key);
      const bridge = options.removeStaleLast && previous ? bridgeSnapshot(previous, snapshot) : undefined;
      if (bridge && nodes.count(key) > 0) {
        bridges.start(key, bridge, snapshot, options.staleRemovalTimeoutMs ?? 10_000);
        apply(key, bridge);
        // Nodes the bridge sends nothing new to (they already have all of it) are done with it now.
        for (const nodeId of nodes.nodesOf(key)) acceptance.noteAccepted(nodeId);
        return;
      }
      apply(key, snapshot);
    },
    updateSnapshot(key, changes, updateOptions) {
      const next = updateSnapshot(snapshots.current(key) ?? EMPTY_SNAPSHOT, changes, updateOptions);
      cache.setSnapshot(key, next);
      return next;
    },
    getSnapshot: (key) => snapshots.current(key),
    clearSnapshot(key) {
      bridges.cancel(key);
      snapshots.clear(key);
      acceptance.resetGroup(key);
    },
    keys: () => snapshots.keys(),
    keyOf: (node) => nodeHash(node),
    resourceOf: (node, typeUrl, name) => snapshots.current(nodeHash(node))?.resourcesOf(typeUrl).get(name),
    status: (key) => ({
      key,
      version: snapshots.current(key)?.version,
      watches: watches.count(key),
      lastAcceptedVersion: acceptance.lastAccepted(key)?.version,
    }),
    tracker,
    lastAccepted: (key) => acceptance.lastAccepted(key),
    rollback(key) {
      const good = acceptance.lastAccepted(key);
      if (!good || good === snapshots.current(key)) return false;
      cache.setSnapshot(key, good);
      return true;
    },
    awaitApplied: (nodeId, version, awaitOptions = {}) => waiters.wait(nodeId, version, awaitOptions),
  };

  return cache;
}
