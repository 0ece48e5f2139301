// Why awaitApplied did not resolve in time: the caller learns which of the usual mistakes or states it is,
// instead of one text for all.
import { XdsKitError } from "../errors.js";
import { resourceTypeOf } from "../resource-types.js";
import type { Snapshot } from "./snapshot.js";

/** awaitApplied's bound when the caller gives none. */
export const DEFAULT_AWAIT_APPLIED_TIMEOUT_MS = 30_000;

/**
 * Why a node did not apply a version in time (`XdsKitError.details.reason` of awaitApplied's TIMEOUT):
 * - `GROUP_KEY`: the id given is a snapshot group key with connected nodes, not a node id;
 * - `NOT_CONNECTED`: no node with that id has an open stream (it never connected, or its streams closed);
 * - `UNKNOWN_VERSION`: the version is not one of the node's group's remembered snapshots (never set, or dropped
 *   from the history: `historySize`);
 * - `NOT_APPLIED`: connected, version known, not (yet) ACKed for every type: the message lists each type's state.
 */
export type NotAppliedReason = "GROUP_KEY" | "NOT_CONNECTED" | "UNKNOWN_VERSION" | "NOT_APPLIED";

/** What the cache knows, read when a wait times out. */
export interface AppliedState {
  /** The group key of a connected node. */
  keyOf(nodeId: string): string | undefined;
  /** Connected nodes of a group. */
  nodesOf(key: string): Iterable<string>;
  current(key: string): Snapshot | undefined;
  history(key: string): readonly Snapshot[];
  historySize: number;
  /** Each type the node asked for: its ACKed version and state. */
  syncStates(nodeId: string): Iterable<readonly [typeUrl: string, ackedVersion: string | undefined, state: string]>;
}

const quoted = (values: Iterable<string>, max = 5) => {
  const list = [...values];
  const shown = list.slice(0, max).map((v) => `"${v}"`);
  return shown.join(", ") + (list.length > max ? `, … (${list.length} in all)` : "");
};

const serviceOf = (typeUrl: string) => resourceTypeOf(typeUrl)?.service ?? typeUrl;

/** The TIMEOUT error of awaitApplied, naming which case it is. */
export function notAppliedError(state: AppliedState, nodeId: string, version: string, timeoutMs: number): XdsKitError {
  const head = `awaitApplied("${nodeId}", "${version}"): not applied within ${timeoutMs} ms`;
  const fail = (reason: NotAppliedReason, why: string, extra: Record<string, unknown> = {}) =>
    new XdsKitError("TIMEOUT", `${head}: ${why}`, { details: { reason, nodeId, version, timeoutMs, ...extra } });
  const key = state.keyOf(nodeId);
  if (key === undefined) {
    const members = [...state.nodesOf(nodeId)];
    if (state.current(nodeId) && members.length > 0)
      return fail(
        "GROUP_KEY",
        `"${nodeId}" is a snapshot group key, not a node id; no node with this id is connected. ` +
          `The group's connected nodes: ${quoted(members)}. awaitApplied takes a node id (node.id).`,
        { groupNodes: members },
      );
    return fail(
      "NOT_CONNECTED",
      `no node with id "${nodeId}" is connected (it never connected, or its streams closed)`,
    );
  }
  const history = state.history(key);
  const snapshot = history.find((s) => s.version === version);
  if (!snapshot)
    return fail(
      "UNKNOWN_VERSION",
      `"${version}" is not a version of the node's group "${key}" (never set, or dropped from the ` +
        `${state.historySize} remembered): the group's current version is "${state.current(key)?.version ?? "none"}"` +
        (history.length > 0 ? `; remembered: ${quoted(history.map((s) => s.version).reverse())}` : ""),
      { key, currentVersion: state.current(key)?.version },
    );
  const types: Record<string, { state: string; ackedVersion: string | undefined; wanted: string }> = {};
  const parts: string[] = [];
  for (const [typeUrl, acked, syncState] of state.syncStates(nodeId)) {
    const entry = snapshot.entry(typeUrl);
    if (!entry) continue;
    types[typeUrl] = { state: syncState, ackedVersion: acked, wanted: entry.version };
    if (acked !== entry.version)
      parts.push(`${serviceOf(typeUrl)} ${syncState}, ACKed ${acked === undefined ? "nothing" : `"${acked}"`}`);
  }
  const asked = Object.keys(types).length;
  const why =
    asked === 0
      ? `node "${nodeId}" (group "${key}") has not asked for any type the snapshot holds`
      : parts.length > 0
        ? `node "${nodeId}" (group "${key}") has not ACKed it for every type: ${parts.join("; ")}`
        : `node "${nodeId}" (group "${key}") ACKed every type it asked for, but not yet the types its resources lead to (listener → routes → clusters → endpoints)`;
  return fail("NOT_APPLIED", why, { key, types });
}
