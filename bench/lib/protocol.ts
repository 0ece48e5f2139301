// Messages between the runner, the servers under test (HTTP control) and the load clients (IPC).
import type { UpdateKind } from "../workload.js";

/** `POST /load` body. */
export interface LoadRequest {
  workload: string;
}

/** `POST /update` body. */
export interface UpdateRequest {
  kind: UpdateKind;
  seq: number;
}

/** `POST /load` and `POST /update` answer, sent once the cache holds the new snapshot. */
export interface UpdateResponse {
  version: string;
}

/**
 * `GET /acked?seq=N&streams=S&timeoutMs=T` answer, once S streams ACKed every type update N changed
 * at the version it produced (one-endpoint: EDS; full-replace: CDS and EDS). Else HTTP 504 `{error}`.
 */
export interface AckedResponse {
  /** When the server processed the ACK that completed the S-th stream: ms since epoch, sub-ms fraction. */
  ackedAt: number;
  /** Diagnostics when answered, per changed type URL: streams counted, and ACKs of that version processed. */
  streams: Record<string, number>;
  acks: Record<string, number>;
}

/** `GET /stats` answer. */
export interface ServerStats {
  /** CPU used so far, read before the forced GC: where an interval ends. */
  cpuUserSec: number;
  cpuSystemSec: number;
  /** The same after the forced GC, user + system: where the next interval starts (so the GC is in neither). */
  cpuAfterGcSec?: number;
  rssBytes: number;
  peakRssBytes: number;
  /** Heap in use after a full GC (Node: V8 heapUsed; Go: HeapAlloc). */
  heapUsedBytes: number;
  /** Node only: memory outside the V8 heap after GC (Buffers holding encoded resources). */
  externalBytes?: number;
  /** Payload bytes of DiscoveryResponses written, when the server can count them. */
  bytesSent?: number;
  /** Free-form facts the runner prints (GOMAXPROCS, Node version ...). */
  info?: Record<string, string | number>;
}

export type XdsMode = "sotw" | "delta";

/** Runner → client. */
export type ToClient =
  | { type: "arm"; seq: number; kind: UpdateKind; target: string }
  | { type: "counters" }
  | { type: "exit" };

/** Client → runner. */
export type FromClient =
  | {
      type: "ready";
      streams: number;
      /** When this client opened its first stream, and when its first and last stream held the config. */
      openedAt: number;
      firstConfigAt: number;
      lastConfigAt: number;
    }
  | { type: "armed"; seq: number }
  | {
      type: "done";
      seq: number;
      /** Receipt time of the update on the first and on the last stream (ms since epoch). */
      firstAt: number;
      lastAt: number;
      /** Set by the verifying stream when the content of the update was not what the rule says. */
      verifyError?: string;
    }
  | { type: "counters"; bytes: number; responses: number; errors: number }
  | { type: "error"; message: string };
