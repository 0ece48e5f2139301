// Checks an Istio spec written as JSON/YAML against its protobuf message before decoding it, so that every
// problem is reported with the field's path ("http[0].timeout: "banana" is not a Duration") instead of the
// first one without a path. It also normalises what Istio's decoder (Go's legacy jsonpb) accepts but proto3
// JSON does not: Go-style durations such as "1m30s" or "1h".
import { type JsonValue, schemaRegistry } from "@xdskit/core";

type Registry = ReturnType<typeof schemaRegistry>;
type DescMessage = NonNullable<ReturnType<Registry["getMessage"]>>;
type DescField = DescMessage["fields"][number];
type DescEnum = NonNullable<ReturnType<Registry["getEnum"]>>;

/** A problem at a path relative to the decoded message (`http[0].timeout`). */
export interface DecodeProblem {
  readonly path: string;
  readonly message: string;
  /** Unknown fields are ignored with a warning (Istio's decoder drops them too); the rest reject the object. */
  readonly severity: "error" | "warning";
}

export interface CheckedJson {
  /** The input with durations normalised to proto3 JSON (`"90s"`); only meaningful without errors. */
  readonly json: JsonValue;
  readonly problems: DecodeProblem[];
}

// protobuf ScalarType numbers (descriptor.proto's FieldDescriptorProto.Type); the signed 32-bit kinds
// (INT32, SINT32, SFIXED32) all take the integer branch.
const DOUBLE = 1;
const FLOAT = 2;
const INT64 = 3;
const UINT64 = 4;
const INT32 = 5;
const FIXED64 = 6;
const FIXED32 = 7;
const BOOL = 8;
const STRING = 9;
const BYTES = 12;
const UINT32 = 13;
const SFIXED64 = 16;
const SINT64 = 18;

const WRAPPERS: Record<string, number> = {
  "google.protobuf.DoubleValue": DOUBLE,
  "google.protobuf.FloatValue": FLOAT,
  "google.protobuf.Int64Value": INT64,
  "google.protobuf.UInt64Value": UINT64,
  "google.protobuf.Int32Value": INT32,
  "google.protobuf.UInt32Value": UINT32,
  "google.protobuf.BoolValue": BOOL,
  "google.protobuf.StringValue": STRING,
  "google.protobuf.BytesValue": BYTES,
};

/** Checks `json` against the protobuf message `messageName` (which must exist in core's schema registry). */
export function checkMessageJson(messageName: string, json: unknown): CheckedJson {
  const desc = schemaRegistry().getMessage(messageName);
  const problems: DecodeProblem[] = [];
  if (!desc) return { json: json as JsonValue, problems };
  const out = checkMessage(desc, json, "", problems);
  return { json: out as JsonValue, problems };
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);
const show = (value: unknown) =>
  typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? "null");

function typeOfJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return show(value);
}

function checkMessage(desc: DescMessage, value: unknown, path: string, problems: DecodeProblem[]): unknown {
  const special = checkWellKnown(desc, value, path, problems);
  if (special.handled) return special.value;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    problems.push({
      path,
      message: `${typeOfJson(value)} is not an object (${desc.name} expected)`,
      severity: "error",
    });
    return value;
  }
  const byName = new Map<string, DescField>();
  for (const field of desc.fields) {
    byName.set(field.jsonName, field);
    byName.set(field.name, field);
  }
  const out: Record<string, unknown> = {};
  const oneofsSeen = new Map<string, string>();
  for (const [key, child] of Object.entries(value)) {
    const field = byName.get(key);
    const childPath = join(path, key);
    if (!field) {
      problems.push({ path: childPath, message: `unknown field "${key}" in ${desc.typeName}`, severity: "warning" });
      continue;
    }
    if (child === null) continue;
    if (field.oneof) {
      const previous = oneofsSeen.get(field.oneof.name);
      if (previous)
        problems.push({
          path: childPath,
          message: `only one of ${previous} and ${key} may be set (oneof ${field.oneof.name})`,
          severity: "error",
        });
      oneofsSeen.set(field.oneof.name, key);
    }
    out[key] = checkField(field, child, childPath, problems);
  }
  return out;
}

function checkField(field: DescField, value: unknown, path: string, problems: DecodeProblem[]): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return checkScalar(field.scalar, value, path, problems);
    case "enum":
      return checkEnum(field.enum, value, path, problems);
    case "message":
      return checkMessage(field.message, value, path, problems);
    case "list": {
      if (!Array.isArray(value)) {
        problems.push({ path, message: `${typeOfJson(value)} is not a list`, severity: "error" });
        return value;
      }
      return value.map((item, i) => {
        const itemPath = `${path}[${i}]`;
        if (field.listKind === "scalar") return checkScalar(field.scalar, item, itemPath, problems);
        if (field.listKind === "enum") return checkEnum(field.enum, item, itemPath, problems);
        return checkMessage(field.message, item, itemPath, problems);
      });
    }
    case "map": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        problems.push({ path, message: `${typeOfJson(value)} is not a mapping`, severity: "error" });
        return value;
      }
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const itemPath = `${path}.${key}`;
        if (item === null) continue;
        out[key] =
          field.mapKind === "scalar"
            ? checkScalar(field.scalar, item, itemPath, problems)
            : field.mapKind === "enum"
              ? checkEnum(field.enum, item, itemPath, problems)
              : checkMessage(field.message, item, itemPath, problems);
      }
      return out;
    }
  }
}

