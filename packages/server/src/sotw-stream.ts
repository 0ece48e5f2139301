// The state-of-the-world stream state machine (XDS-RULES R1-R19, R29-R31).
import {
  type Cluster,
  type DiscoveryRequest,
  type Listener,
  type Node,
  type PreparedResource,
  type ResourceType,
  resourceTypes,
} from "@xdskit/core";
import { type CancelWatch, edsNameOf, rdsNamesOf, type SotwResponse, type WatchRequest } from "@xdskit/core/watcher";
import { assertSotwType } from "./delta-only.js";
import { HeldVersions, namesOf } from "./held-versions.js";
import { digestOfRun, resourceNamesRun } from "./request-decoder.js";
import { FEATURE_RESOURCE_TTL, FEATURES_RESOURCE_IN_SOTW, StreamBase, type TypeStateBase } from "./stream-base.js";
import {
  EMPTY_SUBSCRIPTION,
  repeats,
  type Subscription,
  sharedSubscription,
  shareSubscription,
  subscriptionOf,
} from "./subscriptions.js";
import {
  encodeSotwHeartbeat,
  framedMessage,
  framedSotwResponse,
  GRPC_PREFIX,
  type HeartbeatEntry,
  sharedSotwEncoding,
} from "./wire.js";

interface SotwTypeState extends TypeStateBase {
  /** Replaced, never mutated: it may be shared with other streams (subscriptions.ts). */
  names: ReadonlySet<string>;
  /** The stream's first request of this type was empty: a legacy wildcard (R10). */
  legacyWildcard: boolean;
  everRequested: boolean;
  responded: boolean;
  /** The subscription of the newest request that set it (its bytes tell ACKs that repeat it). */
  subscription?: Subscription;
  /** The nonce of the newest response the client already answered (a later request with it is no new answer). */
  answeredNonce?: string;
  /** Nonce and version of the newest response sent (R4, R7). */
  lastNonce?: string;
  lastVersion: string;
  /** R16: the version a reconnecting client says it has, until the first response is decided. */
  resumeVersion?: string;
  /** The newest response sent (heartbeats aside), for clients that take TTLs. */
  lastResponse?: SotwResponse;
  /** The newest response the client accepted: what heartbeats refresh (R30). */
  accepted?: SotwResponse;
}

export class SotwStream extends StreamBase<SotwTypeState, SotwResponse> {
  /** R31: the client unwraps discovery.v3.Resource and honours TTLs: TTL'd resources go out wrapped. */
  private ttlWrap = false;

  /** Handles one request; returns a promise only while an async hook (authorize, onRequest) is awaited. */
  handle(request: DiscoveryRequest): void | Promise<void> {
    const node = this.acceptSotwNode(request.node);
    const type = this.typeUrlOf(request.typeUrl);
    assertSotwType(type); // R35: list collections are delta-only
    const state = this.types.get(type.typeUrl);
    const nonce = request.responseNonce ?? "";

    // R7: a request answering an older response than the newest one sent is stale: ignore it.
    if (state?.lastNonce !== undefined && nonce !== "" && nonce !== state.lastNonce) return;

    // Every ACK repeats the subscription: when its bytes are those of the previous request, the names are
    // neither decoded nor re-checked.
    const run = resourceNamesRun(request);
    const repeated = state?.everRequested === true && repeats(state.subscription, run);
    let subscription: Subscription | undefined;
    const next = () => this.apply(request, node, type, nonce, subscription);
    if (!repeated) {
      // Another stream subscribed with the same bytes: share its names (checked already, unless a hook must see them).
      const digest = run ? digestOfRun(run) : undefined;
      const shared = digest !== undefined && !this.options.authorize ? sharedSubscription(digest) : undefined;
      if (shared) {
        this.checkNameCount(shared.listed);
        subscription = shared;
      } else {
        this.checkNameCount(request.resourceNames?.length ?? 0);
        const names = this.canonicalNames(request.resourceNames ?? [], false);
        subscription = subscriptionOf(names, run);
        if (digest !== undefined) subscription = shareSubscription(digest, subscription);
        const authorized = this.authorize(
          node,
          type.typeUrl,
          names.length === 0 && !state?.everRequested ? ["*"] : names,
        );
        if (authorized) return authorized.then(() => this.afterRequestHook(request, next));
      }
    }
    return this.afterRequestHook(request, next);
  }

