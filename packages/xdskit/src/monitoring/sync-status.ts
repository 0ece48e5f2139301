// What each proxy holds compared with what it was sent, per type: istioctl proxy-status's view.
import { type AckTracker, protoJsonFromBinary, type Snapshot, type SnapshotCache } from "@xdskit/core";
import { shortTypeName } from "./type-names.js";

/** SYNCED: the proxy ACKed the newest response; STALE: sent, not ACKed yet; NACKED: it rejected the newest one. */
export type ProxySyncState = "SYNCED" | "STALE" | "NACKED";

export interface TypeSyncStatus {
  readonly state: ProxySyncState;
  readonly sentVersion?: string;
  readonly ackedVersion?: string;
  /** The proxy's error message of its newest NACK. */
  readonly error?: string;
}

export interface ProxySyncStatus {
  /** The node id. */
  readonly proxy: string;
  /** The node's cluster (e.g. "reviews.default"). */
  readonly cluster: string;
  readonly streams: number;
  /** By short type name: CDS, LDS, RDS, EDS, SDS... */
  readonly types: Readonly<Record<string, TypeSyncStatus>>;
}

/** Every proxy the tracker knows, sorted by id. */
export function syncStatusOf(tracker: AckTracker): ProxySyncStatus[] {
  return tracker
    .nodes()
    .map((node): ProxySyncStatus => {
      const types: Record<string, TypeSyncStatus> = {};
      for (const [typeUrl, type] of node.types) {
        types[shortTypeName(typeUrl)] = {
          state: type.state === "PENDING" ? "STALE" : type.state,
          ...(type.sent ? { sentVersion: type.sent.version } : {}),
          ...(type.acked ? { ackedVersion: type.acked.version } : {}),
          ...(type.state === "NACKED" && type.nacked ? { error: type.nacked.errorMessage } : {}),
        };
      }
      return { proxy: node.nodeId, cluster: node.node.cluster ?? "", streams: node.streams, types };
    })
    .sort((a, b) => (a.proxy < b.proxy ? -1 : a.proxy > b.proxy ? 1 : 0));
}

const COLUMNS = ["CDS", "LDS", "EDS", "RDS", "SDS"];

/** A table for people, like `istioctl proxy-status`: NAME CLUSTER CDS LDS EDS RDS SDS. */
export function formatSyncTable(statuses: readonly ProxySyncStatus[]): string {
  const rows = [
    ["NAME", "CLUSTER", ...COLUMNS],
    ...statuses.map((s) => [s.proxy, s.cluster, ...COLUMNS.map((c) => s.types[c]?.state ?? "NOT SENT")]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return `${rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

/** A snapshot as proto3 JSON: `{ version, resources: { Cluster: [...], Listener: [...] } }`. */
export function snapshotToJson(snapshot: Snapshot): { version: string; resources: Record<string, unknown[]> } {
  const resources: Record<string, unknown[]> = {};
  for (const entry of snapshot.types.values()) {
    resources[entry.type.kind] = [...entry.resources.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((r) => protoJsonFromBinary(r.type.messageName, r.bytes));
  }
  return { version: snapshot.version, resources };
}

const REDACTED = { inlineString: "[redacted]" };

/** A Secret as proto3 JSON with its private parts replaced by "[redacted]", as Envoy's own config dump shows them. */
function redactSecret(secret: Record<string, unknown>): Record<string, unknown> {
  const redacted = { ...secret };
  const tls = secret.tlsCertificate as Record<string, unknown> | undefined;
  if (tls)
    redacted.tlsCertificate = {
      ...tls,
      ...(tls.privateKey ? { privateKey: REDACTED } : {}),
      ...(tls.password ? { password: REDACTED } : {}),
    };
  if (secret.genericSecret) redacted.genericSecret = { secret: REDACTED };
  if (secret.sessionTicketKeys) redacted.sessionTicketKeys = { keys: [REDACTED] };
  return redacted;
}

/**
 * The config a proxy is served (by node id, or a snapshot key), from a snapshot cache; undefined if none. Private
 * keys in Secrets are redacted: the monitoring port must not hand out workload keys.
 */
export function cacheConfigDump(cache: SnapshotCache, proxy: string) {
  const node = cache.tracker.status(proxy)?.node;
  const snapshot = cache.getSnapshot(node ? cache.keyOf(node) : proxy);
  if (!snapshot) return undefined;
  const dump = snapshotToJson(snapshot);
  if (dump.resources.Secret)
    dump.resources.Secret = dump.resources.Secret.map((s) => redactSecret(s as Record<string, unknown>));
  return dump;
}
