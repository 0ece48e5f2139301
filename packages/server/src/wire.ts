// Hand-assembled DiscoveryResponse / DeltaDiscoveryResponse bytes. Every resource's packed bytes come
// from @xdskit/core's PreparedResource (encoded once); a response body is encoded once and shared by
// every stream that gets it; only the nonce is appended per stream.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import type { DeltaResponse, PreparedResource, SotwResponse } from "@xdskit/core";

const anyBytesCache = new WeakMap<PreparedResource, Uint8Array>();
const deltaResourceCache = new WeakMap<PreparedResource, Uint8Array>();
const sotwBodyCache = new WeakMap<SotwResponse, Uint8Array>();

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

function writeDuration(writer: BinaryWriter, field: number, ms: number): void {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1_000_000;
  writer.uint32((field << 3) | 2).fork();
  if (seconds) writer.uint32(8).int64(seconds);
  if (nanos) writer.uint32(16).int32(nanos);
  writer.join();
}

/** DiscoveryResponse { version_info = 1; resources = 2; type_url = 4; nonce = 5 }. */
export function encodeSotwResponse(response: SotwResponse, nonce: string): Uint8Array {
  let body = sotwBodyCache.get(response);
  if (!body) {
    const writer = new BinaryWriter();
    if (response.version) writer.uint32(10).string(response.version);
    for (const resource of response.resources) writer.uint32(18).bytes(anyBytes(resource));
    writer.uint32(34).string(response.typeUrl);
    body = writer.finish();
    sotwBodyCache.set(response, body);
  }
  return concat(body, new BinaryWriter().uint32(42).string(nonce).finish());
}

/** DeltaDiscoveryResponse { system_version_info = 1; resources = 2; type_url = 4; nonce = 5; removed_resources = 6 }. */
export function encodeDeltaResponse(response: DeltaResponse, nonce: string): Uint8Array {
  const writer = new BinaryWriter();
  if (response.version) writer.uint32(10).string(response.version);
  for (const resource of response.resources) writer.uint32(18).bytes(deltaResourceBytes(resource));
  writer.uint32(34).string(response.typeUrl);
  writer.uint32(42).string(nonce);
  for (const name of response.removed) writer.uint32(50).string(name);
  return writer.finish();
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
