// The seam between caches and the xDS server. The server owns stream state (nonces, subscriptions,
// what each stream was sent); a cache answers "what should this stream get now?". Plug in your own
// cache by implementing ConfigWatcher.
import type { Node } from "../gen/envoy/config/core/v3/base.js";
import type { XdstpName } from "../xdstp.js";
import type { PreparedResource } from "./prepared-resource.js";

/** What one stream wants of one type, and what it already has. Read-only view owned by the server. */
export interface WatchRequest {
  /** Unique per server process. */
  readonly streamId: number;
  readonly node: Node;
  readonly typeUrl: string;
  /** Wildcard subscription: every resource of the type (XDS-RULES R10, R11). */
  readonly wildcard: boolean;
  /** Explicitly subscribed names (xdstp names in canonical form, see canonicalResourceName). */
  readonly names: ReadonlySet<string>;
  /** The glob collections among `names` (xdstp ids ending in "/*", delta only), parsed (R34). */
  readonly globs?: readonly XdstpName[];
  /**
   * What the client has: name → version last sent on this stream (or announced by the client in delta's
   * `initial_resource_versions`). {@link ABSENT} marks a name the client was told does not exist (delta).
   */
  readonly known: ReadonlyMap<string, string>;
  /** SotW: whether this stream has been sent a response of this type yet. */
  readonly responded: boolean;
  /**
   * Delta VHDS (XDS-RULES R28): what each subscribed alias (a name in `names` that is no resource's name)
   * was last answered with: the name of the resource it resolved to, or "" when it was reported
   * unresolved. Absent = never answered on this stream.
   */
  readonly aliases?: ReadonlyMap<string, string>;
  /**
   * Delta: names whose `known` version the client announced (`initial_resource_versions`) rather than
   * received on this stream. Those with a TTL are sent again all the same, so their TTL restarts and this
   * stream can refresh it (XDS-RULES R26 yields to R29/R30).
   */
  readonly announced?: ReadonlySet<string>;
  /**
   * The view the stream's `known` equals on every subscribed name: the view of the newest response it was
   * sent, while nothing else changed its subscription or knowledge since. A cache with immutable views
   * then compares only the names that changed between that view and the current one.
   */
  readonly syncedView?: ResourceView;
  /**
   * When `known` is exactly an immutable view's resources (within a scope): with `heldView.view === syncedView`,
   * every subscribed name that changed since differs from what the client holds, and streams in that state can
   * share one answer.
   */
  readonly heldView?: HeldView;
}

/** The resources of one type at one version. Snapshot caches never mutate a view once made. */
export interface ResourceView {
  readonly version: string;
  readonly resources: ReadonlyMap<string, PreparedResource>;
}

/** Version marker in {@link WatchRequest.known} for names reported as removed/non-existent (delta). */
export const ABSENT = "";

/**
 * Whether a value of {@link WatchRequest.known} (or of SentEvent.holds) is a version the client holds rather
 * than a marker: {@link ABSENT}, or a server-private marker, which starts with "\u0000".
 */
export function isHeldVersion(version: string | undefined): version is string {
  return version !== undefined && version !== ABSENT && version.charCodeAt(0) !== 0;
}

/** A SotW answer: the type's version and the resources to put in the DiscoveryResponse. */
export interface SotwResponse {
  readonly typeUrl: string;
  readonly version: string;
  readonly resources: readonly PreparedResource[];
  /**
   * The view it was computed from (see WatchRequest.syncedView); `resources` are then that view's own objects.
   * The server keeps what each client holds relative to it.
   */
  readonly view?: ResourceView;
}

/** A delta answer: changed or new resources, and names removed or non-existent. */
export interface DeltaResponse {
  readonly typeUrl: string;
  /** `system_version_info`: for debugging only (XDS-RULES R20). */
  readonly version: string;
  readonly resources: readonly PreparedResource[];
  readonly removed: readonly string[];
  /** VHDS (R28): the subscribed aliases each resource in `resources` answers, by resource name. */
  readonly aliases?: ReadonlyMap<string, readonly string[]>;
  /** VHDS (R28): subscribed aliases nothing serves; each goes out as a Resource named after it, without a body. */
  readonly unresolvedAliases?: readonly string[];
  /**
   * The view it was computed from (see WatchRequest.syncedView); `resources` are then that view's own objects.
   * The server keeps what each client holds relative to it.
   */
  readonly view?: ResourceView;
}

/** Cancels a watch; calling it after the watch fired or twice does nothing. */
export type CancelWatch = () => void;

/**
 * What the server consumes. A watch fires at most once; the server opens a new one with updated state
 * after each response is acknowledged (so a slow client only ever gets the newest state).
 * `respond` may be called synchronously from inside `watchSotw`/`watchDelta`.
 */
export interface ConfigWatcher {
  watchSotw(request: WatchRequest, respond: (response: SotwResponse) => void): CancelWatch;
  watchDelta(request: WatchRequest, respond: (response: DeltaResponse) => void): CancelWatch;
  /** Optional: receives ACK/NACK bookkeeping from the server (see AckTracker). */
  readonly feedback?: StreamFeedback;
}

/** What the server reports about responses and the client's answers to them. */
export interface StreamFeedback {
  /** A response left the server. `names` are the resources in it (SotW: the whole set for LDS/CDS). */
  sent(event: SentEvent): void;
  /** The client accepted the response with this nonce. */
  acked(event: AckEvent): void;
  /** The client rejected the response with this nonce, with `error_detail`. */
  nacked(event: NackEvent): void;
  /** The stream ended; its node may still have other streams. */
  closed(event: { streamId: number; node: Node }): void;
}

export interface SentEvent {
  readonly streamId: number;
  readonly node: Node;
  readonly typeUrl: string;
  readonly version: string;
  readonly nonce: string;
  readonly resources: ReadonlyArray<{ readonly name: string; readonly version: string }>;
  readonly removed: readonly string[];
  readonly delta: boolean;
  /**
   * What the stream holds of this type (name → version), as a live read-only map owned by the server:
   * `sent` is reported before the map takes in this response. Lets a tracker keep per-resource state
   * without copying it. When absent, the tracker keeps its own copy. Values that are not
   * {@link isHeldVersion} are markers (delta), not versions the client holds.
   */
  readonly holds?: ReadonlyMap<string, string>;
  /**
   * When `holds` (before this response) is exactly an immutable view's resources, within `scope` (every name of
   * the view when absent): a tracker can then read what the client accepted from the view instead of copying it.
   */
  readonly heldView?: HeldView;
}

/** An immutable view and the names of it a client holds (all of them when `scope` is absent). */
export interface HeldView {
  readonly view: ResourceView;
  readonly scope?: ReadonlySet<string>;
}

export interface AckEvent {
  readonly streamId: number;
  readonly node: Node;
  readonly typeUrl: string;
  readonly nonce: string;
  /** The version the ACK confirms (of the response with that nonce). */
  readonly version: string;
}

export interface NackEvent extends AckEvent {
  /** `error_detail` of the request, as the client sent it. */
  readonly errorCode: number;
  readonly errorMessage: string;
}
