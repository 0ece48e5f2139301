// Decodes SotW DiscoveryRequests without decoding `resource_names` up front. Envoy repeats its whole
// subscription in every ACK (often thousands of names); the stream compares those bytes with its
// subscription's and decodes the names only when they changed (or someone reads them).
import { createHash } from "node:crypto";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { DiscoveryRequest, Node } from "@xdskit/core";
import { Status } from "@xdskit/core/services";

const NAMES_RUN = Symbol("resourceNamesRun");
const RESOURCE_NAMES_TAG = (3 << 3) | WireType.LengthDelimited;
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** A DiscoveryRequest whose `resource_names` decode on first read; carries the bytes they were encoded in. */
export type LazyDiscoveryRequest = DiscoveryRequest & { readonly [NAMES_RUN]?: Uint8Array };

/**
 * The bytes of the request's resource_names fields (tags included), when they form one run, the way every
 * encoder we know of writes them. Valid while the request is being handled.
 */
export function resourceNamesRun(request: DiscoveryRequest): Uint8Array | undefined {
  return (request as LazyDiscoveryRequest)[NAMES_RUN];
}

/** A digest telling name runs apart, for sharing subscriptions between streams (SHA-256, hardware-accelerated). */
export function digestOfRun(run: Uint8Array): string {
  return createHash("sha256").update(run).digest("base64");
}

/** Position after the varint read by {@link varint}: a module variable, so reading one allocates nothing. */
let after = 0;

/** Reads an unsigned varint of up to 32 bits (tags and lengths) at `pos`. */
function varint(bytes: Uint8Array, pos: number): number {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= bytes.length) throw new Error("premature EOF: truncated varint");
    const byte = bytes[pos++] as number;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) {
      if (value > 0xffffffff) break;
      after = pos;
      return value;
    }
  }
  throw new Error("invalid varint: more than 32 bits");
}

export function decodeDiscoveryRequest(bytes: Uint8Array): LazyDiscoveryRequest {
  const request: { -readonly [K in keyof DiscoveryRequest]: DiscoveryRequest[K] } = {};
  const end = bytes.length;
  // The names' byte run: one contiguous run in every encoder we know of; otherwise decode them eagerly.
  let namesStart = -1;
  let namesEnd = -1;
  let contiguous = true;
  let pos = 0;
  while (pos < end) {
    const start = pos;
    const tag = varint(bytes, pos);
    pos = after;
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 0) throw new Error(`illegal tag: field no 0 wire type ${wireType}`);
    if (field > 6) {
      // resource_locators (7, xdstp dynamic parameters) and unknown fields are not used by the server.
      const reader = new BinaryReader(bytes);
      reader.pos = pos;
      reader.skip(wireType, field);
      pos = reader.pos;
      continue;
    }
    if (wireType !== WireType.LengthDelimited)
      throw new Error(`field ${field} has wire type ${wireType}, expected length-delimited`);
    const length = varint(bytes, pos);
    pos = after;
    const next = pos + length;
    if (next > end) throw new Error(`premature EOF: field ${field} is truncated`);
    if (field === 3) {
      // Usually a run of names: skip them in a tight loop while the next field is a name too.
      if (namesStart < 0) namesStart = start;
      else if (start !== namesEnd) contiguous = false;
      pos = next;
      while (pos < end && bytes[pos] === RESOURCE_NAMES_TAG) {
        const short = bytes[pos + 1] as number; // names shorter than 128 bytes: a one-byte length
        pos = short < 0x80 ? pos + 2 + short : varint(bytes, pos + 1) + after;
        if (pos > end) throw new Error("premature EOF: resource_names is truncated");
      }
      namesEnd = pos;
      continue;
    }
    const value = bytes.subarray(pos, next);
    pos = next;
    switch (field) {
      case 1:
        request.versionInfo = utf8.decode(value);
        break;
      case 2:
        request.node = Node.decode(value);
        break;
      case 4:
        request.typeUrl = utf8.decode(value);
        break;
      case 5:
        request.responseNonce = utf8.decode(value);
        break;
      case 6:
        request.errorDetail = Status.decode(value);
        break;
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
        for (let at = 0; at < run.length; ) {
          const length = varint(run, at + 1);
          names.push(utf8.decode(run.subarray(after, after + length)));
          at = after + length;
        }
      }
      return names;
    },
  });
  Object.defineProperty(request, NAMES_RUN, { value: run });
  return request;
}
