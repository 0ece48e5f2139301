// Hand-assembled DiscoveryResponse / DeltaDiscoveryResponse bytes. Every resource's packed bytes come
// from @xdskit/core's PreparedResource (encoded once); a response body is encoded once and shared by
// every stream that gets it; only the nonce is appended per stream.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { type PreparedResource, typeUrlOf } from "@xdskit/core";
import type { DeltaResponse, SotwResponse } from "@xdskit/core/watcher";

/** Type URL of envoy.service.discovery.v3.Resource, the wrapper SotW uses to carry a TTL (XDS-RULES R31). */
export const RESOURCE_WRAPPER_TYPE_URL = typeUrlOf("envoy.service.discovery.v3.Resource");

const anyBytesCache = new WeakMap<PreparedResource, Uint8Array>();
const deltaResourceCache = new WeakMap<PreparedResource, Uint8Array>();
const wrappedAnyCache = new WeakMap<PreparedResource, Uint8Array>();
const sotwBodyCache = new WeakMap<SotwResponse, Uint8Array>();
const sotwWrappedBodyCache = new WeakMap<SotwResponse, Uint8Array>();

/** google.protobuf.Any { type_url = 1; value = 2 } of a prepared resource. */
export function anyBytes(resource: PreparedResource): Uint8Array {
  let bytes = anyBytesCache.get(resource);
  if (!bytes) {
    bytes = new BinaryWriter().uint32(10).string(resource.type.typeUrl).uint32(18).bytes(resource.bytes).finish();
    anyBytesCache.set(resource, bytes);
  }
  return bytes;
}

/** envoy.service.discovery.v3.Resource { version = 1; resource = 2; name = 3; ttl = 6 }. */
export function deltaResourceBytes(resource: PreparedResource): Uint8Array {
  let bytes = deltaResourceCache.get(resource);
  if (!bytes) {
    const writer = new BinaryWriter()
      .uint32(10)
      .string(resource.version)
      .uint32(18)
      .bytes(anyBytes(resource))
      .uint32(26)
      .string(resource.name);
    if (resource.ttlMs !== undefined) writeDuration(writer, 6, resource.ttlMs);
    bytes = writer.finish();
    deltaResourceCache.set(resource, bytes);
  }
  return bytes;
}

/** What a heartbeat refreshes: a resource the client has, at the version it has, with its TTL (R30). */
export interface HeartbeatEntry {
  readonly name: string;
  readonly version: string;
  readonly ttlMs: number;
}

/** A heartbeat Resource { version = 1; name = 3; ttl = 6 }: `resource` unset (XDS-RULES R30). */
function heartbeatResourceBytes(entry: HeartbeatEntry): Uint8Array {
  const writer = new BinaryWriter().uint32(10).string(entry.version).uint32(26).string(entry.name);
  writeDuration(writer, 6, entry.ttlMs);
  return writer.finish();
}

/** The resource wrapped for SotW TTL: Any { type_url = discovery.v3.Resource, value = Resource }. */
function wrappedAnyBytes(resource: PreparedResource): Uint8Array {
  let bytes = wrappedAnyCache.get(resource);
  if (!bytes) {
    bytes = wrapAny(deltaResourceBytes(resource));
    wrappedAnyCache.set(resource, bytes);
  }
  return bytes;
}

function wrapAny(resourceBytes: Uint8Array): Uint8Array {
  return new BinaryWriter().uint32(10).string(RESOURCE_WRAPPER_TYPE_URL).uint32(18).bytes(resourceBytes).finish();
}

function writeDuration(writer: BinaryWriter, field: number, ms: number): void {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1_000_000;
  writer.uint32((field << 3) | 2).fork();
  if (seconds) writer.uint32(8).int64(seconds);
  if (nanos) writer.uint32(16).int32(nanos);
  writer.join();
}

/**
 * DiscoveryResponse { version_info = 1; resources = 2; type_url = 4; nonce = 5 }. With `wrapTtl` (a client
 * announcing SotW TTL support, R31) resources that have a TTL go out wrapped in discovery.v3.Resource.
 */
/** A response encoded once, complete with a nonce of its own, for every stream that gets it. */
export interface SharedEncoding {
  /** The gRPC message, framed (see {@link framedMessage}). */
  readonly bytes: Buffer;
  readonly nonce: string;
  /** Increases with every shared encoding (see StreamBase.sharedEncoding). */
  readonly seq: number;
}

let sharedSeq = 0;
const sharedSotw = new WeakMap<SotwResponse, SharedEncoding>();
const sharedSotwWrapped = new WeakMap<SotwResponse, SharedEncoding>();
const sharedDelta = new WeakMap<DeltaResponse, SharedEncoding>();

function shared<R extends object>(cache: WeakMap<R, SharedEncoding>, response: R, encode: (nonce: string) => Buffer) {
  let encoded = cache.get(response);
  if (!encoded) {
    const seq = ++sharedSeq;
    const nonce = `g${seq.toString(36)}`;
    encoded = { bytes: encode(nonce), nonce, seq };
    cache.set(response, encoded);
  }
  return encoded;
}

