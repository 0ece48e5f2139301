// Which nodes applied their group's current snapshot, and the newest snapshot every connected node of a group
// applied (its "last accepted" one, what the rollback NACK policy restores).
import type { Cluster } from "../gen/envoy/config/cluster/v3/cluster.js";
import type { Listener } from "../gen/envoy/config/listener/v3/listener.js";
import type { RouteConfiguration } from "../gen/envoy/config/route/v3/route.js";
import { type ResourceType, resourceTypes } from "../resource-types.js";
import type { AckTrackerWithFeedback } from "./ack-tracker.js";
import type { ConnectedNodes } from "./connected-nodes.js";
import type { GroupSnapshots } from "./group-snapshots.js";
import { clusterNamesOf, edsNameOf, rdsNamesOf } from "./references.js";
import type { Snapshot } from "./snapshot.js";

/** What a node's resources of one type make it ask for next: listener → routes → clusters → endpoints. */
const DEPENDENCIES: ReadonlyArray<readonly [ResourceType, ResourceType, (resource: unknown) => string[]]> = [
  [resourceTypes.Listener, resourceTypes.RouteConfiguration, (r) => rdsNamesOf(r as Listener)],
  [resourceTypes.RouteConfiguration, resourceTypes.Cluster, (r) => clusterNamesOf(r as RouteConfiguration)],
  [
    resourceTypes.Cluster,
    resourceTypes.ClusterLoadAssignment,
    (r) => {
      const name = edsNameOf(r as Cluster);
      return name ? [name] : [];
    },
  ],
];

export interface GroupAcceptance {
  /**
   * A node applied a snapshot when every type it asked for is ACKed (or found current) at the snapshot's
   * version, and it has asked for every type its resources lead to (listener → routes → clusters →
   * endpoints): clients such as gRPC ask for one type after another.
   */
  hasApplied(nodeId: string, snapshot: Snapshot): boolean;
  /** The node's ACK state changed: records whether it now applied its group's current snapshot. */
  noteAccepted(nodeId: string): void;
  /** The group's current snapshot changed (or was cleared): no node applied it yet. */
  resetGroup(key: string): void;
  /** The node left the group. */
  forgetNode(nodeId: string, key: string): void;
  lastAccepted(key: string): Snapshot | undefined;
}

/** `onGroupApplied` runs each time the last connected node of a group applies its current snapshot. */
export function createGroupAcceptance(
  tracker: AckTrackerWithFeedback,
  nodes: ConnectedNodes,
  snapshots: GroupSnapshots,
  onGroupApplied: (key: string, current: Snapshot) => void,
): GroupAcceptance {
  const appliedCurrent = new Map<string, Set<string>>(); // key → node ids that applied the current snapshot
  const lastAccepted = new Map<string, Snapshot>();

  const hasApplied = (nodeId: string, snapshot: Snapshot): boolean => {
    const asked = new Set<string>();
    for (const [typeUrl, acked] of tracker.syncStates(nodeId)) {
      const entry = snapshot.entry(typeUrl);
      if (!entry) continue;
      if (acked !== entry.version) return false;
      asked.add(typeUrl);
    }
    if (asked.size === 0) return false;
    for (const [from, to, refs] of DEPENDENCIES) {
      if (!asked.has(from.typeUrl) || asked.has(to.typeUrl)) continue;
      const targets = snapshot.resourcesOf(to.typeUrl);
      if (targets.size === 0) continue;
      const sources = snapshot.resourcesOf(from.typeUrl);
      for (const name of tracker.resourceNames(nodeId, from.typeUrl)) {
        const source = sources.get(name);
        if (source && refs(source.resource).some((ref) => targets.has(ref))) return false;
      }
    }
    return true;
  };

  return {
    hasApplied,
    noteAccepted(nodeId) {
      const key = nodes.keyOf(nodeId);
      if (key === undefined) return;
      const current = snapshots.current(key);
      if (!current || !hasApplied(nodeId, current)) return;
      let set = appliedCurrent.get(key);
      if (!set) {
        set = new Set();
        appliedCurrent.set(key, set);
      }
      set.add(nodeId);
      if (set.size >= nodes.count(key)) {
        lastAccepted.set(key, current);
        onGroupApplied(key, current);
      }
    },
    resetGroup: (key) => {
      appliedCurrent.delete(key);
    },
    forgetNode: (nodeId, key) => {
      appliedCurrent.get(key)?.delete(nodeId);
    },
    lastAccepted: (key) => lastAccepted.get(key),
  };
}
