// What SotW and delta streams share: the node, per-type watches, the latest-wins queue of responses,
// make-before-break ordering, optional ACK gating, write() backpressure and TTL heartbeats.
import { status } from "@grpc/grpc-js";
import {
  type AckEvent,
  type Node,
  type PreparedResource,
  type ResourceType,
  resourceTypeOf,
  resourceTypes,
  type XdstpName,
} from "@xdskit/core";
import type { CancelWatch, ResourceView, WatchRequest } from "@xdskit/core/watcher";
import type { StreamInfo } from "./callbacks.js";
import type { HeldVersions } from "./held-versions.js";
import { canonicalNames } from "./names.js";
import type { Identity, ResolvedXdsServerOptions } from "./options.js";
import { TtlTracker } from "./ttl-tracker.js";
import type { HeartbeatEntry, SharedEncoding } from "./wire.js";

/** A type whose resources the client needs before it answers for the type it is keyed under. */
const WARMS_ON = new Map<string, string>([
  [resourceTypes.ClusterLoadAssignment.typeUrl, resourceTypes.Cluster.typeUrl],
  [resourceTypes.RouteConfiguration.typeUrl, resourceTypes.Listener.typeUrl],
]);

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}

/** Client feature: the client honours `Resource.ttl` and heartbeats (XDS-RULES R29, R30). */
export const FEATURE_RESOURCE_TTL = "xds.config.supports-resource-ttl";
/**
 * Client feature: the client unwraps discovery.v3.Resource in SotW responses (R31). The protocol docs
 * spell it `xds.config.supports-resource-in-sotw`; gRPC clients and Envoy's feature list spell it
 * `xds.config.resource-in-sotw`. Either is accepted.
 */
export const FEATURES_RESOURCE_IN_SOTW: readonly string[] = [
  "xds.config.supports-resource-in-sotw",
  "xds.config.resource-in-sotw",
];

/** The transport under a stream: a gRPC call in production, a fake in unit tests. */
export interface StreamIo {
  /**
   * Writes one response: a gRPC message with its 5-byte length prefix (wire.ts framedMessage), the same buffer
   * for every stream that sends it. False means "buffer full, wait for drain".
   */
  write(framed: Buffer): boolean;
  onDrain(listener: () => void): void;
  /** Ends the stream with a gRPC status. */
  fail(code: status, message: string): void;
}

/** A protocol fault that ends the stream with a status, never the server. */
export class StreamError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

export interface TypeStateBase {
  readonly type: ResourceType;
  wildcard: boolean;
  readonly names: ReadonlySet<string>;
  /** What the client holds: name → version (kept as differences from a view, see held-versions.ts). */
  readonly known: HeldVersions;
  cancel?: CancelWatch;
  /** A watch is open and has not fired yet. */
  watchOpen: boolean;
  /** The newest response sent and not yet answered, for ACK gating. */
  awaiting?: { nonce: string; sentAt: number };
  /** Delta VHDS: subscribed alias → the resource name it was answered with, "" = unresolved (R28). */
  aliases?: Map<string, string>;
  /** Delta: names the client announced in `initial_resource_versions`, until the first response (R26, R30). */
  announced?: Set<string>;
  /**
   * The view of the newest response sent, while `known` still equals it on every subscribed name; cleared
   * whenever the subscription or `known` changes otherwise. Lets the cache compare only what changed.
   */
  syncedView?: ResourceView;
  /** The glob collections among `names` (R34); refresh with {@link globsOf} whenever `names` change. */
  globs?: XdstpName[] | undefined;
  /** Heartbeats of this type were rejected by the client: send no more (R30). */
  heartbeatsRefused?: boolean;
}

export abstract class StreamBase<State extends TypeStateBase, Response extends { typeUrl: string }> {
  node: Node | undefined;
  readonly types = new Map<string, State>();
  protected readonly pending = new Map<string, Response>();
  private nonceSeq = 0;
  private sharedSeqSeen = 0;
  private blocked = false;
  private flushScheduled = false;
  private gateTimer: NodeJS.Timeout | undefined;
  /** Resources with a TTL the client accepted, for heartbeats (R30); made for the first TTL'd response. */
  protected ttl: TtlTracker | undefined;
  /** Nonces of heartbeat responses: their answers are not ACKs of configuration. Bounded. */
  protected heartbeatNonces: Set<string> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatAt = Number.POSITIVE_INFINITY;
  private heartbeatAfterDrain = false;
  closed = false;

  constructor(
    readonly info: StreamInfo,
    protected readonly options: ResolvedXdsServerOptions,
    protected readonly io: StreamIo,
    protected readonly identity: Identity | undefined,
    /** Set for per-type services: the only type this stream may carry. */
    protected readonly fixedTypeUrl: string | undefined,
  ) {
    io.onDrain(() => {
      this.blocked = false;
      this.flush();
      if (this.heartbeatAfterDrain) {
        this.heartbeatAfterDrain = false;
        this.guard(() => this.runHeartbeats());
      }
    });
  }

