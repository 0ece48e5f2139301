// Decodes SotW DiscoveryRequests without decoding `resource_names` up front. Envoy repeats its whole
// subscription in every ACK (often thousands of names); the stream compares a digest of those bytes with
// the previous request's and decodes the names only when they changed (or someone reads them).
import { createHash } from "node:crypto";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { type DiscoveryRequest, Node } from "@xdskit/core";
import { Status } from "@xdskit/core/services";

const NAMES_DIGEST = Symbol("resourceNamesDigest");

/** A DiscoveryRequest whose `resource_names` decode on first read; carries a digest of their bytes. */
export type LazyDiscoveryRequest = DiscoveryRequest & { readonly [NAMES_DIGEST]?: string };

/** The digest of the request's resource_names bytes, when it has any. */
export function resourceNamesDigest(request: DiscoveryRequest): string | undefined {
  return (request as LazyDiscoveryRequest)[NAMES_DIGEST];
}

export function decodeDiscoveryRequest(bytes: Uint8Array): LazyDiscoveryRequest {
  const reader = new BinaryReader(bytes);
  const request: { -readonly [K in keyof DiscoveryRequest]: DiscoveryRequest[K] } = {};
  const spans: Array<[number, number]> = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [field, wireType] = reader.tag();
    if (field >= 1 && field <= 6 && wireType !== WireType.LengthDelimited)
      throw new Error(`field ${field} has wire type ${wireType}, expected length-delimited`);
    switch (field) {
      case 1:
        request.versionInfo = reader.string();
        break;
      case 2:
        request.node = Node.decode(reader, reader.uint32());
        break;
      case 3: {
        const length = reader.uint32();
        if (reader.pos + length > reader.len) throw new Error("resource_names: truncated");
        reader.pos += length;
        spans.push([start, reader.pos]);
        break;
      }
      case 4:
        request.typeUrl = reader.string();
        break;
      case 5:
        request.responseNonce = reader.string();
        break;
      case 6:
        request.errorDetail = Status.decode(reader, reader.uint32());
        break;
      default:
        // resource_locators (7, xdstp dynamic parameters) and unknown fields are not used by the server.
        reader.skip(wireType, field);
    }
  }
  if (spans.length === 0) return request;
  const digest = createHash("md5");
  for (const [from, to] of spans) digest.update(bytes.subarray(from, to));
  let names: string[] | undefined;
  Object.defineProperty(request, "resourceNames", {
    enumerable: true,
    get() {
      names ??= spans.map(([from, to]) => {
        const field = new BinaryReader(bytes.subarray(from, to));
        field.tag();
        return field.string();
      });
      return names;
    },
  });
  Object.defineProperty(request, NAMES_DIGEST, { value: digest.digest("base64") });
  return request;
}
