// Minimal protobuf wire helpers for the hot paths of the load clients and the reference and floor
// servers: shallow readers (envelope fields only, resources and names are counted or skipped) and a
// writer for appending string fields to already-encoded messages. Full messages use the generated codecs.

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** Wire types of the protobuf encoding. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** Cursor over one encoded message. */
export class WireReader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const b = this.buf[this.pos++] as number;
      // Safe up to 2^53; tags and lengths are far smaller.
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new Error("varint too long");
    }
  }

  /** Reads a tag; returns [field number, wire type]. */
  tag(): [number, number] {
    const t = this.varint();
    return [Math.floor(t / 8), t & 7];
  }

  /** Reads a length-delimited field and returns its [start, end) range. */
  lenRange(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new Error("truncated field");
    return [start, this.pos];
  }

  string(): string {
    const [s, e] = this.lenRange();
    return textDecoder.decode(this.buf.subarray(s, e));
  }

  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case I64:
        this.pos += 8;
        return;
      case LEN:
        this.lenRange();
        return;
      case I32:
        this.pos += 4;
        return;
      default:
        throw new Error(`unsupported wire type ${wireType}`);
    }
  }
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** Tag and length of a length-delimited field, to put before `length` bytes of its value. */
export function fieldHeader(field: number, length: number): Uint8Array {
  return Uint8Array.from([...varintBytes(field * 8 + LEN), ...varintBytes(length)]);
}

