// The pending awaitApplied calls of each node: resolved once the node applied the version, rejected when it NACKs
// it, times out or is aborted.
import { NackError, XdsKitError } from "../errors.js";
import type { AckTrackerWithFeedback } from "./ack-tracker.js";
import { type AppliedState, DEFAULT_AWAIT_APPLIED_TIMEOUT_MS, notAppliedError } from "./await-applied.js";
import type { NackEvent } from "./config-watcher.js";
import type { ConnectedNodes } from "./connected-nodes.js";
import type { GroupSnapshots } from "./group-snapshots.js";
import type { Snapshot } from "./snapshot.js";

/** Options of {@link SnapshotCache.awaitApplied}. */
export interface AwaitAppliedOptions {
  /**
   * Reject with code TIMEOUT after this many milliseconds; the error's `details.reason` says which case it is
   * ({@link NotAppliedReason}). Default: 30000. `Infinity` waits without a bound (then give a `signal`).
   */
  timeoutMs?: number;
  /** Aborting it rejects the wait with code CLOSED. */
  signal?: AbortSignal;
}

export interface AppliedWaiters {
  wait(nodeId: string, version: string, options: AwaitAppliedOptions): Promise<void>;
  /** The node's ACK state changed: resolves its waits for versions it now applied. */
  settle(nodeId: string): void;
  /** The node NACKed: rejects its waits for a version whose snapshot has the NACKed type at that version. */
  rejectNacked(event: NackEvent): void;
}

interface Waiter {
  readonly version: string;
  resolve(): void;
  reject(error: Error): void;
}

export function createAppliedWaiters(
  tracker: AckTrackerWithFeedback,
  nodes: ConnectedNodes,
  snapshots: GroupSnapshots,
  hasApplied: (nodeId: string, snapshot: Snapshot) => boolean,
): AppliedWaiters {
  const waiters = new Map<string, Set<Waiter>>(); // node id → its pending waits
  // What a TIMEOUT error reads to say which case it is.
  const appliedState: AppliedState = {
    keyOf: (nodeId) => nodes.keyOf(nodeId),
    nodesOf: (key) => nodes.nodesOf(key),
    current: (key) => snapshots.current(key),
    history: (key) => snapshots.history(key),
    historySize: snapshots.historySize,
    syncStates: (nodeId) => tracker.syncStates(nodeId),
  };

  const settle = (nodeId: string) => {
    const set = waiters.get(nodeId);
    const key = nodes.keyOf(nodeId);
    if (!set || key === undefined) return;
    for (const waiter of set) {
      const snapshot = snapshots.find(key, waiter.version);
      if (snapshot && hasApplied(nodeId, snapshot)) waiter.resolve();
    }
  };

  return {
    settle,
    rejectNacked(event) {
      const nodeId = event.node.id ?? "";
      const key = nodes.keyOf(nodeId);
      if (key === undefined) return;
      for (const waiter of waiters.get(nodeId) ?? []) {
        const snapshot = snapshots.find(key, waiter.version);
        if (snapshot?.versionOf(event.typeUrl) === event.version) waiter.reject(nackErrorOf(tracker, event));
      }
    },
    wait(nodeId, version, options) {
      const badArgument = argumentProblem(nodeId, version, options);
      if (badArgument) return Promise.reject(new XdsKitError("INVALID_ARGUMENT", `awaitApplied: ${badArgument}`));
      return new Promise<void>((resolve, reject) => {
        let set = waiters.get(nodeId);
        if (!set) {
          set = new Set();
          waiters.set(nodeId, set);
        }
        const timeoutMs = options.timeoutMs ?? DEFAULT_AWAIT_APPLIED_TIMEOUT_MS;
        const timer = Number.isFinite(timeoutMs)
          ? setTimeout(() => done(notAppliedError(appliedState, nodeId, version, timeoutMs)), timeoutMs)
          : undefined;
        const onAbort = () => done(new XdsKitError("CLOSED", `awaitApplied("${nodeId}", "${version}") aborted`));
        const waiter: Waiter = { version, resolve: () => done(), reject: (error) => done(error) };
        function done(error?: Error) {
          if (timer) clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
          set?.delete(waiter);
          if (set?.size === 0) waiters.delete(nodeId);
          if (error) reject(error);
          else resolve();
        }
        if (options.signal?.aborted) return onAbort();
        options.signal?.addEventListener("abort", onAbort);
        set.add(waiter);
        settle(nodeId);
      });
    },
  };
}

/** The NackError of a NACK: its facts, and the names of the resources the rejected response carried. */
function nackErrorOf(tracker: AckTrackerWithFeedback, event: NackEvent): NackError {
  const nodeId = event.node.id ?? "";
  const resources = tracker.status(nodeId)?.types.get(event.typeUrl)?.resources;
  const resourceNames = [...(resources?.values() ?? [])].filter((r) => r.nacked).map((r) => r.name);
  return new NackError(
    `node "${nodeId}" rejected ${event.typeUrl} version "${event.version}"` +
      (resourceNames.length > 0 ? ` (resources ${resourceNames.map((n) => `"${n}"`).join(", ")})` : "") +
      `: ${event.errorMessage}`,
    {
      nodeId,
      typeUrl: event.typeUrl,
      version: event.version,
      nonce: event.nonce,
      resourceNames,
      errorDetail: { code: event.errorCode, message: event.errorMessage },
    },
  );
}

function argumentProblem(nodeId: unknown, version: unknown, options: AwaitAppliedOptions): string | undefined {
  if (typeof nodeId !== "string") return `nodeId must be a string (a node id), got ${typeof nodeId}`;
  if (typeof version !== "string") return `version must be a string (a snapshot version), got ${typeof version}`;
  const { timeoutMs } = options ?? {};
  if (timeoutMs !== undefined && !(typeof timeoutMs === "number" && timeoutMs > 0))
    return `timeoutMs must be a positive number of milliseconds (or Infinity), got ${String(timeoutMs)}`;
  return undefined;
}
