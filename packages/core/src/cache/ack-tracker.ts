// Per-node, per-type and per-resource record of what was sent, acknowledged or rejected.
import type { Node } from "../gen/envoy/config/core/v3/base.js";
import {
  type AckEvent,
  type HeldView,
  isHeldVersion,
  type NackEvent,
  type SentEvent,
  type StreamFeedback,
} from "./config-watcher.js";

/** SYNCED: the newest response was ACKed; PENDING: sent, no answer yet; NACKED: the newest response was rejected. */
export type SyncState = "SYNCED" | "PENDING" | "NACKED";

export interface ResponseRecord {
  readonly version: string;
  readonly nonce: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

export interface NackRecord extends ResponseRecord {
  readonly errorCode: number;
  readonly errorMessage: string;
}

export interface ResourceStatus {
  readonly name: string;
  /** Version in the newest response that carried this resource. */
  readonly sentVersion: string;
  /** Version the client accepted, if any. */
  readonly ackedVersion?: string;
  /** The client rejected the newest response that carried this resource. */
  readonly nacked: boolean;
}

export interface TypeStatus {
  readonly typeUrl: string;
  readonly state: SyncState;
  readonly sent?: ResponseRecord;
  readonly acked?: ResponseRecord;
  readonly nacked?: NackRecord;
  readonly resources: ReadonlyMap<string, ResourceStatus>;
  /** Plain data (`resources` as an object by name), which `JSON.stringify` uses. */
  toJSON(): TypeStatusJson;
}

/** {@link TypeStatus} as plain, JSON-serialisable data. */
export interface TypeStatusJson {
  readonly typeUrl: string;
  readonly state: SyncState;
  readonly sent?: ResponseRecord;
  readonly acked?: ResponseRecord;
  readonly nacked?: NackRecord;
  readonly resources: { readonly [name: string]: ResourceStatus };
}

/**
 * A node's ACK state when it was read. `types` and `resources` are Maps (lookups by type URL and name);
 * `toJSON()` gives the same as plain objects, so `JSON.stringify(tracker.status(id))` prints all of it.
 */
export interface NodeStatus {
  readonly nodeId: string;
  readonly node: Node;
  /** Open streams of this node. */
  readonly streams: number;
  readonly types: ReadonlyMap<string, TypeStatus>;
  /** Plain data (`types` and `resources` as objects by key), which `JSON.stringify` uses. */
  toJSON(): NodeStatusJson;
}

/** {@link NodeStatus} as plain, JSON-serialisable data. */
export interface NodeStatusJson {
  readonly nodeId: string;
  readonly node: Node;
  readonly streams: number;
  readonly types: { readonly [typeUrl: string]: TypeStatusJson };
}

/** Gives `value` a `toJSON` that `JSON.stringify` calls and that enumeration and equality checks do not see. */
function withToJson<T extends object, J>(value: T, toJSON: () => J): T & { toJSON(): J } {
  Object.defineProperty(value, "toJSON", { value: toJSON, enumerable: false });
  return value as T & { toJSON(): J };
}

function typeStatusJson(status: Omit<TypeStatus, "toJSON">): TypeStatusJson {
  const { resources, ...rest } = status;
  return { ...rest, resources: Object.fromEntries(resources) };
}

interface MutableType {
  typeUrl: string;
  state: SyncState;
  sent?: ResponseRecord;
  acked?: ResponseRecord;
  nacked?: NackRecord;
  /**
   * What the client was sent, per resource: the stream's live map when the server shares it, else a copy
   * kept here. Acked versions equal it except for `overrides` (names in responses not yet ACKed: the version
   * the client accepted before, undefined for none), so per-resource state costs O(what is in flight).
   */
  holds: ReadonlyMap<string, string>;
  ownHolds?: Map<string, string> | undefined;
  /** The stream whose live map `holds` is. */
  holdsStream?: number;
  /** More than one stream carried this type: `holds` is a merged copy. */
  merged?: boolean;
  overrides: Map<string, string | undefined> | undefined;
  /**
   * Instead of `overrides`, while the newest response is the only one in flight and the client held exactly this
   * view before it: what it accepted of the names in flight is read from the view (no copy per resource).
   */
  acceptedView?: HeldView | undefined;
  /** Names of the newest NACKed response. */
  nackedNames: Set<string> | undefined;
  // Responses awaiting an answer, by nonce; bounded so a client that never answers costs O(1) memory.
  // (The maps above and this one exist only while they hold something: most streams are idle and in sync.)
  inflight: Map<string, SentEvent> | undefined;
}

interface MutableNode {
  nodeId: string;
  node: Node;
  streams: Set<number>;
  types: Map<string, MutableType>;
}

const MAX_INFLIGHT_PER_TYPE = 8;
const NOTHING_HELD: ReadonlyMap<string, string> = new Map();

/** The version `held` gives `name`, when the client holds it. */
function versionIn(held: HeldView, name: string): string | undefined {
  if (held.scope && !held.scope.has(name)) return undefined;
  return held.view.resources.get(name)?.version;
}

/** Turns `acceptedView` into `overrides` for the names in flight (another response is about to join them). */
function recordAcceptedView(type: MutableType): void {
  const accepted = type.acceptedView;
  if (!accepted) return;
  type.acceptedView = undefined;
  for (const response of type.inflight?.values() ?? [])
    for (const r of response.resources) {
      const held = versionIn(accepted, r.name);
      if (held !== r.version && !type.overrides?.has(r.name)) overridesOf(type).set(r.name, held);
    }
}

function overridesOf(type: MutableType): Map<string, string | undefined> {
  type.overrides ??= new Map();
  return type.overrides;
}

/** Reads and follows the ACK state of every node. */
export interface AckTracker {
  status(nodeId: string): NodeStatus | undefined;
  nodes(): NodeStatus[];
  /** Called after every ACK; returns an unsubscribe function. */
  onAck(listener: (event: AckEvent) => void): () => void;
  /** Called after every NACK; returns an unsubscribe function. */
  onNack(listener: (event: NackEvent) => void): () => void;
}

/** The tracker plus the feedback interface the server calls. */
export interface AckTrackerWithFeedback extends AckTracker {
  readonly feedback: StreamFeedback;
  /** Without copying: each type the node has asked for, with its ACKed version and state. */
  syncStates(nodeId: string): Iterable<readonly [typeUrl: string, ackedVersion: string | undefined, state: SyncState]>;
  /** Without copying: names of the node's resources of one type. */
  resourceNames(nodeId: string, typeUrl: string): Iterable<string>;
  /**
   * The cache found nothing to send the node for this type at `version`: a node whose newest response
   * was ACKed is then current at that version (e.g. SotW clients drop deleted endpoints by themselves).
   * Returns whether that changed anything.
   */
  inSync(node: Node, streamId: number, typeUrl: string, version: string): boolean;
}

export function createAckTracker(options: { now?: () => number } = {}): AckTrackerWithFeedback {
  const now = options.now ?? Date.now;
  const nodes = new Map<string, MutableNode>();
  const ackListeners = new Set<(event: AckEvent) => void>();
  const nackListeners = new Set<(event: NackEvent) => void>();

  const nodeOf = (node: Node, streamId: number): MutableNode => {
    const nodeId = node.id ?? "";
    let entry = nodes.get(nodeId);
    if (!entry) {
      entry = { nodeId, node, streams: new Set(), types: new Map() };
      nodes.set(nodeId, entry);
    }
    entry.streams.add(streamId);
    return entry;
  };
  const typeOf = (node: MutableNode, typeUrl: string): MutableType => {
    let entry = node.types.get(typeUrl);
    if (!entry) {
      entry = {
        typeUrl,
        state: "PENDING",
        holds: NOTHING_HELD,
        overrides: undefined,
        nackedNames: undefined,
        inflight: undefined,
      };
      node.types.set(typeUrl, entry);
    }
    return entry;
  };

  const feedback: StreamFeedback = {
    sent(event) {
      const type = typeOf(nodeOf(event.node, event.streamId), event.typeUrl);
      if (event.holds && type.holds !== event.holds && !type.merged) {
        if (type.holdsStream === undefined || type.holdsStream === event.streamId) {
          type.holds = event.holds;
          type.holdsStream = event.streamId;
          type.ownHolds = undefined;
        } else {
          // Several streams carry this type (per-type services): keep one merged copy from now on.
          type.ownHolds = new Map(type.holds);
          type.holds = type.ownHolds;
          type.merged = true;
        }
      } else if (!event.holds && !type.ownHolds) {
        // The server shares no live map for this stream: keep a copy here.
        type.ownHolds = new Map(type.holds);
        type.holds = type.ownHolds;
      }
      // Before the client holds this response, remember what it accepted of the names it carries.
      // (Nothing accepted yet: every acked version is undefined anyway. Unchanged names need no record.)
      if (type.acked !== undefined && event.heldView && type.state === "SYNCED" && !type.overrides)
        type.acceptedView = event.heldView;
      else if (type.acked !== undefined) {
        if (type.acceptedView) recordAcceptedView(type);
        for (const r of event.resources) {
          const value = type.holds.get(r.name);
          const held = isHeldVersion(value) ? value : undefined;
          if (held !== r.version && !type.overrides?.has(r.name)) overridesOf(type).set(r.name, held);
        }
      }
      if (type.ownHolds) {
        for (const r of event.resources) type.ownHolds.set(r.name, r.version);
        for (const name of event.removed) type.ownHolds.delete(name);
      }
      if (type.overrides) for (const name of event.removed) type.overrides.delete(name);
      type.sent = { version: event.version, nonce: event.nonce, at: now() };
      type.state = "PENDING";
      type.inflight ??= new Map();
      type.inflight.set(event.nonce, event);
      if (type.inflight.size > MAX_INFLIGHT_PER_TYPE) {
        const oldest = type.inflight.keys().next().value;
        if (oldest !== undefined) type.inflight.delete(oldest);
      }
    },
    acked(event) {
      const type = typeOf(nodeOf(event.node, event.streamId), event.typeUrl);
      const response = type.inflight?.get(event.nonce);
      type.acked = { version: event.version, nonce: event.nonce, at: now() };
      if (type.sent?.nonce === event.nonce) {
        // The newest response: the client holds everything it was sent.
        type.state = "SYNCED";
        type.overrides = undefined;
        type.acceptedView = undefined;
        type.nackedNames = undefined;
        type.inflight = undefined;
      } else if (response && type.inflight) {
        if (type.acceptedView) recordAcceptedView(type);
        // An older response (delta): its names are accepted unless a newer response carries them too.
        type.inflight.delete(event.nonce);
        const newer = new Set<string>();
        for (const later of type.inflight.values()) for (const r of later.resources) newer.add(r.name);
        for (const r of response.resources) {
          if (newer.has(r.name)) overridesOf(type).set(r.name, r.version);
          else type.overrides?.delete(r.name);
          type.nackedNames?.delete(r.name);
        }
      }
      for (const listener of ackListeners) listener(event);
    },
    nacked(event) {
      const type = typeOf(nodeOf(event.node, event.streamId), event.typeUrl);
      // The client keeps what it accepted before: record it while the rejected response is still in flight.
      if (type.acceptedView) recordAcceptedView(type);
      const response = type.inflight?.get(event.nonce);
      type.inflight?.delete(event.nonce);
      type.nacked = {
        version: event.version,
        nonce: event.nonce,
        at: now(),
        errorCode: event.errorCode,
        errorMessage: event.errorMessage,
      };
      if (type.sent?.nonce === event.nonce) type.state = "NACKED";
      type.nackedNames = new Set((response?.resources ?? []).map((r) => r.name));
      for (const listener of nackListeners) listener(event);
    },
    closed(event) {
      const entry = nodes.get(event.node.id ?? "");
      if (!entry) return;
      entry.streams.delete(event.streamId);
      if (entry.streams.size === 0) nodes.delete(entry.nodeId);
    },
  };

  const snapshotOf = (entry: MutableNode): NodeStatus => {
    const types = new Map<string, TypeStatus>(
      [...entry.types].map(([url, t]) => {
        const status = {
          typeUrl: t.typeUrl,
          state: t.state,
          resources: resourceStatuses(t),
          ...(t.sent ? { sent: t.sent } : {}),
          ...(t.acked ? { acked: t.acked } : {}),
          ...(t.nacked ? { nacked: t.nacked } : {}),
        };
        return [url, withToJson(status, () => typeStatusJson(status))];
      }),
    );
    const status = { nodeId: entry.nodeId, node: entry.node, streams: entry.streams.size, types };
    return withToJson(status, () => ({
      nodeId: status.nodeId,
      node: status.node,
      streams: status.streams,
      types: Object.fromEntries([...types].map(([url, t]) => [url, t.toJSON()])),
    }));
  };

  return {
    feedback,
    *syncStates(nodeId) {
      for (const [typeUrl, type] of nodes.get(nodeId)?.types ?? [])
        yield [typeUrl, type.acked?.version, type.state] as const;
    },
    *resourceNames(nodeId, typeUrl) {
      for (const [name, version] of nodes.get(nodeId)?.types.get(typeUrl)?.holds ?? [])
        if (isHeldVersion(version)) yield name;
    },
    inSync(node, streamId, typeUrl, version) {
      const type = typeOf(nodeOf(node, streamId), typeUrl);
      if (type.sent && type.state !== "SYNCED") return false;
      if (type.acked?.version === version && type.state === "SYNCED") return false;
      type.acked = { version, nonce: type.acked?.nonce ?? "", at: now() };
      type.state = "SYNCED";
      return true;
    },
    status(nodeId) {
      const entry = nodes.get(nodeId);
      return entry ? snapshotOf(entry) : undefined;
    },
    nodes: () => [...nodes.values()].map(snapshotOf),
    onAck(listener) {
      ackListeners.add(listener);
      return () => ackListeners.delete(listener);
    },
    onNack(listener) {
      nackListeners.add(listener);
      return () => nackListeners.delete(listener);
    },
  };
}

/** Per-resource status of one type, built on demand from what the client holds and what is in flight. */
function resourceStatuses(type: MutableType): Map<string, ResourceStatus> {
  const out = new Map<string, ResourceStatus>();
  const everAccepted = type.acked !== undefined;
  const accepted = type.acceptedView;
  const inFlight = accepted
    ? new Set([...(type.inflight?.values() ?? [])].flatMap((e) => e.resources.map((r) => r.name)))
    : undefined;
  for (const [name, sentVersion] of type.holds) {
    if (!isHeldVersion(sentVersion)) continue;
    const ackedVersion = type.overrides?.has(name)
      ? type.overrides.get(name)
      : accepted && inFlight?.has(name)
        ? versionIn(accepted, name)
        : everAccepted
          ? sentVersion
          : undefined;
    out.set(name, {
      name,
      sentVersion,
      ...(ackedVersion !== undefined ? { ackedVersion } : {}),
      nacked: type.nackedNames?.has(name) ?? false,
    });
  }
  return out;
}
