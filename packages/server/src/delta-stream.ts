// The incremental (delta) stream state machine (XDS-RULES R20-R30).

import { status } from "@grpc/grpc-js";
import { type DeltaDiscoveryRequest, type Node, type ResourceType, resourceTypes } from "@xdskit/core";
import { ABSENT, type CancelWatch, type DeltaResponse, type WatchRequest } from "@xdskit/core/watcher";
import { HeldVersions } from "./held-versions.js";
import { globsOf } from "./names.js";
import { FEATURE_RESOURCE_TTL, StreamBase, StreamError, type TypeStateBase } from "./stream-base.js";
import { EMPTY_SUBSCRIPTION, type NamesFingerprint, shareNameSet, toggleName } from "./subscriptions.js";
import {
  encodeDeltaHeartbeat,
  framedDeltaResponse,
  framedMessage,
  GRPC_PREFIX,
  type HeartbeatEntry,
  sharedDeltaEncoding,
} from "./wire.js";

interface DeltaTypeState extends TypeStateBase {
  /**
   * Replaced, never mutated, when the subscription changes: what the client holds is kept relative to it, and
   * streams subscribing to the same names share one set (subscriptions.ts).
   */
  names: ReadonlySet<string>;
  /** Fingerprint of `names`, kept as names come and go. */
  readonly fingerprint: NamesFingerprint;
  everRequested: boolean;
  /** Versions of responses not yet answered, by nonce (bounded). */
  readonly inflight: Map<string, string>;
  readonly aliases: Map<string, string>;
}

const MAX_INFLIGHT = 16;

/**
 * Version marker in `known` for a name a wildcard client unsubscribed from (R23): the client no longer
 * knows whether to keep it, so the cache sends it again (in `resources`) or reports it removed.
 */
const UNSURE = "\u0000unsure";

export class DeltaStream extends StreamBase<DeltaTypeState, DeltaResponse> {
  /** The client announced TTL support: resources it accepted with a TTL get heartbeats (R30). */
  private heartbeats = false;

  /** Handles one request; returns a promise only while an async hook (authorize, onRequest) is awaited. */
  handle(request: DeltaDiscoveryRequest): void | Promise<void> {
    const node = this.acceptDeltaNode(request.node);
    const type = this.typeUrlOf(request.typeUrl);
    this.checkNameCount(
      (request.resourceNamesSubscribe?.length ?? 0) +
        (request.resourceNamesUnsubscribe?.length ?? 0) +
        Object.keys(request.initialResourceVersions ?? {}).length,
    );
    const subscribe = this.canonicalNames(request.resourceNamesSubscribe ?? [], true);
    const unsubscribe = this.canonicalNames(request.resourceNamesUnsubscribe ?? [], true);
    const initial: Record<string, string> = {};
    for (const [name, v] of Object.entries(request.initialResourceVersions ?? {}))
      initial[this.canonicalNames([name], true)[0] ?? name] = v;
    const first = !this.types.get(type.typeUrl)?.everRequested;
    const legacyWildcard = first && subscribe.length === 0 && unsubscribe.length === 0;
    const next = () => this.apply(request, node, type, subscribe, unsubscribe, initial, first, legacyWildcard);
    const authorized = this.authorize(node, type.typeUrl, legacyWildcard ? ["*"] : subscribe);
    if (authorized) return authorized.then(() => this.afterRequestHook(request, next));
    return this.afterRequestHook(request, next);
  }

  private apply(
    request: DeltaDiscoveryRequest,
    node: Node,
    type: ResourceType,
    subscribe: readonly string[],
    unsubscribe: readonly string[],
    initial: Record<string, string>,
    first: boolean,
    legacyWildcard: boolean,
  ): void {
    if (this.closed) return;
    let state = this.types.get(type.typeUrl);
    if (!state) {
      state = this.newState(type);
      this.types.set(type.typeUrl, state);
    }

    // R20: ACK or NACK by nonce and error_detail; R21: the subscription changes apply whatever the nonce.
    const nonce = request.responseNonce ?? "";
    const version = nonce ? state.inflight.get(nonce) : undefined;
    if (version !== undefined) {
      state.inflight.delete(nonce);
      this.reportAnswer(
        { streamId: this.info.streamId, node, typeUrl: type.typeUrl, nonce, version },
        request.errorDetail,
      );
      if (state.awaiting?.nonce === nonce) this.answered(state);
    } else if (nonce && this.heartbeatNonces?.delete(nonce)) {
      // The answer to a heartbeat: no configuration was applied. A client rejecting heartbeats gets no more.
      if (request.errorDetail) state.heartbeatsRefused = true;
    }

    if (first || subscribe.length > 0 || unsubscribe.length > 0) state.syncedView = undefined;
    if (first) {
      state.everRequested = true;
      // R26: what the client already has is not resent.
      for (const [name, v] of Object.entries(initial)) state.known.set(name, v);
      // ...except resources with a TTL: the client's TTL clock runs; this stream must restart and refresh it.
      if (this.heartbeats && Object.keys(initial).length > 0) state.announced = new Set(Object.keys(initial));
      if (legacyWildcard) state.wildcard = true;
    }
    let changed = first;
    // The new subscription, copied on the first change (the old set may stand for what the client holds).
    let names: Set<string> | undefined;
    const editable = (current: ReadonlySet<string>) => {
      names ??= new Set(current);
      return names;
    };
    for (const name of subscribe) {
      if (name === "*") {
        changed ||= !state.wildcard;
        state.wildcard = true;
        continue;
      }
      if (!(names ?? state.names).has(name)) {
        editable(state.names).add(name);
        toggleName(state.fingerprint, name);
      }
      // R22: subscribing again resends, except what the first request announced it has (R26).
      if (!(first && name in initial)) {
        state.known.delete(name);
        state.aliases.delete(name);
      }
      changed = true;
    }
    for (const name of unsubscribe) {
      if (name === "*") {
        // R27: unsubscribing "*" drops the wildcard.
        changed ||= state.wildcard;
        state.wildcard = false;
        continue;
      }
      // R23: unsubscribing what is not subscribed is ignored.
      if (!(names ?? state.names).has(name)) continue;
      editable(state.names).delete(name);
      toggleName(state.fingerprint, name);
      state.aliases.delete(name);
      if (state.wildcard) {
        // R23: the name may or may not be in the wildcard; the client cannot tell: send it or its removal.
        state.known.set(name, UNSURE);
        changed = true;
      } else {
        state.known.delete(name);
        this.ttl?.forget(type.typeUrl, name);
      }
    }
    if (names) state.names = shareNameSet(names, state.fingerprint);
    if (subscribe.length > 0 || unsubscribe.length > 0) state.globs = globsOf(state.names);
    // The subscription a stream accumulates is bounded like one request's name list.
    if (state.names.size > this.options.maxResourceNamesPerRequest)
      throw new StreamError(
        status.INVALID_ARGUMENT,
        `the ${type.kind} subscription holds ${state.names.size} names; at most ${this.options.maxResourceNamesPerRequest} are accepted`,
      );
    // What the client holds outside its subscription (after the wildcard was dropped, or what an alias no
    // longer resolves to) is forgotten. A plain ACK changes neither: it costs O(1), not O(subscription).
    if (!state.wildcard && (subscribe.length > 0 || unsubscribe.length > 0 || state.aliases.size > 0)) {
      const targets = new Set(state.aliases.values());
      for (const name of state.known.keys()) {
        if (state.names.has(name) || targets.has(name)) continue;
        state.known.delete(name);
        this.ttl?.forget(type.typeUrl, name);
      }
    }
    // A new subscription set needs a new watch even when nothing is to be sent (the open one has the old set).
    // A plain ACK needs none: the watch reopened when the response went out (see send).
    if (changed || names || !state.watchOpen) this.rearm(state, true);
  }

