// ACK counting for `GET /acked` (control protocol): per update `seq`, the time at which the server
// processed the ACK that completed the S-th stream, a stream being complete once it ACKed every type
// the update changed at the version that update produced. Each (stream, type) counts once; a NACK
// never counts (backends report ACKs only). The Go peer implements the same in go-control-plane/acks.go.
import { nowMs } from "./proc.js";
import type { AckedResponse } from "./protocol.js";

interface Tracker {
  readonly seq: number;
  /** typeUrl → index of this type (its bit in `acked`) and the version the update produced. */
  readonly need: ReadonlyMap<string, { readonly index: number; readonly version: string }>;
  readonly full: number;
  /** streamId → bits of the types it ACKed. */
  readonly acked: Map<number, number>;
  /** Per type index: streams counted, and every ACK of the version (a stream may ACK it twice). */
  readonly streams: number[];
  readonly acks: number[];
  /** When each stream completed, in processing order (so ascending). */
  readonly completed: number[];
  readonly expectedAt: number;
}

interface Waiter {
  readonly seq: number;
  readonly streams: number;
  readonly resolve: (answer: AckedResponse) => void;
}

/** Updates remembered; the runner asks for the newest one, so a few are plenty. */
const KEEP = 8;

export class AckCounter {
  private readonly trackers = new Map<number, Tracker>();
  private readonly waiters = new Set<Waiter>();

  /**
   * Update `seq` produced these versions (typeUrl → the version the server puts in responses and ACK
   * events). Call it before any ACK of them can be processed: in the same tick as the cache update.
   */
  expect(seq: number, versions: Readonly<Record<string, string>>): void {
    const need = new Map<string, { index: number; version: string }>();
    for (const [typeUrl, version] of Object.entries(versions)) need.set(typeUrl, { index: need.size, version });
    this.trackers.delete(seq);
    this.trackers.set(seq, {
      seq,
      need,
      full: (1 << need.size) - 1,
      acked: new Map(),
      streams: new Array<number>(need.size).fill(0),
      acks: new Array<number>(need.size).fill(0),
      completed: [],
      expectedAt: nowMs(),
    });
    for (const old of this.trackers.keys()) {
      if (this.trackers.size <= KEEP) break;
      this.trackers.delete(old);
    }
    this.settle(seq);
  }

  /** The server processed an ACK (never a NACK) of `version` of `typeUrl` on stream `streamId`. */
  acked(streamId: number, typeUrl: string, version: string): void {
    let at: number | undefined;
    for (const t of this.trackers.values()) {
      const want = t.need.get(typeUrl);
      if (!want || want.version !== version) continue;
      t.acks[want.index] = (t.acks[want.index] ?? 0) + 1;
      const bits = t.acked.get(streamId) ?? 0;
      const bit = 1 << want.index;
      if (bits & bit) continue;
      t.acked.set(streamId, bits | bit);
      t.streams[want.index] = (t.streams[want.index] ?? 0) + 1;
      if ((bits | bit) === t.full) {
        at ??= nowMs();
        t.completed.push(at);
        if (this.waiters.size) this.settle(t.seq);
      }
    }
  }

  /** Resolves once `streams` streams completed update `seq`; rejects after `timeoutMs`. */
  wait(seq: number, streams: number, timeoutMs: number): Promise<AckedResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(this.describe(seq, streams, timeoutMs)));
      }, timeoutMs);
      const waiter: Waiter = {
        seq,
        streams,
        resolve: (answer) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(answer);
        },
      };
      this.waiters.add(waiter);
      this.settle(seq);
    });
  }

  private settle(seq: number): void {
    const t = this.trackers.get(seq);
    if (!t) return;
    for (const w of this.waiters) {
      if (w.seq !== seq) continue;
      const at = w.streams <= 0 ? t.expectedAt : t.completed[w.streams - 1];
      if (at === undefined) continue;
      const per = (counts: number[]) =>
        Object.fromEntries([...t.need].map(([typeUrl, { index }]) => [typeUrl, counts[index] ?? 0]));
      w.resolve({ ackedAt: at, streams: per(t.streams), acks: per(t.acks) });
    }
  }

  private describe(seq: number, streams: number, timeoutMs: number): string {
    const t = this.trackers.get(seq);
    if (!t) return `update seq ${seq} was not applied on this server within ${timeoutMs} ms`;
    const types = [...t.need].map(
      ([typeUrl, { index, version }]) =>
        `${typeUrl.slice(typeUrl.lastIndexOf(".") + 1)} "${version}": ${t.streams[index]} streams`,
    );
    return (
      `after ${timeoutMs} ms only ${t.completed.length} of ${streams} streams ACKed update seq ${seq} ` +
      `(${types.join(", ")})`
    );
  }
}
