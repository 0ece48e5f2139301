// The incremental (delta) stream state machine (XDS-RULES R20-R27).
import {
  ABSENT,
  type CancelWatch,
  type DeltaDiscoveryRequest,
  type DeltaResponse,
  type ResourceType,
  type WatchRequest,
} from "@xdskit/core";
import { StreamBase, type TypeStateBase } from "./stream-base.js";
import { encodeDeltaResponse } from "./wire.js";

interface DeltaTypeState extends TypeStateBase {
  everRequested: boolean;
  /** Versions of responses not yet answered, by nonce (bounded). */
  readonly inflight: Map<string, string>;
}

const MAX_INFLIGHT = 16;

export class DeltaStream extends StreamBase<DeltaTypeState, DeltaResponse> {
  async handle(request: DeltaDiscoveryRequest): Promise<void> {
    const node = this.acceptNode(request.node);
    const type = this.typeUrlOf(request.typeUrl);
    const subscribe = request.resourceNamesSubscribe ?? [];
    const unsubscribe = request.resourceNamesUnsubscribe ?? [];
    const initial = request.initialResourceVersions ?? {};
    this.checkNameCount(subscribe.length + unsubscribe.length + Object.keys(initial).length);
    let state = this.types.get(type.typeUrl);
    const first = !state?.everRequested;
    const legacyWildcard = first && subscribe.length === 0 && unsubscribe.length === 0;
    await this.authorize(node, type.typeUrl, legacyWildcard ? ["*"] : subscribe);
    await this.options.callbacks.onRequest?.({ ...this.info, request });
    if (this.closed) return;
    if (!state) {
      state = this.newState(type);
      this.types.set(type.typeUrl, state);
    }

    // R20: ACK or NACK by nonce and error_detail; R21: the subscription changes apply whatever the nonce.
    const nonce = request.responseNonce ?? "";
    const version = nonce ? state.inflight.get(nonce) : undefined;
    if (version !== undefined) {
      state.inflight.delete(nonce);
      const event = { streamId: this.info.streamId, node, typeUrl: type.typeUrl, nonce, version };
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
      if (state.awaiting?.nonce === nonce) this.answered(state);
    }

    if (first) {
      state.everRequested = true;
      // R26: what the client already has is not resent.
      for (const [name, v] of Object.entries(initial)) state.known.set(name, v);
      if (legacyWildcard) state.wildcard = true;
    }
    let changed = first;
    for (const name of subscribe) {
      if (name === "*") {
        changed ||= !state.wildcard;
        state.wildcard = true;
        continue;
      }
      state.names.add(name);
      // R22: subscribing again resends, except what the first request announced it has (R26).
      if (!(first && name in initial)) state.known.delete(name);
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
      if (!state.names.delete(name)) continue;
      // A wildcard client gets the resource back (R23); otherwise the client just drops it.
      state.known.delete(name);
      changed ||= state.wildcard;
    }
    if (!state.wildcard) {
      for (const name of state.known.keys()) if (!state.names.has(name)) state.known.delete(name);
    }
    if (changed || version !== undefined || !state.watchOpen) this.rearm(state, true);
  }

  private newState(type: ResourceType): DeltaTypeState {
    return {
      type,
      wildcard: false,
      names: new Set(),
      known: new Map(),
      watchOpen: false,
      everRequested: false,
      inflight: new Map(),
    };
  }

  protected openWatch(state: DeltaTypeState, view: WatchRequest): CancelWatch {
    return this.options.cache.watchDelta(view, (response) => {
      state.watchOpen = false;
      this.enqueue(response);
    });
  }

  protected send(state: DeltaTypeState, response: DeltaResponse, nonce: string): Uint8Array {
    const node = this.node;
    if (!node) throw new Error("send before node");
    const bytes = encodeDeltaResponse(response, nonce);
    this.write(bytes);
    state.inflight.set(nonce, response.version);
    if (state.inflight.size > MAX_INFLIGHT) {
      const oldest = state.inflight.keys().next().value;
      if (oldest !== undefined) state.inflight.delete(oldest);
    }
    for (const r of response.resources) state.known.set(r.name, r.version);
    for (const name of response.removed) {
      // R24: remember a subscribed name was reported absent, so it is not reported again.
      if (state.names.has(name)) state.known.set(name, ABSENT);
      else state.known.delete(name);
    }
    this.options.cache.feedback?.sent({
      streamId: this.info.streamId,
      node,
      typeUrl: response.typeUrl,
      version: response.version,
      nonce,
      resources: response.resources.map((r) => ({ name: r.name, version: r.version })),
      removed: response.removed,
      delta: true,
    });
    this.options.callbacks.onResponse?.({
      streamId: this.info.streamId,
      node,
      typeUrl: response.typeUrl,
      version: response.version,
      nonce,
      resourceNames: response.resources.map((r) => r.name),
      removedNames: response.removed,
      bytes: bytes.length,
    });
    // Watch again right away: delta needs no ACK before the next change (the ack gate still applies).
    this.rearm(state, true);
    return bytes;
  }
}
