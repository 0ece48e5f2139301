// The SotW and delta watches waiting for a change, per group and type. An open watch is in sync with the group's
// current snapshot, so a new snapshot is compared with it only on the names that changed.
import type { AckTrackerWithFeedback } from "./ack-tracker.js";
import type { CancelWatch, DeltaResponse, SotwResponse, WatchRequest } from "./config-watcher.js";
import { changedBetween, deltaResponseFrom, type ResourceView, sotwResponseFrom, viewOf } from "./responses.js";
import type { Snapshot } from "./snapshot.js";

interface Watch {
  readonly request: WatchRequest;
  readonly respond: (response: never) => void;
  readonly delta: boolean;
}

export interface OpenWatches {
  /**
   * Answers the request from `current` when it has something to send; otherwise keeps the watch open until a
   * snapshot of the group changes what the request sees.
   */
  open(
    key: string,
    current: Snapshot | undefined,
    request: WatchRequest,
    respond: (response: never) => void,
    delta: boolean,
  ): CancelWatch;
  /** `snapshot` replaced `previous` as the group's current one: answers the open watches it changes. */
  push(key: string, previous: Snapshot | undefined, snapshot: Snapshot): void;
  /** Open watches of the group (streams × types). */
  count(key: string): number;
}

/**
 * `onInSync(nodeId)` runs when a watch had nothing to send and the tracker found its stream thereby current
 * at the view's version.
 */
export function createOpenWatches(tracker: AckTrackerWithFeedback, onInSync: (nodeId: string) => void): OpenWatches {
  const watches = new Map<string, Map<string, Set<Watch>>>(); // key → type URL → open watches

  /** Nothing to send: the stream is current at this view's version (if its last response was ACKed). */
  const inSync = (watch: Watch, view: ResourceView): false => {
    const { node, streamId, typeUrl } = watch.request;
    if (tracker.inSync(node, streamId, typeUrl, view.version)) onInSync(node.id ?? "");
    return false;
  };

  /** Sends what the view holds for the watch (only `changed`, when given); false when there is nothing. */
  const answer = (watch: Watch, view: ResourceView, changed?: readonly string[]): boolean => {
    if (watch.delta) {
      const response = deltaResponseFrom(view, watch.request, changed);
      if (!response) return inSync(watch, view);
      (watch.respond as (r: DeltaResponse) => void)(response);
    } else {
      const response = sotwResponseFrom(view, watch.request, changed);
      if (!response) return inSync(watch, view);
      (watch.respond as (r: SotwResponse) => void)(response);
    }
    return true;
  };

  return {
    open(key, current, request, respond, delta) {
      const watch: Watch = { request, respond, delta };
      if (current) {
        const view = viewOf(current, request.typeUrl);
        // A stream in sync with an earlier view is compared only on what changed since (views are immutable).
        const synced = request.syncedView;
        if (synced === view) inSync(watch, view);
        else if (answer(watch, view, synced ? changedBetween(synced, view) : undefined)) return () => {};
      }
      let byType = watches.get(key);
      if (!byType) {
        byType = new Map();
        watches.set(key, byType);
      }
      let set = byType.get(request.typeUrl);
      if (!set) {
        set = new Set();
        byType.set(request.typeUrl, set);
      }
      set.add(watch);
      return () => {
        set.delete(watch);
      };
    },
    push(key, previous, snapshot) {
      const byType = watches.get(key);
      if (!byType) return;
      for (const [typeUrl, set] of byType) {
        if (set.size === 0) continue;
        const view = viewOf(snapshot, typeUrl);
        const before = previous ? viewOf(previous, typeUrl) : undefined;
        if (before === view) continue;
        const changed = before ? changedBetween(before, view) : undefined;
        if (changed && changed.length === 0 && before?.version === view.version) continue;
        // A response may open or cancel watches of this set (the stream's next request): walk a copy.
        for (const watch of [...set]) {
          if (!set.has(watch)) continue;
          set.delete(watch);
          if (!answer(watch, view, changed)) set.add(watch);
        }
      }
    },
    count: (key) => [...(watches.get(key)?.values() ?? [])].reduce((n, set) => n + set.size, 0),
  };
}