function checkEnum(desc: DescEnum, value: unknown, path: string, problems: DecodeProblem[]): unknown {
  if (typeof value === "string" && desc.values.some((v) => v.name === value)) return value;
  if (typeof value === "number" && Number.isInteger(value)) return value; // proto3 enums are open
  const names = desc.values.map((v) => v.name).join(", ");
  problems.push({ path, message: `${show(value)} is not one of ${names}`, severity: "error" });
  return value;
}

function checkScalar(scalar: number, value: unknown, path: string, problems: DecodeProblem[]): unknown {
  const fail = (what: string) => {
    problems.push({ path, message: `${typeOfJson(value)} is not ${what}`, severity: "error" });
    return value;
  };
  switch (scalar) {
    case STRING:
      return typeof value === "string" ? value : fail("a string");
    case BYTES:
      return typeof value === "string" && /^[A-Za-z0-9+/_-]*=*$/.test(value) ? value : fail("base64 bytes");
    case BOOL:
      return typeof value === "boolean" ? value : fail("a boolean");
    case DOUBLE:
    case FLOAT:
      if (typeof value === "number") return value;
      if (
        typeof value === "string" &&
        (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value) || /^-?Infinity$|^NaN$/.test(value))
      )
        return value;
      return fail("a number");
    default: {
      const unsigned = scalar === UINT32 || scalar === UINT64 || scalar === FIXED32 || scalar === FIXED64;
      const is64 =
        scalar === INT64 || scalar === UINT64 || scalar === FIXED64 || scalar === SFIXED64 || scalar === SINT64;
      const text = typeof value === "number" ? String(value) : typeof value === "string" ? value : undefined;
      if (text === undefined || !/^-?\d+$/.test(text)) return fail(unsigned ? "an unsigned integer" : "an integer");
      const n = BigInt(text);
      const bits = is64 ? 64n : 32n;
      const [min, max] = unsigned ? [0n, 2n ** bits - 1n] : [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n];
      if (n < min || n > max) {
        problems.push({ path, message: `${text} is out of range [${min}, ${max}]`, severity: "error" });
        return value;
      }
      if (!is64 && typeof value === "string") return Number(value);
      return value;
    }
  }
}

function checkWellKnown(
  desc: DescMessage,
  value: unknown,
  path: string,
  problems: DecodeProblem[],
): { handled: boolean; value?: unknown } {
  const wrapped = WRAPPERS[desc.typeName];
  if (wrapped !== undefined) return { handled: true, value: checkScalar(wrapped, value, path, problems) };
  switch (desc.typeName) {
    case "google.protobuf.Duration": {
      const seconds = typeof value === "string" ? parseGoDuration(value) : undefined;
      if (seconds === undefined) {
        problems.push({ path, message: `${typeOfJson(value)} is not a Duration`, severity: "error" });
        return { handled: true, value };
      }
      return { handled: true, value: seconds };
    }
    case "google.protobuf.Timestamp":
      if (typeof value === "string" && !Number.isNaN(Date.parse(value))) return { handled: true, value };
      problems.push({ path, message: `${typeOfJson(value)} is not a Timestamp (RFC 3339)`, severity: "error" });
      return { handled: true, value };
    case "google.protobuf.Struct":
      if (value !== null && typeof value === "object" && !Array.isArray(value)) return { handled: true, value };
      problems.push({ path, message: `${typeOfJson(value)} is not a mapping`, severity: "error" });
      return { handled: true, value };
    case "google.protobuf.ListValue":
      if (Array.isArray(value)) return { handled: true, value };
      problems.push({ path, message: `${typeOfJson(value)} is not a list`, severity: "error" });
      return { handled: true, value };
    case "google.protobuf.Value":
    case "google.protobuf.Any":
    case "google.protobuf.FieldMask":
    case "google.protobuf.Empty":
      return { handled: true, value };
    default:
      return { handled: false };
  }
}

const UNIT_NANOS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/**
 * A duration as Go's time.ParseDuration reads it ("7s", "1m30s", "1.5h", "300ms", "0") — which is what
 * Istio's decoder accepts — as proto3 JSON seconds ("90s", "0.300000000s"). Undefined when it is not one.
 */
export function parseGoDuration(text: string): string | undefined {
  let rest = text.trim();
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-");
    rest = rest.slice(1);
  }
  if (rest === "0") return "0s";
  if (!rest) return undefined;
  let nanos = 0n;
  const part = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (rest) {
    const m = part.exec(rest);
    if (!m || (m[1] === "" && (m[2] ?? "") === "")) return undefined;
    const unit = UNIT_NANOS[m[3] as string] as bigint;
    const whole = BigInt(m[1] || "0");
    const fraction = m[2] ?? "";
    let value = whole * unit;
    if (fraction) value += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    nanos += value;
    rest = rest.slice(m[0].length);
  }
  const seconds = nanos / 1_000_000_000n;
  const fraction = nanos % 1_000_000_000n;
  const body = fraction === 0n ? `${seconds}s` : `${seconds}.${fraction.toString().padStart(9, "0")}s`;
  return negative ? `-${body}` : body;
}