/** The SotW response with a shared nonce, encoded once however many streams send it. */
export function sharedSotwEncoding(response: SotwResponse, wrapTtl = false): SharedEncoding {
  const wrap = wrapTtl && response.resources.some((r) => r.ttlMs !== undefined);
  return shared(wrap ? sharedSotwWrapped : sharedSotw, response, (nonce) => framedSotwResponse(response, nonce, wrap));
}

/** The delta response with a shared nonce, encoded once however many streams send it. */
export function sharedDeltaEncoding(response: DeltaResponse): SharedEncoding {
  return shared(sharedDelta, response, (nonce) => framedDeltaResponse(response, nonce));
}

/** The DiscoveryResponse message (unframed, e.g. for REST). */
export function encodeSotwResponse(response: SotwResponse, nonce: string, wrapTtl = false): Uint8Array {
  return framedSotwResponse(response, nonce, wrapTtl).subarray(GRPC_PREFIX);
}

/** The DiscoveryResponse as a framed gRPC message. */
export function framedSotwResponse(response: SotwResponse, nonce: string, wrapTtl = false): Buffer {
  const wrap = wrapTtl && response.resources.some((r) => r.ttlMs !== undefined);
  const cache = wrap ? sotwWrappedBodyCache : sotwBodyCache;
  let body = cache.get(response);
  if (!body) {
    const writer = new BinaryWriter();
    if (response.version) writer.uint32(10).string(response.version);
    for (const resource of response.resources)
      writer.uint32(18).bytes(wrap && resource.ttlMs !== undefined ? wrappedAnyBytes(resource) : anyBytes(resource));
    writer.uint32(34).string(response.typeUrl);
    body = writer.finish();
    cache.set(response, body);
  }
  return framedMessage(body, new BinaryWriter().uint32(42).string(nonce).finish());
}

/** A SotW heartbeat: the type's last accepted version, each entry a wrapped Resource without body (R30, R31). */
export function encodeSotwHeartbeat(
  typeUrl: string,
  version: string,
  entries: readonly HeartbeatEntry[],
  nonce: string,
): Uint8Array {
  const writer = new BinaryWriter();
  if (version) writer.uint32(10).string(version);
  for (const entry of entries) writer.uint32(18).bytes(wrapAny(heartbeatResourceBytes(entry)));
  return writer.uint32(34).string(typeUrl).uint32(42).string(nonce).finish();
}

/**
 * DeltaDiscoveryResponse { system_version_info = 1; resources = 2; type_url = 4; nonce = 5;
 * removed_resources = 6 }. VHDS aliases (R28) are appended to their Resource as `aliases = 4`.
 */
export function encodeDeltaResponse(response: DeltaResponse, nonce: string): Uint8Array {
  return framedDeltaResponse(response, nonce).subarray(GRPC_PREFIX);
}

/** The DeltaDiscoveryResponse as a framed gRPC message. */
export function framedDeltaResponse(response: DeltaResponse, nonce: string): Buffer {
  let body = deltaBodyCache.get(response);
  if (!body) {
    body = encodeDeltaBody(response);
    deltaBodyCache.set(response, body);
  }
  // Field order does not matter in protobuf: the shared body first, this stream's nonce last.
  return framedMessage(body, new BinaryWriter().uint32(42).string(nonce).finish());
}

const deltaBodyCache = new WeakMap<DeltaResponse, Uint8Array>();

function encodeDeltaBody(response: DeltaResponse): Uint8Array {
  const writer = new BinaryWriter();
  if (response.version) writer.uint32(10).string(response.version);
  for (const resource of response.resources) {
    const aliases = response.aliases?.get(resource.name);
    if (!aliases || aliases.length === 0) {
      writer.uint32(18).bytes(deltaResourceBytes(resource));
      continue;
    }
    const extra = new BinaryWriter();
    for (const alias of aliases) extra.uint32(34).string(alias);
    writer.uint32(18).bytes(concat(deltaResourceBytes(resource), extra.finish()));
  }
  // An alias nothing serves: Resource { name = alias; aliases = [alias] }, no body.
  for (const alias of response.unresolvedAliases ?? [])
    writer.uint32(18).bytes(new BinaryWriter().uint32(26).string(alias).uint32(34).string(alias).finish());
  writer.uint32(34).string(response.typeUrl);
  for (const name of response.removed) writer.uint32(50).string(name);
  return writer.finish();
}

/** A delta heartbeat: one Resource without body per entry, at the version the client has (R30). */
export function encodeDeltaHeartbeat(typeUrl: string, entries: readonly HeartbeatEntry[], nonce: string): Uint8Array {
  const writer = new BinaryWriter();
  for (const entry of entries) writer.uint32(18).bytes(heartbeatResourceBytes(entry));
  return writer.uint32(34).string(typeUrl).uint32(42).string(nonce).finish();
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Bytes of the gRPC length prefix: a compressed flag and a 32-bit big-endian length. */
export const GRPC_PREFIX = 5;

/**
 * A gRPC message of these parts, with its length prefix in front: the bytes of a DATA frame's payload, so the
 * same buffer can be written to every stream that sends it, without a copy per stream.
 */
export function framedMessage(...parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = Buffer.allocUnsafe(GRPC_PREFIX + length);
  out[0] = 0;
  out.writeUInt32BE(length, 1);
  let at = GRPC_PREFIX;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