  private apply(
    request: DiscoveryRequest,
    node: Node,
    type: ResourceType,
    nonce: string,
    subscription: Subscription | undefined,
  ): void {
    if (this.closed) return;
    let state = this.types.get(type.typeUrl);
    if (!state) {
      state = this.newState(type);
      this.types.set(type.typeUrl, state);
    }

    // R4/R5: an answer to the newest response; NACK iff error_detail is present.
    if (nonce !== "" && nonce === state.lastNonce && this.heartbeatNonces?.delete(nonce)) {
      // The answer to a heartbeat: no configuration was applied. A client rejecting heartbeats gets no more.
      if (request.errorDetail) state.heartbeatsRefused = true;
    } else if (nonce !== "" && nonce === state.lastNonce && state.answeredNonce !== nonce) {
      state.answeredNonce = nonce;
      // What the client accepted is what heartbeats may refresh (set before they are scheduled).
      if (!request.errorDetail && state.lastResponse) state.accepted = state.lastResponse;
      const event = { streamId: this.info.streamId, node, typeUrl: type.typeUrl, nonce, version: state.lastVersion };
      this.reportAnswer(event, request.errorDetail);
      this.answered(state);
    } else if (!state.responded && state.lastNonce === undefined && request.versionInfo) {
      state.resumeVersion = request.versionInfo;
    }

    if (subscription) {
      this.updateSubscription(state, subscription);
      state.subscription = subscription;
    }
    this.rearm(state, state.responded);
  }

  private acceptSotwNode(node: Node | undefined): Node {
    const first = !this.node;
    const accepted = this.acceptNode(node);
    if (first) {
      const features = accepted.clientFeatures ?? [];
      this.ttlWrap =
        features.includes(FEATURE_RESOURCE_TTL) && FEATURES_RESOURCE_IN_SOTW.some((f) => features.includes(f));
    }
    return accepted;
  }

  private newState(type: ResourceType): SotwTypeState {
    return {
      type,
      wildcard: false,
      legacyWildcard: false,
      names: EMPTY_SUBSCRIPTION.names,
      known: new HeldVersions(),
      watchOpen: false,
      everRequested: false,
      responded: false,
      lastVersion: "",
    };
  }

  /** R9-R11: resource_names is the full subscription. */
  private updateSubscription(state: SotwTypeState, subscription: Subscription): void {
    if (state.everRequested && sameSubscription(state, subscription)) return;
    state.syncedView = undefined;
    const first = !state.everRequested;
    state.everRequested = true;
    if (subscription.listed === 0) {
      if (first) state.legacyWildcard = true;
      // An empty list keeps a legacy wildcard; after explicit names it unsubscribes from everything (R10).
      state.wildcard = state.legacyWildcard;
      if (!state.wildcard) {
        state.names = EMPTY_SUBSCRIPTION.names;
        state.known.clear();
      }
      return;
    }
    const wasWildcard = state.wildcard;
    const next = subscription.names;
    state.legacyWildcard = false;
    state.wildcard = subscription.wildcard;
    // The client drops what it unsubscribed from by itself; forget it so a later re-subscribe resends.
    if (!state.wildcard) for (const name of state.known.keys()) if (!next.has(name)) state.known.delete(name);
    // R9: a newly added name is sent even if it was sent before.
    // (Under a wildcard the client already had every name, so narrowing to names adds nothing.)
    if (!wasWildcard) for (const name of next) if (!state.names.has(name)) state.known.delete(name);
    state.names = next;
  }

  protected openWatch(state: SotwTypeState, view: WatchRequest): CancelWatch {
    return this.options.cache.watchSotw(view, (response) => {
      state.watchOpen = false;
      // R16: a reconnecting wildcard client already has this version: record it, send nothing.
      if (state.resumeVersion !== undefined && !state.responded) {
        const resume = state.resumeVersion;
        state.resumeVersion = undefined;
        // Resources with a TTL are resent all the same: this stream must refresh them (R30).
        const refresh = this.ttlWrap && response.resources.some((r) => r.ttlMs !== undefined);
        if (state.wildcard && response.version === resume && !refresh) {
          this.remember(state, response);
          state.responded = true;
          state.lastVersion = response.version;
          queueMicrotask(() => this.guard(() => this.rearm(state, true)));
          return;
        }
      }
      this.enqueue(response);
    });
  }

