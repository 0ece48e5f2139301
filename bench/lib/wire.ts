// Minimal protobuf wire helpers for the hot paths of the load clients and the reference server:
// a shallow reader (envelope fields only, resources are counted and skipped) and a writer for
// appending string fields to already-encoded messages. Full messages use the generated codecs.

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

/** Encodes one length-delimited string field (`field = "value"`), to append to an encoded message. */
export function stringField(field: number, value: string): Uint8Array {
  const body = textEncoder.encode(value);
  const head = [...varintBytes(field * 8 + LEN), ...varintBytes(body.length)];
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

/** Concatenates encoded fragments of one message (protobuf merges concatenated encodings). */
export function concatBytes(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}
