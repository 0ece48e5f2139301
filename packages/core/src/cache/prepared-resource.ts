import { createHash } from "node:crypto";
import type { DescMessage } from "@bufbuild/protobuf";
import { fromBinary } from "@bufbuild/protobuf";
import { XdsKitError } from "../errors.js";
import type { Any } from "../gen/google/protobuf/any.js";
import { schemaRegistry } from "../proto-json.js";
import { type ResourceType, resourceTypeOf } from "../resource-types.js";
import { checkMessage, describeValue, formatSchemaProblem } from "../schema-check.js";
import { canonicalResourceName } from "../xdstp.js";

/**
 * A resource encoded once: its wire bytes, packed `Any` and content version are computed when it is
 * prepared and shared by every snapshot, stream and node that sends it.
 */
export interface PreparedResource<T = unknown> {
  readonly type: ResourceType<T>;
  readonly name: string;
  /**
   * The resource as a message. For a raw resource ({@link rawResource}) it is decoded from the bytes on first read,
   * and is undefined when this build cannot decode them (a type registered without a codec, a uint64 above 2^53);
   * what is served is always `bytes`.
   */
  readonly resource: T;
  /** True for a resource given as bytes ({@link rawResource}): served exactly as given. */
  readonly raw?: boolean;
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

// Every PreparedResource made here, so an object that merely looks like one is not taken for one.
const preparedResources = new WeakSet<object>();

/** Whether `value` is a {@link PreparedResource} (made by prepareResource, listCollection or rawResource). */
export function isPreparedResource(value: unknown): value is PreparedResource {
  return typeof value === "object" && value !== null && preparedResources.has(value);
}

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

// The message schema of each type, looked up once (undefined: a type this build's descriptors do not hold).
const schemas = new WeakMap<ResourceType, DescMessage | undefined>();

/**
 * Checks a resource against its type's message schema and throws {@link XdsKitError} `INVALID_ARGUMENT`
 * naming `where` (e.g. `createSnapshot: Cluster[3]`), the resource's name when it has one, the field path and
 * what was expected.
 */
export function checkResource(type: ResourceType, resource: unknown, where: string): void {
  let schema = schemas.get(type);
  if (schema === undefined && !schemas.has(type)) {
    schema = schemaRegistry().getMessage(type.messageName);
    schemas.set(type, schema);
  }
  if (!schema) return;
  const problem = checkMessage(schema, resource);
  if (!problem) return;
  let name: unknown;
  try {
    name = type.nameOf(resource);
  } catch {
    // the name is unreadable: the problem says why
  }
  const named = typeof name === "string" && name !== "" ? ` ${describeValue(name)}` : "";
  throw new XdsKitError("INVALID_ARGUMENT", `${where}${named}: ${formatSchemaProblem(problem)}`);
}

/**
 * Encodes a resource once (see {@link PreparedResource}). The resource is first checked against its type's
 * message schema: a value of the wrong kind (a Listener given as a Cluster, `null`, `name: 42`, an enum given
 * by name, an unknown field) throws {@link XdsKitError} `INVALID_ARGUMENT` naming the field and what it expects.
 */
export function prepareResource<T>(
  type: ResourceType<T>,
  resource: T,
  options: PrepareOptions = {},
): PreparedResource<T> {
  return prepareAt(type, resource, options, `prepareResource: ${type.kind}`);
}

/** {@link prepareResource}, with `where` naming the caller and the item in refusals. */
export function prepareAt<T>(
  type: ResourceType<T>,
  resource: T,
  options: PrepareOptions,
  where: string,
): PreparedResource<T> {
  const ttlMs = options.ttlMs;
  if (ttlMs !== undefined && !(Number.isSafeInteger(ttlMs) && ttlMs > 0))
    throw new XdsKitError("INVALID_ARGUMENT", `${where}: ttlMs must be a positive integer, got ${ttlMs}`);
  checkResource(type as ResourceType, resource, where);
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
  preparedResources.add(prepared);
  interned.set(key, new WeakRef(prepared));
  finalizer.register(prepared, key);
  return prepared;
}

/**
 * A resource given as bytes — a type URL and the serialized message, i.e. a `google.protobuf.Any` — served exactly as
 * given: fields this build's protos do not know and 64-bit integers above 2^53 pass through unchanged. For relays,
 * configs produced elsewhere (another control plane, an Envoy config dump), and types registered without a codec.
 *
 * The type URL must be a built-in type or one registered with {@link registerResourceType}. The name defaults to the
 * one in the bytes when this build knows the message (a Cluster's `name`, a ClusterLoadAssignment's `cluster_name`);
 * give `options.name` otherwise. The version defaults to a content hash, the same a prepared message with these
 * bytes gets. Throws {@link XdsKitError} `UNKNOWN_TYPE_URL` for a type URL xdskit does not serve, `DECODE_FAILED` for
 * bytes that are not a valid message of a known type, and `INVALID_ARGUMENT` for a missing name or bad options.
 */
// biome-ignore lint/suspicious/noExplicitAny: a raw resource goes in the list of its kind, whichever; checked at runtime
export function rawResource<T = any>(any: Any, options: PrepareOptions = {}): PreparedResource<T> {
  const where = "rawResource";
  if (typeof any !== "object" || any === null || typeof any.typeUrl !== "string" || !(any.value instanceof Uint8Array))
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `${where}: expected { typeUrl: string, value: Uint8Array } (a type URL and the message's bytes), got ${describeValue(any)}`,
    );
  const type = resourceTypeOf(any.typeUrl);
  if (!type)
    throw new XdsKitError(
      "UNKNOWN_TYPE_URL",
      `${where}: xdskit does not serve "${any.typeUrl}" (register it with registerResourceType)`,
    );
  const ttlMs = options.ttlMs;
  if (ttlMs !== undefined && !(Number.isSafeInteger(ttlMs) && ttlMs > 0))
    throw new XdsKitError("INVALID_ARGUMENT", `${where}: ttlMs must be a positive integer, got ${ttlMs}`);
  const bytes = any.value;
  let name = options.name;
  const schema = schemaRegistry().getMessage(type.messageName);
  if (schema) {
    let read: unknown;
    try {
      read = fromBinary(schema, bytes);
    } catch (cause) {
      throw new XdsKitError("DECODE_FAILED", `${where}: not a valid ${type.messageName}: ${(cause as Error).message}`, {
        cause,
      });
    }
    // The generated codecs and the descriptor share field names, so the type's nameOf reads either.
    name ??= type.nameOf(read as never);
  }
  if (typeof name !== "string" || name === "")
    throw new XdsKitError("INVALID_ARGUMENT", `${where}: a ${type.kind} given as bytes needs options.name`);
  name = canonicalResourceName(name);
  const hash =
    ttlMs === undefined
      ? contentHash(type.typeUrl, name, bytes)
      : contentHash(type.typeUrl, name, bytes, `ttl=${ttlMs}`);
  const version = options.version ?? hash;
  let decoded: { value: unknown } | undefined;
  const prepared: PreparedResource = Object.freeze({
    type,
    name,
    get resource() {
      if (!decoded) {
        try {
          decoded = { value: type.codec.decode(bytes) };
        } catch {
          decoded = { value: undefined };
        }
      }
      return decoded.value;
    },
    raw: true,
    version,
    bytes,
    any: Object.freeze({ typeUrl: type.typeUrl, value: bytes }),
    ...(ttlMs !== undefined ? { ttlMs } : {}),
  });
  preparedResources.add(prepared);
  return prepared as PreparedResource<T>;
}