  /**
   * Encodes and writes one response, updating the type's state; returns the nonce it carries. A response
   * shared by many streams is encoded once with a nonce of its own (unique on every stream that gets it);
   * `nextNonce` gives a stream-private one.
   */
  protected abstract send(state: State, response: Response): string;
  protected abstract openWatch(state: State, view: WatchRequest): CancelWatch;
  /** Whether the client still follows a resource of the type (subscription, wildcard, alias). */
  protected abstract follows(state: State, name: string): boolean;
  /** Whether a heartbeat of the type may go out now (e.g. SotW: the newest response was ACKed). */
  protected abstract canHeartbeat(state: State): boolean;
  /** Encodes and writes a heartbeat refreshing these entries (R30). */
  protected abstract sendHeartbeat(state: State, entries: readonly HeartbeatEntry[], nonce: string): void;

  protected ttlTracker(): TtlTracker {
    this.ttl ??= new TtlTracker();
    return this.ttl;
  }

  protected nextNonce(): string {
    this.nonceSeq++;
    return `s${this.nonceSeq.toString(36)}`;
  }

  /**
   * The shared encoding of a response, when this stream may use its nonce: shared nonces grow with every
   * encoding, so one this stream has not passed yet is new to it (R2). Else undefined: encode privately.
   */
  protected sharedEncoding(encoded: SharedEncoding): SharedEncoding | undefined {
    if (encoded.seq <= this.sharedSeqSeen) return undefined;
    this.sharedSeqSeen = encoded.seq;
    return encoded;
  }

  /** R1: the node comes with the first request; later ones belong to it. */
  protected acceptNode(node: Node | undefined): Node {
    if (!this.node) {
      if (!node) throw new StreamError(status.INVALID_ARGUMENT, "the first request on a stream must carry node");
      this.node = node;
    }
    return this.node;
  }

  protected typeUrlOf(requested: string | undefined): ResourceType {
    const typeUrl = requested || this.fixedTypeUrl;
    if (this.fixedTypeUrl && requested && requested !== this.fixedTypeUrl)
      throw new StreamError(
        status.INVALID_ARGUMENT,
        `this service serves ${this.fixedTypeUrl}; the request asks for type_url "${requested}"`,
      );
    if (!typeUrl) throw new StreamError(status.INVALID_ARGUMENT, "type_url is required on aggregated (ADS) streams");
    const type = resourceTypeOf(typeUrl);
    if (!type) throw new StreamError(status.INVALID_ARGUMENT, `unknown type_url "${typeUrl}"`);
    return type;
  }

  /** Canonical forms of requested names (R33); on SotW streams a glob collection is refused (R35). */
  protected canonicalNames(names: readonly string[], delta: boolean): readonly string[] {
    return canonicalNames(names, delta, (reason) => new StreamError(status.INVALID_ARGUMENT, reason));
  }

  protected checkNameCount(count: number): void {
    if (count > this.options.maxResourceNamesPerRequest)
      throw new StreamError(
        status.INVALID_ARGUMENT,
        `request names ${count} resources; at most ${this.options.maxResourceNamesPerRequest} are accepted`,
      );
  }

  /** Asks the authorize hook; a promise only when the hook returned one (requests stay synchronous otherwise). */
  protected authorize(node: Node, typeUrl: string, names: readonly string[]): void | Promise<void> {
    if (!this.options.authorize || names.length === 0) return;
    const verdict = this.options.authorize({ identity: this.identity, node, typeUrl, names });
    if (isPromiseLike(verdict)) return Promise.resolve(verdict).then((v) => this.enforce(node, typeUrl, names, v));
    this.enforce(node, typeUrl, names, verdict);
  }

  private enforce(node: Node, typeUrl: string, names: readonly string[], verdict: boolean | string): void {
    if (verdict === true) return;
    const reason = typeof verdict === "string" && verdict ? verdict : "not authorized";
    throw new StreamError(
      status.PERMISSION_DENIED,
      `node "${node.id ?? ""}" may not subscribe to ${typeUrl} [${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""}]: ${reason}`,
    );
  }

