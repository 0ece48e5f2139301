import { createHash } from "node:crypto";
import { XdsKitError } from "../errors.js";
import type { Any } from "../gen/google/protobuf/any.js";
import type { ResourceType } from "../resource-types.js";
import { canonicalResourceName } from "../xdstp.js";

/**
 * A resource encoded once: its wire bytes, packed `Any` and content version are computed when it is
 * prepared and shared by every snapshot, stream and node that sends it.
 */
export interface PreparedResource<T = unknown> {
  readonly type: ResourceType<T>;
  readonly name: string;
  readonly resource: T;
  /** Content hash of the encoded bytes, unless the caller named a version. */
  readonly version: string;
  readonly bytes: Uint8Array;
  readonly any: Any;
  /** Time to live in milliseconds (XDS-RULES R29); undefined = no TTL. */
  readonly ttlMs?: number;
}

/** A short, stable content hash (base64url of SHA-256, 16 characters = 96 bits). */
export function contentHash(...parts: ReadonlyArray<Uint8Array | string>): string {
  const hash = createHash("sha256");
  for (const part of parts) {
    hash.update(part);
    hash.update("\0");
  }
  return hash.digest("base64url").slice(0, 16);
}

// Equal content prepared twice shares one PreparedResource while either is alive: per-node snapshots
// built from the same configuration hold the same bytes, not copies.
const interned = new Map<string, WeakRef<PreparedResource>>();
const finalizer = new FinalizationRegistry<string>((key) => {
  const ref = interned.get(key);
  if (ref && ref.deref() === undefined) interned.delete(key);
});

/** Options of {@link prepareResource}. */
export interface PrepareOptions {
  /** Resource name; default: the type's name field (e.g. Cluster.name). */
  name?: string;
  /** Version of this resource; default: a content hash. */
  version?: string;
  /**
   * Time to live in milliseconds (XDS-RULES R29); default: none. The TTL is part of the default version,
   * so changing or dropping it resends the resource; with an explicit `version`, change the version too.
   */
  ttlMs?: number;
}

/** Encodes a resource once (see {@link PreparedResource}). */
export function prepareResource<T>(
  type: ResourceType<T>,
  resource: T,
  options: PrepareOptions = {},
): PreparedResource<T> {
  const ttlMs = options.ttlMs;
  if (ttlMs !== undefined && !(Number.isSafeInteger(ttlMs) && ttlMs > 0))
    throw new XdsKitError("INVALID_ARGUMENT", `prepareResource: ttlMs must be a positive integer, got ${ttlMs}`);
  const bytes = type.codec.encode(resource).finish();
  // xdstp:// names are kept in canonical form so that equal names compare equal (R33).
  const name = canonicalResourceName(options.name ?? type.nameOf(resource));
  const hash =
    ttlMs === undefined
      ? contentHash(type.typeUrl, name, bytes)
      : contentHash(type.typeUrl, name, bytes, `ttl=${ttlMs}`);
  const version = options.version ?? hash;
  const key = `${hash}|${version}|${options.ttlMs ?? ""}`;
  const existing = interned.get(key)?.deref();
  if (existing) return existing as PreparedResource<T>;
  const prepared: PreparedResource<T> = Object.freeze({
    type,
    name,
    resource,
    version,
    bytes,
    any: Object.freeze({ typeUrl: type.typeUrl, value: bytes }),
    ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
  });
  interned.set(key, new WeakRef(prepared));
  finalizer.register(prepared, key);
  return prepared;
}
