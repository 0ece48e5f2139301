// Which group each connected node belongs to, and the connected nodes of each group: a group's snapshot counts
// as accepted once all of them applied it.

export interface ConnectedNodes {
  /** The group of a connected node. */
  keyOf(nodeId: string): string | undefined;
  nodesOf(key: string): Iterable<string>;
  count(key: string): number;
  /** The node has a stream in this group (moving it out of the group it was in, if another). */
  connect(nodeId: string, key: string): void;
  /** The node's last stream closed. */
  disconnect(nodeId: string): void;
}

/** `onLeave` runs when a node leaves a group: it disconnected, or reconnected under another key. */
export function createConnectedNodes(onLeave: (nodeId: string, key: string) => void): ConnectedNodes {
  const keys = new Map<string, string>(); // node id → group key
  const nodesPerKey = new Map<string, Set<string>>();
  const disconnect = (nodeId: string) => {
    const key = keys.get(nodeId);
    if (key === undefined) return;
    keys.delete(nodeId);
    nodesPerKey.get(key)?.delete(nodeId);
    onLeave(nodeId, key);
  };
  return {
    keyOf: (nodeId) => keys.get(nodeId),
    nodesOf: (key) => nodesPerKey.get(key) ?? [],
    count: (key) => nodesPerKey.get(key)?.size ?? 0,
    connect(nodeId, key) {
      const previous = keys.get(nodeId);
      if (previous === key) return;
      if (previous !== undefined) disconnect(nodeId);
      keys.set(nodeId, key);
      let set = nodesPerKey.get(key);
      if (!set) {
        set = new Set();
        nodesPerKey.set(key, set);
      }
      set.add(nodeId);
    },
    disconnect,
  };
}