  protected send(state: SotwTypeState, response: SotwResponse): string {
    const node = this.node;
    if (!node) throw new Error("send before node");
    const shared = this.sharedEncoding(sharedSotwEncoding(response, this.ttlWrap));
    const nonce = shared?.nonce ?? this.nextNonce();
    const bytes = shared?.bytes ?? framedSotwResponse(response, nonce, this.ttlWrap);
    this.write(bytes);
    // Before the stream takes in the response: what it changes for the client (R17) and what it removes (R12).
    const replaced = WARMS.has(state.type) ? replacedBy(state.known, response) : [];
    const removed = state.type.sotwAllRequired ? removedBy(state.known, response) : [];
    this.reportSent(node, response, nonce, removed, false, state.known);
    state.lastNonce = nonce;
    state.lastVersion = response.version;
    // Kept only for heartbeats (TTL clients): otherwise a stream would pin its last response's bytes.
    if (this.ttlWrap) state.lastResponse = response;
    state.responded = true;
    this.remember(state, response);
    if (this.ttlWrap)
      this.ttlTracker().responseSent(
        response.typeUrl,
        nonce,
        response.resources,
        [],
        state.type.sotwAllRequired,
        Date.now(),
      );
    this.reportResponse(node, response, nonce, removed, bytes.length - GRPC_PREFIX);
    if (replaced.length > 0) this.warm(replaced);
    return nonce;
  }

  protected follows(state: SotwTypeState, name: string): boolean {
    return state.wildcard || state.names.has(name);
  }

  /** A heartbeat names the version the client accepted last; only while no newer response awaits its answer. */
  protected canHeartbeat(state: SotwTypeState): boolean {
    return state.awaiting === undefined && state.accepted !== undefined;
  }

  /**
   * R30/R31: a response at the client's accepted version whose TTL'd resources are wrapped Resources
   * without body. LDS/CDS clients replace their whole set with every response (R12) and pass only the
   * non-heartbeat resources on, so for those types the accepted response is resent whole instead.
   */
  protected sendHeartbeat(state: SotwTypeState, entries: readonly HeartbeatEntry[], nonce: string): void {
    const accepted = state.accepted;
    if (!accepted) return;
    if (state.type.sotwAllRequired) {
      this.write(framedSotwResponse(accepted, nonce, true));
      this.ttl?.refreshedAll(state.type.typeUrl, Date.now());
    } else {
      this.write(framedMessage(encodeSotwHeartbeat(state.type.typeUrl, accepted.version, entries, nonce)));
    }
    state.lastNonce = nonce;
  }

  private remember(state: SotwTypeState, response: SotwResponse): void {
    const { view } = response;
    const known = state.known;
    const scope = state.wildcard ? undefined : state.names;
    if (!view) {
      if (state.type.sotwAllRequired) known.clear();
      for (const r of response.resources) known.set(r.name, r.version);
    } else if (!state.type.sotwAllRequired) {
      known.takeIn(response.resources, view, scope);
    } else if (state.wildcard && response.resources.length === view.resources.size) {
      // The client now holds exactly this response (R12): here, all of the view.
      known.adopt(view);
    } else {
      known.clear();
      known.takeIn(response.resources, view, scope);
    }
    state.syncedView = view;
  }

  /**
   * R17: a changed cluster re-requests its endpoints and a changed listener its routes, with the same
   * names, so the client would wait forever for an unchanged resource: forget that the client has them.
   */
  private warm(changed: readonly PreparedResource[]): void {
    const { dependent, names } = dependentsOf(changed);
    const state = dependent && this.types.get(dependent.typeUrl);
    if (!state || names.length === 0) return;
    // What the response about to go out carries needs no forgetting: the client gets it anyway.
    const pending = this.pending.get(state.type.typeUrl);
    let forgot = false;
    for (const name of pending ? notCarried(names, pending) : names) forgot = state.known.delete(name) || forgot;
    if (forgot) state.syncedView = undefined;
    // Re-evaluate only if its watch is open (not while a response of that type awaits its answer).
    if (forgot && state.watchOpen) this.rearm(state, state.responded);
  }
}