  private acceptDeltaNode(node: Node | undefined): Node {
    const first = !this.node;
    const accepted = this.acceptNode(node);
    if (first) this.heartbeats = accepted.clientFeatures?.includes(FEATURE_RESOURCE_TTL) ?? false;
    return accepted;
  }

  private newState(type: ResourceType): DeltaTypeState {
    return {
      type,
      wildcard: false,
      names: EMPTY_SUBSCRIPTION.names,
      fingerprint: { hi: 0, lo: 0 },
      known: new HeldVersions(),
      watchOpen: false,
      everRequested: false,
      inflight: new Map(),
      aliases: new Map(),
    };
  }

  protected openWatch(state: DeltaTypeState, view: WatchRequest): CancelWatch {
    return this.options.cache.watchDelta(view, (response) => {
      state.watchOpen = false;
      this.enqueue(response);
    });
  }

  protected send(state: DeltaTypeState, response: DeltaResponse): string {
    const node = this.node;
    if (!node) throw new Error("send before node");
    const shared = this.sharedEncoding(sharedDeltaEncoding(response));
    const nonce = shared?.nonce ?? this.nextNonce();
    const bytes = shared?.bytes ?? framedDeltaResponse(response, nonce);
    this.write(bytes);
    state.inflight.set(nonce, response.version);
    if (state.inflight.size > MAX_INFLIGHT) {
      const oldest = state.inflight.keys().next().value;
      if (oldest !== undefined) state.inflight.delete(oldest);
    }
    // Before the stream takes in the response: the tracker reads what the client held until now.
    this.reportSent(node, response, nonce, response.removed, true, state.known);
    // Kept relative to the view (held-versions.ts): a client in sync costs nothing per resource.
    if (response.view) state.known.takeIn(response.resources, response.view, state.wildcard ? undefined : state.names);
    else for (const r of response.resources) state.known.set(r.name, r.version);
    state.announced = undefined;
    state.syncedView = response.view;
    for (const name of response.removed) {
      // R24: remember a subscribed name was reported absent, so it is not reported again.
      if (state.names.has(name)) state.known.set(name, ABSENT);
      else state.known.delete(name);
    }
    // R28: what each alias was answered with.
    for (const [name, aliases] of response.aliases ?? []) for (const alias of aliases) state.aliases.set(alias, name);
    for (const alias of response.unresolvedAliases ?? []) state.aliases.set(alias, "");
    if (this.heartbeats && state.type !== resourceTypes.VirtualHost)
      this.ttlTracker().responseSent(response.typeUrl, nonce, response.resources, response.removed, false, Date.now());
    this.reportResponse(node, response, nonce, response.removed, bytes.length - GRPC_PREFIX);
    // Watch again right away: delta needs no ACK before the next change (the ack gate still applies).
    this.rearm(state, true);
    return nonce;
  }

  protected follows(state: DeltaTypeState, name: string): boolean {
    if (state.wildcard || state.names.has(name)) return true;
    for (const target of state.aliases.values()) if (target === name) return true;
    return false;
  }

  protected canHeartbeat(): boolean {
    // Per-resource versions: a resource is only tracked while no newer response carrying it is unanswered.
    return true;
  }

  protected sendHeartbeat(state: DeltaTypeState, entries: readonly HeartbeatEntry[], nonce: string): void {
    this.write(framedMessage(encodeDeltaHeartbeat(state.type.typeUrl, entries, nonce)));
  }
}
