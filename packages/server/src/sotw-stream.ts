// The state-of-the-world stream state machine (XDS-RULES R1-R19).
import {
  type CancelWatch,
  type Cluster,
  type DiscoveryRequest,
  edsNameOf,
  type Listener,
  type PreparedResource,
  type ResourceType,
  rdsNamesOf,
  resourceTypes,
  type SotwResponse,
  type WatchRequest,
} from "@xdskit/core";
import { StreamBase, type TypeStateBase } from "./stream-base.js";
import { encodeSotwResponse } from "./wire.js";

interface SotwTypeState extends TypeStateBase {
  /** The stream's first request of this type was empty: a legacy wildcard (R10). */
  legacyWildcard: boolean;
  everRequested: boolean;
  responded: boolean;
  /** Nonce and version of the newest response sent (R4, R7). */
  lastNonce?: string;
  lastVersion: string;
  /** R16: the version a reconnecting client says it has, until the first response is decided. */
  resumeVersion?: string;
}

export class SotwStream extends StreamBase<SotwTypeState, SotwResponse> {
  async handle(request: DiscoveryRequest): Promise<void> {
    const node = this.acceptNode(request.node);
    const type = this.typeUrlOf(request.typeUrl);
    const names = request.resourceNames ?? [];
    this.checkNameCount(names.length);
    let state = this.types.get(type.typeUrl);
    const nonce = request.responseNonce ?? "";

    // R7: a request answering an older response than the newest one sent is stale: ignore it.
    if (state?.lastNonce !== undefined && nonce !== "" && nonce !== state.lastNonce) return;

    await this.authorize(node, type.typeUrl, names.length === 0 && !state?.everRequested ? ["*"] : names);
    await this.options.callbacks.onRequest?.({ ...this.info, request });
    if (this.closed) return;
    if (!state) {
      state = this.newState(type);
      this.types.set(type.typeUrl, state);
    }

    // R4/R5: an answer to the newest response; NACK iff error_detail is present.
    if (nonce !== "" && nonce === state.lastNonce) {
      const event = { streamId: this.info.streamId, node, typeUrl: type.typeUrl, nonce, version: state.lastVersion };
      if (request.errorDetail) {
        const nack = {
          ...event,
          errorCode: request.errorDetail.code ?? 0,
          errorMessage: request.errorDetail.message ?? "",
        };
        this.options.cache.feedback?.nacked(nack);
        this.options.callbacks.onNack?.(nack);
      } else {
        this.options.cache.feedback?.acked(event);
        this.options.callbacks.onAck?.(event);
      }
      this.answered(state);
    } else if (!state.responded && state.lastNonce === undefined && request.versionInfo) {
      state.resumeVersion = request.versionInfo;
    }

    this.updateSubscription(state, names);
    this.rearm(state, state.responded);
  }

  private newState(type: ResourceType): SotwTypeState {
    return {
      type,
      wildcard: false,
      legacyWildcard: false,
      names: new Set(),
      known: new Map(),
      watchOpen: false,
      everRequested: false,
      responded: false,
      lastVersion: "",
    };
  }

  /** R9-R11: resource_names is the full subscription. */
  private updateSubscription(state: SotwTypeState, names: readonly string[]): void {
    const first = !state.everRequested;
    state.everRequested = true;
    if (names.length === 0) {
      if (first) state.legacyWildcard = true;
      // An empty list keeps a legacy wildcard; after explicit names it unsubscribes from everything (R10).
      state.wildcard = state.legacyWildcard;
      if (!state.wildcard) {
        state.names.clear();
        state.known.clear();
      }
      return;
    }
    const wasWildcard = state.wildcard;
    state.legacyWildcard = false;
    state.wildcard = names.includes("*");
    const next = new Set(names.filter((n) => n !== "*"));
    // The client drops what it unsubscribed from by itself; forget it so a later re-subscribe resends.
    if (!state.wildcard) for (const name of state.known.keys()) if (!next.has(name)) state.known.delete(name);
    // R9: a newly added name is sent even if it was sent before.
    // (Under a wildcard the client already had every name, so narrowing to names adds nothing.)
    if (!wasWildcard) for (const name of next) if (!state.names.has(name)) state.known.delete(name);
    state.names.clear();
    for (const name of next) state.names.add(name);
  }

  protected openWatch(state: SotwTypeState, view: WatchRequest): CancelWatch {
    return this.options.cache.watchSotw(view, (response) => {
      state.watchOpen = false;
      // R16: a reconnecting wildcard client already has this version: record it, send nothing.
      if (state.resumeVersion !== undefined && !state.responded) {
        const resume = state.resumeVersion;
        state.resumeVersion = undefined;
        if (state.wildcard && response.version === resume) {
          this.remember(state, response);
          state.responded = true;
          state.lastVersion = response.version;
          queueMicrotask(() => this.rearm(state, true));
          return;
        }
      }
      this.enqueue(response);
    });
  }

  protected send(state: SotwTypeState, response: SotwResponse, nonce: string): Uint8Array {
    const node = this.node;
    if (!node) throw new Error("send before node");
    const previous = new Map(state.known);
    const bytes = encodeSotwResponse(response, nonce);
    this.write(bytes);
    state.lastNonce = nonce;
    state.lastVersion = response.version;
    state.responded = true;
    this.remember(state, response);
    const names = response.resources.map((r) => r.name);
    this.options.cache.feedback?.sent({
      streamId: this.info.streamId,
      node,
      typeUrl: response.typeUrl,
      version: response.version,
      nonce,
      resources: response.resources.map((r) => ({ name: r.name, version: r.version })),
      removed: state.type.sotwAllRequired ? [...previous.keys()].filter((n) => !state.known.has(n)) : [],
      delta: false,
    });
    this.options.callbacks.onResponse?.({
      streamId: this.info.streamId,
      node,
      typeUrl: response.typeUrl,
      version: response.version,
      nonce,
      resourceNames: names,
      removedNames: [],
      bytes: bytes.length,
    });
    this.warm(response.resources, previous);
    return bytes;
  }

  private remember(state: SotwTypeState, response: SotwResponse): void {
    if (state.type.sotwAllRequired) state.known.clear();
    for (const r of response.resources) state.known.set(r.name, r.version);
  }

  /**
   * R17: a changed cluster re-requests its endpoints and a changed listener its routes, with the same
   * names, so the client would wait forever for an unchanged resource: forget that the client has them.
   */
  private warm(resources: readonly PreparedResource[], previous: ReadonlyMap<string, string>): void {
    const changed = resources.filter((r) => previous.has(r.name) && previous.get(r.name) !== r.version);
    if (changed.length === 0) return;
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
    const state = dependent && this.types.get(dependent.typeUrl);
    if (!state || names.length === 0) return;
    let forgot = false;
    for (const name of names) forgot = state.known.delete(name) || forgot;
    // Re-evaluate only if its watch is open (not while a response of that type awaits its answer).
    if (forgot && state.watchOpen) this.rearm(state, state.responded);
  }
}
