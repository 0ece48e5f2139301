// Per stream: the resources with a TTL the client accepted, so heartbeats can refresh them
// (XDS-RULES R29-R31). A resource is refreshed only at a version the client accepted and while no newer
// response carrying it awaits an answer, so a heartbeat never names a version the client does not have.
import type { PreparedResource } from "@xdskit/core";
import type { HeartbeatEntry } from "./wire.js";

interface Accepted extends HeartbeatEntry {
  /** When the client last got this resource or a heartbeat for it (ms since the epoch). */
  refreshedAt: number;
}

interface SentRecord {
  readonly typeUrl: string;
  readonly at: number;
  /** Every name the response set or removed. */
  readonly names: ReadonlySet<string>;
  /** The response's resources that have a TTL: accepted once the client ACKs. */
  readonly withTtl: readonly HeartbeatEntry[];
  /** The entries this response took out of `accepted`, restored if the client rejects it. */
  readonly previous: ReadonlyMap<string, Accepted>;
}

/** Responses remembered for their answer; older ones are dropped (their resources then just expire). */
const MAX_SENT = 64;

export class TtlTracker {
  private readonly accepted = new Map<string, Map<string, Accepted>>();
  private readonly sent = new Map<string, SentRecord>();

  private typeMap(typeUrl: string): Map<string, Accepted> {
    let map = this.accepted.get(typeUrl);
    if (!map) {
      map = new Map();
      this.accepted.set(typeUrl, map);
    }
    return map;
  }

  /**
   * A response left. `replaceAll`: it is the whole state of the type (SotW LDS/CDS), so everything the
   * client had is replaced. Its resources are not refreshed until the client answers.
   */
  responseSent(
    typeUrl: string,
    nonce: string,
    resources: readonly PreparedResource[],
    removed: readonly string[],
    replaceAll: boolean,
    now: number,
  ): void {
    const map = this.accepted.get(typeUrl);
    const previous = new Map<string, Accepted>();
    const names = new Set([...resources.map((r) => r.name), ...removed]);
    if (map) {
      if (replaceAll) {
        for (const [name, entry] of map) previous.set(name, entry);
        map.clear();
      } else {
        for (const name of names) {
          const entry = map.get(name);
          if (entry) {
            previous.set(name, entry);
            map.delete(name);
          }
        }
      }
    }
    const withTtl: HeartbeatEntry[] = [];
    for (const r of resources)
      if (r.ttlMs !== undefined) withTtl.push({ name: r.name, version: r.version, ttlMs: r.ttlMs });
    if (withTtl.length === 0 && previous.size === 0) return;
    this.sent.set(nonce, { typeUrl, at: now, names, withTtl, previous });
    if (this.sent.size > MAX_SENT) {
      const oldest = this.sent.keys().next().value;
      if (oldest !== undefined) this.sent.delete(oldest);
    }
  }

  /** The client accepted the response with this nonce. */
  acked(nonce: string): void {
    const record = this.sent.get(nonce);
    if (!record) return;
    this.sent.delete(nonce);
    const map = this.typeMap(record.typeUrl);
    for (const entry of record.withTtl) {
      if (!this.touchedLater(record, entry.name)) map.set(entry.name, { ...entry, refreshedAt: record.at });
    }
  }

  /** The client rejected the response with this nonce: it keeps what it had, which stays refreshed. */
  nacked(nonce: string): void {
    const record = this.sent.get(nonce);
    if (!record) return;
    this.sent.delete(nonce);
    const map = this.typeMap(record.typeUrl);
    for (const [name, entry] of record.previous) if (!this.touchedLater(record, name)) map.set(name, entry);
  }

  /** Whether a response sent after `record` (and still unanswered) carries the name. */
  private touchedLater(record: SentRecord, name: string): boolean {
    let after = false;
    for (const other of this.sent.values()) {
      if (other === record) {
        after = true;
        continue;
      }
      if (after && other.typeUrl === record.typeUrl && other.names.has(name)) return true;
    }
    return false;
  }

  /** Every accepted entry of the type was just refreshed (a whole SotW LDS/CDS state was resent). */
  refreshedAll(typeUrl: string, now: number): void {
    for (const entry of this.accepted.get(typeUrl)?.values() ?? []) entry.refreshedAt = now;
  }

  /** Stops refreshing a resource (the client no longer follows it). */
  forget(typeUrl: string, name: string): void {
    this.accepted.get(typeUrl)?.delete(name);
  }

  /**
   * Entries to refresh now, by type: those due within `slack(interval)` ms, so entries due close together
   * share one response.
   */
  due(now: number, intervalOf: (ttlMs: number) => number): Map<string, Accepted[]> {
    const out = new Map<string, Accepted[]>();
    for (const [typeUrl, map] of this.accepted) {
      for (const entry of map.values()) {
        const interval = intervalOf(entry.ttlMs);
        if (entry.refreshedAt + interval - interval / 4 > now) continue;
        const list = out.get(typeUrl);
        if (list) list.push(entry);
        else out.set(typeUrl, [entry]);
      }
    }
    return out;
  }

  /** When the next entry is due, or undefined when nothing needs refreshing. */
  nextDue(intervalOf: (ttlMs: number) => number): number | undefined {
    let next: number | undefined;
    for (const map of this.accepted.values())
      for (const entry of map.values()) {
        const at = entry.refreshedAt + intervalOf(entry.ttlMs);
        if (next === undefined || at < next) next = at;
      }
    return next;
  }

  /** The smallest refresh interval of the tracked entries. */
  minInterval(intervalOf: (ttlMs: number) => number): number | undefined {
    let min: number | undefined;
    for (const map of this.accepted.values())
      for (const entry of map.values()) {
        const interval = intervalOf(entry.ttlMs);
        if (min === undefined || interval < min) min = interval;
      }
    return min;
  }
}
