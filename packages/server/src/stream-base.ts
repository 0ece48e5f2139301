// What SotW and delta streams share: the node, per-type watches, the latest-wins queue of responses,
// make-before-break ordering, optional ACK gating and write() backpressure.
import { status } from "@grpc/grpc-js";
import { type CancelWatch, type Node, type ResourceType, resourceTypeOf, type WatchRequest } from "@xdskit/core";
import type { StreamInfo } from "./callbacks.js";
import type { Identity, ResolvedXdsServerOptions } from "./options.js";

/** The transport under a stream: a gRPC call in production, a fake in unit tests. */
export interface StreamIo {
  /** Writes one encoded response; false means "buffer full, wait for drain". */
  write(bytes: Uint8Array): boolean;
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
  readonly names: Set<string>;
  readonly known: Map<string, string>;
  cancel?: CancelWatch;
  /** A watch is open and has not fired yet. */
  watchOpen: boolean;
  /** The newest response sent and not yet answered, for ACK gating. */
  awaiting?: { nonce: string; sentAt: number };
}

export abstract class StreamBase<State extends TypeStateBase, Response extends { typeUrl: string }> {
  node: Node | undefined;
  readonly types = new Map<string, State>();
  protected readonly pending = new Map<string, Response>();
  private nonceSeq = 0;
  private blocked = false;
  private flushScheduled = false;
  private gateTimer: NodeJS.Timeout | undefined;
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
    });
  }

  /** Encodes and writes one response, updating the type's state. Returns the encoded bytes. */
  protected abstract send(state: State, response: Response, nonce: string): Uint8Array;
  protected abstract openWatch(state: State, view: WatchRequest): CancelWatch;

  protected nextNonce(): string {
    this.nonceSeq++;
    return this.nonceSeq.toString(36);
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

  protected checkNameCount(count: number): void {
    if (count > this.options.maxResourceNamesPerRequest)
      throw new StreamError(
        status.INVALID_ARGUMENT,
        `request names ${count} resources; at most ${this.options.maxResourceNamesPerRequest} are accepted`,
      );
  }

  protected async authorize(node: Node, typeUrl: string, names: readonly string[]): Promise<void> {
    if (!this.options.authorize || names.length === 0) return;
    const verdict = await this.options.authorize({ identity: this.identity, node, typeUrl, names });
    if (verdict === true) return;
    const reason = typeof verdict === "string" && verdict ? verdict : "not authorized";
    throw new StreamError(
      status.PERMISSION_DENIED,
      `node "${node.id ?? ""}" may not subscribe to ${typeUrl} [${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""}]: ${reason}`,
    );
  }

  /** (Re)opens the type's watch with its current subscription and knowledge (R8: newest request wins). */
  protected rearm(state: State, responded: boolean): void {
    state.cancel?.();
    state.cancel = undefined;
    state.watchOpen = false;
    if (this.closed || !this.node) return;
    const view: WatchRequest = {
      streamId: this.info.streamId,
      node: this.node,
      typeUrl: state.type.typeUrl,
      wildcard: state.wildcard,
      names: state.names,
      known: state.known,
      responded,
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

  protected flush(): void {
    if (this.closed || this.blocked || this.pending.size === 0) return;
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
      const nonce = this.nextNonce();
      this.send(state, response, nonce);
      state.awaiting = { nonce, sentAt: Date.now() };
      if (this.closed) return;
      if (this.blocked) return;
    }
  }

  /** Writes through the transport, remembering backpressure. */
  protected write(bytes: Uint8Array): void {
    if (!this.io.write(bytes)) this.blocked = true;
  }

  private heldByEarlierType(state: State): boolean {
    const now = Date.now();
    let earliestDeadline = Number.POSITIVE_INFINITY;
    for (const other of this.types.values()) {
      if (other === state || other.type.orderRank >= state.type.orderRank || !other.awaiting) continue;
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.gateTimer) clearTimeout(this.gateTimer);
    for (const state of this.types.values()) state.cancel?.();
    this.pending.clear();
  }
}
