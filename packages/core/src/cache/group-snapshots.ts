// Each group's current snapshot and the last few it had: awaitApplied looks a version up there, the NACK
// policy rolls back to one of them.
import type { Snapshot } from "./snapshot.js";

export interface GroupSnapshots {
  readonly historySize: number;
  current(key: string): Snapshot | undefined;
  /** Makes `snapshot` the group's current one and remembers it; returns the one it replaces. */
  set(key: string, snapshot: Snapshot): Snapshot | undefined;
  /** The group has no current snapshot any more; its history stays. */
  clear(key: string): void;
  keys(): string[];
  /** The remembered snapshot of the group with this version. */
  find(key: string, version: string): Snapshot | undefined;
  /** Oldest first, the current one last; at most `historySize`. */
  history(key: string): readonly Snapshot[];
}

export function createGroupSnapshots(historySize: number): GroupSnapshots {
  const current = new Map<string, Snapshot>();
  const history = new Map<string, Snapshot[]>();
  return {
    historySize,
    current: (key) => current.get(key),
    set(key, snapshot) {
      const previous = current.get(key);
      current.set(key, snapshot);
      // A version set again moves to the end rather than being remembered twice.
      const list = history.get(key) ?? [];
      history.set(key, [...list.filter((s) => s.version !== snapshot.version), snapshot].slice(-historySize));
      return previous;
    },
    clear: (key) => {
      current.delete(key);
    },
    keys: () => [...current.keys()],
    find: (key, version) => history.get(key)?.find((s) => s.version === version),
    history: (key) => history.get(key) ?? [],
  };
}