/** Encodes one length-delimited string field (`field = "value"`), to append to an encoded message. */
export function stringField(field: number, value: string): Uint8Array {
  const body = textEncoder.encode(value);
  const head = fieldHeader(field, body.length);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/** The fields of a SotW DiscoveryResponse that a load client needs; resources are only counted. */
export interface SotwEnvelope {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  resourceCount: number;
}

/** Shallow parse of `envoy.service.discovery.v3.DiscoveryResponse`. */
export function readSotwEnvelope(buf: Uint8Array): SotwEnvelope {
  const r = new WireReader(buf);
  const out: SotwEnvelope = { versionInfo: "", typeUrl: "", nonce: "", resourceCount: 0 };
  while (!r.done()) {
    const [field, wt] = r.tag();
    if (wt !== LEN) {
      r.skip(wt);
      continue;
    }
    switch (field) {
      case 1:
        out.versionInfo = r.string();
        break;
      case 2:
        r.lenRange();
        out.resourceCount++;
        break;
      case 4:
        out.typeUrl = r.string();
        break;
      case 5:
        out.nonce = r.string();
        break;
      default:
        r.skip(wt);
    }
  }
  return out;
}

/** The fields of a DeltaDiscoveryResponse that a load client needs. */
export interface DeltaEnvelope {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  resourceCount: number;
  removedCount: number;
  /** Set when `wantName` was passed and a resource of that name is in the response. */
  hasWanted: boolean;
}

/** Name of a `discovery.v3.Resource` (field 3), without decoding the rest. */
function resourceName(r: WireReader, start: number, end: number): string {
  const sub = new WireReader(r.buf, start, end);
  while (!sub.done()) {
    const [field, wt] = sub.tag();
    if (field === 3 && wt === LEN) return sub.string();
    sub.skip(wt);
  }
  return "";
}

/** Shallow parse of `envoy.service.discovery.v3.DeltaDiscoveryResponse`. */
export function readDeltaEnvelope(buf: Uint8Array, wantName?: string): DeltaEnvelope {
  const r = new WireReader(buf);
  const out: DeltaEnvelope = {
    systemVersionInfo: "",
    typeUrl: "",
    nonce: "",
    resourceCount: 0,
    removedCount: 0,
    hasWanted: false,
  };
  while (!r.done()) {
    const [field, wt] = r.tag();
    if (wt !== LEN) {
      r.skip(wt);
      continue;
    }
    switch (field) {
      case 1:
        out.systemVersionInfo = r.string();
        break;
      case 2: {
        const [s, e] = r.lenRange();
        out.resourceCount++;
        if (wantName !== undefined && !out.hasWanted && resourceName(r, s, e) === wantName) out.hasWanted = true;
        break;
      }
      case 4:
        out.typeUrl = r.string();
        break;
      case 5:
        out.nonce = r.string();
        break;
      case 6:
        r.lenRange();
        out.removedCount++;
        break;
      default:
        r.skip(wt);
    }
  }
  return out;
}

/**
 * The fields of a DiscoveryRequest / DeltaDiscoveryRequest the floor server reads. Everything else (node,
 * resource names, initial versions, locators) is skipped by its length, and error_detail is only noted.
 */
export interface RequestEnvelope {
  typeUrl: string;
  nonce: string;
  /** SotW only (delta requests carry no version). */
  versionInfo: string;
  hasErrorDetail: boolean;
  /** Delta only: `resource_names_subscribe` is non-empty. */
  subscribes: boolean;
}

/**
 * Shallow parse of `envoy.service.discovery.v3.DiscoveryRequest` (SotW: version_info = 1, type_url = 4,
 * response_nonce = 5, error_detail = 6) or `DeltaDiscoveryRequest` (delta: type_url = 2,
 * resource_names_subscribe = 3, response_nonce = 6, error_detail = 7). Other fields are not decoded.
 * A SotW EDS ACK repeats the whole subscription (R=1000: ~1,000 names, ~49 KB) before the nonce, so this is
 * one tight loop over tags and lengths, with no per-field allocation.
 */
export function readRequestEnvelope(buf: Uint8Array, delta: boolean): RequestEnvelope {
  const out: RequestEnvelope = { typeUrl: "", nonce: "", versionInfo: "", hasErrorDetail: false, subscribes: false };
  const typeTag = ((delta ? 2 : 4) << 3) | LEN;
  const nonceTag = ((delta ? 6 : 5) << 3) | LEN;
  const errorTag = ((delta ? 7 : 6) << 3) | LEN;
  const versionTag = delta ? -1 : (1 << 3) | LEN;
  const subscribeTag = delta ? (3 << 3) | LEN : -1;
  const end = buf.length;
  // `pos` stays a local (no closure over it); one-byte tags and lengths, the common case, are read inline.
  let pos = 0;
  while (pos < end) {
    let tag = buf[pos++] as number;
    if (tag >= 0x80) {
      tag = longVarint(buf, pos - 1, end);
      pos = varintEnd;
    }
    const wt = tag & 7;
    if (wt !== LEN) {
      if (wt === VARINT) {
        longVarint(buf, pos, end);
        pos = varintEnd;
      } else if (wt === I64) pos += 8;
      else if (wt === I32) pos += 4;
      else throw new Error(`unsupported wire type ${wt}`);
      continue;
    }
    let len = pos < end ? (buf[pos] as number) : 0x80;
    if (len < 0x80) pos++;
    else {
      len = longVarint(buf, pos, end);
      pos = varintEnd;
    }
    const start = pos;
    pos += len;
    if (pos > end) throw new Error("truncated field");
    if (tag === typeTag) out.typeUrl = textDecoder.decode(buf.subarray(start, pos));
    else if (tag === nonceTag) out.nonce = textDecoder.decode(buf.subarray(start, pos));
    else if (tag === versionTag) out.versionInfo = textDecoder.decode(buf.subarray(start, pos));
    else if (tag === errorTag) out.hasErrorDetail = true;
    else if (tag === subscribeTag) out.subscribes = true;
  }
  if (pos > end) throw new Error("truncated field");
  return out;
}

/** Where the varint read by `longVarint` ended (a module variable, so that no result object is allocated). */
let varintEnd = 0;

/** Reads the varint at `pos` (any length); sets `varintEnd`. */
function longVarint(buf: Uint8Array, pos: number, end: number): number {
  let result = 0;
  let scale = 1;
  for (let p = pos; ; ) {
    if (p >= end) throw new Error("truncated varint");
    const b = buf[p++] as number;
    result += (b & 0x7f) * scale;
    if (b < 0x80) {
      varintEnd = p;
      return result;
    }
    scale *= 0x80;
    if (scale > 2 ** 63) throw new Error("varint too long");
  }
}

/** Concatenates encoded fragments of one message (protobuf merges concatenated encodings). */
export function concatBytes(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}