/** Whether a request repeats the stream's subscription exactly (every ACK does): nothing to update. */
function sameSubscription(state: SotwTypeState, subscription: Subscription): boolean {
  if (subscription.listed === 0) return state.legacyWildcard && state.wildcard;
  if (state.legacyWildcard || subscription.wildcard !== state.wildcard) return false;
  if (subscription.names === state.names) return true;
  if (subscription.names.size !== state.names.size) return false;
  for (const name of subscription.names) if (!state.names.has(name)) return false;
  return true;
}

// Streams in the same state get the same answers: when a whole type changes, these are computed once per
// update, not once per stream (results keyed by immutable objects, held weakly).

const replacedCache = new WeakMap<object, WeakMap<readonly PreparedResource[], readonly PreparedResource[]>>();

/** The response's resources the client holds at another version (R17). */
function replacedBy(known: HeldVersions, response: SotwResponse): readonly PreparedResource[] {
  const held = known.heldView();
  // Holding exactly an immutable view, the answer depends only on that view and the response.
  if (!held || held.scope) return response.resources.filter((r) => isReplaced(known, r));
  let byResponse = replacedCache.get(held.view);
  if (!byResponse) {
    byResponse = new WeakMap();
    replacedCache.set(held.view, byResponse);
  }
  let replaced = byResponse.get(response.resources);
  if (!replaced) {
    replaced = response.resources.filter((r) => isReplaced(known, r));
    byResponse.set(response.resources, replaced);
  }
  return replaced;
}

const dependentsCache = new WeakMap<readonly PreparedResource[], { dependent?: ResourceType; names: string[] }>();

/** The type and names a client asks for again once these clusters (endpoints) or listeners (routes) changed. */
function dependentsOf(changed: readonly PreparedResource[]): { dependent?: ResourceType; names: string[] } {
  let out = dependentsCache.get(changed);
  if (out) return out;
  let dependent: ResourceType | undefined;
  const names: string[] = [];
  for (const r of changed) {
    if (r.type === resourceTypes.Cluster) {
      dependent = resourceTypes.ClusterLoadAssignment;
      const name = edsNameOf(r.resource as Cluster);
      if (name) names.push(name);
    } else if (r.type === resourceTypes.Listener) {
      dependent = resourceTypes.RouteConfiguration;
      names.push(...rdsNamesOf(r.resource as Listener));
    }
  }
  out = dependent ? { dependent, names } : { names };
  dependentsCache.set(changed, out);
  return out;
}

const notCarriedCache = new WeakMap<readonly string[], WeakMap<readonly PreparedResource[], readonly string[]>>();

/** The names a response does not carry. */
function notCarried(names: readonly string[], response: SotwResponse): readonly string[] {
  let byResponse = notCarriedCache.get(names);
  if (!byResponse) {
    byResponse = new WeakMap();
    notCarriedCache.set(names, byResponse);
  }
  let out = byResponse.get(response.resources);
  if (!out) {
    const carried = namesOf(response.resources);
    out = names.filter((name) => !carried.has(name));
    byResponse.set(response.resources, out);
  }
  return out;
}

/** Types whose changed resources make the client ask again for others (R17). */
const WARMS = new Set<ResourceType>([resourceTypes.Cluster, resourceTypes.Listener]);

/** The client holds another version of this resource. */
function isReplaced(known: ReadonlyMap<string, string>, resource: PreparedResource): boolean {
  const held = known.get(resource.name);
  return held !== undefined && held !== resource.version;
}

/** Names a full-state response leaves out of what the client holds: the client deletes them (R12). */
function removedBy(known: HeldVersions, response: SotwResponse): string[] {
  if (known.size === 0) return [];
  // A full-state response computed from a view holds the view's resources among the subscribed names, and
  // the client holds only subscribed names: what it loses is what it holds and the view lacks.
  if (response.view) return known.notIn(response.view);
  const inResponse = new Set(response.resources.map((r) => r.name));
  const removed: string[] = [];
  for (const name of known.keys()) if (!inResponse.has(name)) removed.push(name);
  return removed;
}