  /**
   * (Re)opens the type's watch with its current subscription and knowledge (R8: newest request wins).
   * A response of the type still waiting in the queue was computed from older state: the new watch
   * answers instead.
   */
  protected rearm(state: State, responded: boolean): void {
    state.cancel?.();
    state.cancel = undefined;
    state.watchOpen = false;
    this.pending.delete(state.type.typeUrl);
    if (this.closed || !this.node) return;
    const heldView = state.known.heldView();
    const view: WatchRequest = {
      streamId: this.info.streamId,
      node: this.node,
      typeUrl: state.type.typeUrl,
      wildcard: state.wildcard,
      names: state.names,
      known: state.known,
      responded,
      ...(state.aliases ? { aliases: state.aliases } : {}),
      ...(state.announced ? { announced: state.announced } : {}),
      ...(state.syncedView ? { syncedView: state.syncedView } : {}),
      ...(heldView ? { heldView } : {}),
      ...(state.globs ? { globs: state.globs } : {}),
    };
    state.watchOpen = true;
    state.cancel = this.openWatch(state, view);
  }

  /** Queues a response; per type only the newest waits (a slow client never piles up old states). */
  protected enqueue(response: Response): void {
    if (this.closed) return;
    this.pending.set(response.typeUrl, response);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Responses triggered by one cache update are flushed together, in make-before-break order (R18).
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Called when a type's response was answered (ACK or NACK). */
  protected answered(state: State): void {
    state.awaiting = undefined;
    if (this.pending.size > 0) this.flush();
  }

  /** Runs work outside a request's handling (timers, drain, microtasks): a fault ends this stream only. */
  protected guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.fault(error);
    }
  }

  /** Ends the stream after a fault in a hook, the cache or the server itself. */
  protected fault(error: unknown): void {
    if (this.closed) return;
    if (error instanceof StreamError) this.io.fail(error.code, error.message);
    else this.io.fail(status.INTERNAL, `internal error: ${error instanceof Error ? error.message : String(error)}`);
  }

  /**
   * Reports the client's answer to one response: a NACK when `error_detail` is present (R5), else an ACK,
   * to the cache's tracker and the callbacks.
   */
  protected reportAnswer(event: AckEvent, errorDetail: { code?: number; message?: string } | undefined): void {
    if (errorDetail) {
      this.ttl?.nacked(event.nonce);
      const nack = { ...event, errorCode: errorDetail.code ?? 0, errorMessage: errorDetail.message ?? "" };
      this.options.cache.feedback?.nacked(nack);
      this.notify(this.options.callbacks.onNack, nack);
      return;
    }
    this.ttl?.acked(event.nonce);
    this.scheduleHeartbeats();
    this.options.cache.feedback?.acked(event);
    this.notify(this.options.callbacks.onAck, event);
  }

  /** Tells the cache a response left (before the stream takes it in, so `holds` still shows the past). */
  protected reportSent(
    node: Node,
    response: { typeUrl: string; version: string; resources: readonly PreparedResource[] },
    nonce: string,
    removed: readonly string[],
    delta: boolean,
    holds?: HeldVersions,
  ): void {
    const heldView = holds?.heldView();
    this.options.cache.feedback?.sent({
      streamId: this.info.streamId,
      node,
      typeUrl: response.typeUrl,
      version: response.version,
      nonce,
      resources: response.resources,
      removed,
      delta,
      ...(holds ? { holds } : {}),
      ...(heldView ? { heldView } : {}),
    });
  }

  /** Calls onResponse, if set, for a response written. */
  protected reportResponse(
    node: Node,
    response: { typeUrl: string; version: string; resources: readonly PreparedResource[] },
    nonce: string,
    removed: readonly string[],
    bytes: number,
  ): void {
    if (!this.options.callbacks.onResponse) return;
    this.notify(this.options.callbacks.onResponse, {
      streamId: this.info.streamId,
      node,
      typeUrl: response.typeUrl,
      version: response.version,
      nonce,
      resourceNames: response.resources.map((r) => r.name),
      removedNames: removed,
      bytes,
    });
  }

  /**
   * Calls an observer hook (onResponse, onAck, onNack). A hook that throws ends this stream (through the
   * caller); one that returns a rejecting promise ends it when the promise rejects.
   */
  protected notify<T>(hook: ((info: T) => unknown) | undefined, info: T): void {
    if (!hook) return;
    const result = hook(info);
    if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.fault(error));
  }

  /**
   * Runs the onRequest hook, then `next`: synchronously unless the hook returned a promise, so that a
   * plain ACK costs no promise and no microtask.
   */
  protected afterRequestHook(request: unknown, next: () => void): void | Promise<void> {
    const hook = this.options.callbacks.onRequest;
    if (!hook) return next();
    const result = hook({ ...this.info, request } as Parameters<typeof hook>[0]);
    if (isPromiseLike(result)) return Promise.resolve(result).then(next);
    next();
  }

  protected flush(): void {
    if (this.closed || this.blocked || this.pending.size === 0) return;
    try {
      this.flushOrdered();
    } catch (error) {
      this.fault(error);
    }
  }

  private flushOrdered(): void {
    const ordered = [...this.pending.values()].sort(
      (a, b) => (resourceTypeOf(a.typeUrl)?.orderRank ?? 99) - (resourceTypeOf(b.typeUrl)?.orderRank ?? 99),
    );
    for (const response of ordered) {
      const state = this.types.get(response.typeUrl);
      if (!state) {
        this.pending.delete(response.typeUrl);
        continue;
      }
      if (this.options.ordering === "ack-gated" && this.heldByEarlierType(state)) continue;
      this.pending.delete(response.typeUrl);
      const nonce = this.send(state, response);
      state.awaiting = { nonce, sentAt: Date.now() };
      if (this.closed) return;
      if (this.blocked) return;
    }
  }

  /** Writes a framed message through the transport, remembering backpressure. */
  protected write(framed: Buffer): void {
    if (!this.io.write(framed)) this.blocked = true;
  }

  private heldByEarlierType(state: State): boolean {
    const now = Date.now();
    let earliestDeadline = Number.POSITIVE_INFINITY;
    for (const other of this.types.values()) {
      if (other === state || other.type.orderRank >= state.type.orderRank || !other.awaiting) continue;
      // Envoy answers a cluster (listener) update only once it has warmed, which needs its endpoints
      // (routes): holding those for that answer would stall until the gate timeout.
      if (WARMS_ON.get(state.type.typeUrl) === other.type.typeUrl) continue;
      const deadline = other.awaiting.sentAt + this.options.ackGateTimeoutMs;
      if (deadline > now) earliestDeadline = Math.min(earliestDeadline, deadline);
    }
    if (earliestDeadline === Number.POSITIVE_INFINITY) return false;
    // No deadlock when a client never ACKs: release after the gate timeout.
    if (!this.gateTimer) {
      this.gateTimer = setTimeout(
        () => {
          this.gateTimer = undefined;
          this.flush();
        },
        earliestDeadline - now + 1,
      );
      this.gateTimer.unref();
    }
    return true;
  }

  /** The interval at which a resource with this TTL is refreshed (option heartbeatIntervalMs, default TTL/2). */
  private readonly intervalOf = (ttlMs: number): number =>
    this.options.heartbeatIntervalMs ?? Math.max(1, Math.floor(ttlMs / 2));

  /** Records a heartbeat nonce (bounded: old ones are forgotten, their answers then look stale). */
  protected rememberHeartbeat(nonce: string): void {
    this.heartbeatNonces ??= new Set();
    this.heartbeatNonces.add(nonce);
    if (this.heartbeatNonces.size > 64) {
      const oldest = this.heartbeatNonces.values().next().value;
      if (oldest !== undefined) this.heartbeatNonces.delete(oldest);
    }
  }

  /** (Re)schedules the heartbeat timer for the next due TTL refresh. */
  protected scheduleHeartbeats(): void {
    if (this.closed) return;
    const next = this.ttl?.nextDue(this.intervalOf);
    if (next === undefined) return;
    // A type that cannot take a heartbeat yet (e.g. awaiting an ACK) is retried a little later.
    const floor = Math.max(20, Math.floor((this.ttl?.minInterval(this.intervalOf) ?? 0) / 8));
    const at = Math.max(next, Date.now() + floor);
    if (this.heartbeatTimer && this.heartbeatAt <= at) return;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatAt = at;
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = undefined;
      this.heartbeatAt = Number.POSITIVE_INFINITY;
      this.guard(() => this.runHeartbeats());
    }, at - Date.now());
    this.heartbeatTimer.unref();
  }

  /** Sends one heartbeat per type for the TTL'd resources due for a refresh (R30). */
  private runHeartbeats(): void {
    if (this.closed) return;
    if (this.blocked) {
      this.heartbeatAfterDrain = true;
      return;
    }
    const now = Date.now();
    if (!this.ttl) return;
    for (const [typeUrl, entries] of this.ttl.due(now, this.intervalOf)) {
      const state = this.types.get(typeUrl);
      const live: typeof entries = [];
      for (const entry of entries) {
        if (state && !state.heartbeatsRefused && this.follows(state, entry.name)) live.push(entry);
        else this.ttl.forget(typeUrl, entry.name);
      }
      // A response of the type about to go out, or one not yet accepted, comes first.
      if (!state || live.length === 0 || this.pending.has(typeUrl)) continue;
      if (!this.canHeartbeat(state)) continue;
      const nonce = this.nextNonce();
      this.rememberHeartbeat(nonce);
      this.sendHeartbeat(state, live, nonce);
      for (const entry of live) entry.refreshedAt = now;
      if (this.closed) return;
      if (this.blocked) {
        this.heartbeatAfterDrain = true;
        return;
      }
    }
    this.scheduleHeartbeats();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.gateTimer) clearTimeout(this.gateTimer);
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    for (const state of this.types.values()) state.cancel?.();
    this.pending.clear();
  }
}
