// Decodes SotW DiscoveryRequests without decoding `resource_names` up front. Envoy repeats its whole
// subscription in every ACK (often thousands of names); the stream compares a digest of those bytes with
// the previous request's and decodes the names only when they changed (or someone reads them).
import { createHash } from "node:crypto";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { DiscoveryRequest, Node } from "@xdskit/core";
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
  // The names' byte run: one contiguous run in every encoder we know of; otherwise decode them eagerly.
  let namesStart = -1;
  let namesEnd = -1;
  let contiguous = true;
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
        if (namesStart < 0) namesStart = start;
        else if (start !== namesEnd) contiguous = false;
        namesEnd = reader.pos;
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
  if (namesStart < 0) return request;
  if (!contiguous) {
    request.resourceNames = DiscoveryRequest.decode(bytes).resourceNames ?? [];
    return request;
  }
  const run = bytes.subarray(namesStart, namesEnd);
  let names: string[] | undefined;
  Object.defineProperty(request, "resourceNames", {
    enumerable: true,
    get() {
      if (!names) {
        names = [];
        const field = new BinaryReader(run);
        while (field.pos < field.len) {
          field.tag();
          names.push(field.string());
        }
      }
      return names;
    },
  });
  // SHA-256 is the fastest digest here (hardware-accelerated); it only has to tell requests apart.
  Object.defineProperty(request, NAMES_DIGEST, { value: createHash("sha256").update(run).digest("base64") });
  return request;
}
