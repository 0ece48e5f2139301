// Runtime check of a generated message object (ts-proto's shape) against its descriptor, so that what
// TypeScript's structural typing lets through (a Listener passed as a Cluster) and what plain JavaScript
// passes (null, name: 42, an enum given by name) is refused at the door with the field that is wrong,
// instead of failing deep inside an encoder or being encoded silently as something else.
//
// The shape checked is the one ts-proto generates with this repository's options (proto/README.md):
// fields by lowerCamelCase JSON name, 64-bit integers as numbers, enums as numbers, bytes as Uint8Array,
// maps as plain objects, oneof members as plain optional fields, wrapper types (UInt32Value ...) as their
// value, Struct as a plain object, Value as any JSON value, ListValue as an array.
import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";

/** The first problem found in a message object: where (a field path) and what was expected. */
export interface SchemaProblem {
  /** Field path from the checked message, e.g. `filterChains[0].filters[1].name`; "" for the message itself. */
  readonly path: string;
  readonly message: string;
}

interface Problem {
  segments: string[];
  message: string;
}

const WRAPPERS: Record<string, ScalarType> = {
  "google.protobuf.DoubleValue": ScalarType.DOUBLE,
  "google.protobuf.FloatValue": ScalarType.FLOAT,
  "google.protobuf.Int64Value": ScalarType.INT64,
  "google.protobuf.UInt64Value": ScalarType.UINT64,
  "google.protobuf.Int32Value": ScalarType.INT32,
  "google.protobuf.UInt32Value": ScalarType.UINT32,
  "google.protobuf.BoolValue": ScalarType.BOOL,
  "google.protobuf.StringValue": ScalarType.STRING,
  "google.protobuf.BytesValue": ScalarType.BYTES,
};

const SCALAR_NAMES: Record<ScalarType, string> = {
  [ScalarType.DOUBLE]: "double",
  [ScalarType.FLOAT]: "float",
  [ScalarType.INT64]: "int64",
  [ScalarType.UINT64]: "uint64",
  [ScalarType.INT32]: "int32",
  [ScalarType.FIXED64]: "fixed64",
  [ScalarType.FIXED32]: "fixed32",
  [ScalarType.BOOL]: "bool",
  [ScalarType.STRING]: "string",
  [ScalarType.BYTES]: "bytes",
  [ScalarType.UINT32]: "uint32",
  [ScalarType.SFIXED32]: "sfixed32",
  [ScalarType.SFIXED64]: "sfixed64",
  [ScalarType.SINT32]: "sint32",
  [ScalarType.SINT64]: "sint64",
};

/** A short description of a value for an error message: `42`, `"EDSS"`, `null`, `an array`. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "a Uint8Array";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case "number":
    case "boolean":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "object":
      return "an object";
    default:
      return `a ${typeof value}`;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function fail(message: string): Problem {
  return { segments: [], message };
}

/** "an int32", "a uint32". */
function articled(scalarName: string): string {
  return `${scalarName.startsWith("int") ? "an" : "a"} ${scalarName}`;
}

function checkInteger(value: unknown, min: number, max: number, name: string): Problem | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return undefined;
  return fail(`expected ${articled(name)} (an integer from ${min} to ${max}), got ${describeValue(value)}`);
}

function checkLong(value: unknown, unsigned: boolean, name: string): Problem | undefined {
  if (typeof value === "number" && Number.isInteger(value) && (!unsigned || value >= 0)) return undefined;
  if (typeof value === "bigint" && (!unsigned || value >= 0n)) return undefined;
  return fail(
    `expected ${articled(name)} (${unsigned ? "a non-negative" : "an"} integer number), got ${describeValue(value)}`,
  );
}

function checkScalar(type: ScalarType, value: unknown): Problem | undefined {
  switch (type) {
    case ScalarType.STRING:
      return typeof value === "string" ? undefined : fail(`expected a string, got ${describeValue(value)}`);
    case ScalarType.BOOL:
      return typeof value === "boolean" ? undefined : fail(`expected a boolean, got ${describeValue(value)}`);
    case ScalarType.BYTES:
      return value instanceof Uint8Array
        ? undefined
        : fail(`expected a Uint8Array (bytes), got ${describeValue(value)}`);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return typeof value === "number"
        ? undefined
        : fail(`expected a number (${SCALAR_NAMES[type]}), got ${describeValue(value)}`);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return checkInteger(value, -2147483648, 2147483647, SCALAR_NAMES[type]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return checkInteger(value, 0, 4294967295, SCALAR_NAMES[type]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return checkLong(value, true, SCALAR_NAMES[type]);
    default:
      return checkLong(value, false, SCALAR_NAMES[type]);
  }
}

function enumValuesText(desc: DescEnum): string {
  const shown = desc.values.slice(0, 8).map((v) => `${v.name} = ${v.number}`);
  return shown.join(", ") + (desc.values.length > shown.length ? ", …" : "");
}

function checkEnum(desc: DescEnum, value: unknown): Problem | undefined {
  if (typeof value === "number" && desc.value[value] !== undefined) return undefined;
  const named = typeof value === "string" ? desc.values.find((v) => v.name === value) : undefined;
  const hint = named ? ` (enums are numbers: ${named.name} is ${named.number})` : "";
  return fail(
    `expected a value of enum ${desc.typeName} (a number: ${enumValuesText(desc)}), got ${describeValue(value)}${hint}`,
  );
}

/** What the check needs of a message, worked out once per message type. */
interface MessageInfo {
  /** Fields by the name the generated code gives them. */
  readonly fields: Map<string, DescField>;
  /** A wrapper type (UInt32Value ...), which the generated code holds as its value; undefined for others. */
  readonly wrapped: ScalarType | undefined;
  /** Struct, Value or ListValue, which the generated code holds as plain JSON. */
  readonly json: boolean;
}
const infos = new WeakMap<DescMessage, MessageInfo>();

function infoOf(desc: DescMessage): MessageInfo {
  let info = infos.get(desc);
  if (!info) {
    const name = desc.typeName;
    info = {
      fields: new Map(desc.fields.map((f) => [f.jsonName, f])),
      wrapped: WRAPPERS[name],
      json:
        name === "google.protobuf.Struct" || name === "google.protobuf.Value" || name === "google.protobuf.ListValue",
    };
    infos.set(desc, info);
  }
  return info;
}

function checkMessageValue(desc: DescMessage, value: unknown): Problem | undefined {
  const info = infoOf(desc);
  if (info.wrapped !== undefined) return checkScalar(info.wrapped, value);
  if (!info.json) {
    if (!isPlainObject(value)) return fail(`expected an object (${desc.typeName}), got ${describeValue(value)}`);
    return checkFields(desc, info.fields, value);
  }
  switch (desc.typeName) {
    case "google.protobuf.Struct":
      return isPlainObject(value)
        ? undefined
        : fail(`expected a plain object (google.protobuf.Struct), got ${describeValue(value)}`);
    case "google.protobuf.Value":
      return value === undefined ? fail("expected a JSON value (google.protobuf.Value), got undefined") : undefined;
    case "google.protobuf.ListValue":
      return Array.isArray(value)
        ? undefined
        : fail(`expected an array (google.protobuf.ListValue), got ${describeValue(value)}`);
  }
  return undefined;
}

function checkSingle(field: DescField, value: unknown): Problem | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return checkScalar(field.scalar, value);
    case "enum":
      return checkEnum(field.enum, value);
    case "message":
      return checkMessageValue(field.message, value);
    case "list":
      return field.listKind === "scalar"
        ? checkScalar(field.scalar, value)
        : field.listKind === "enum"
          ? checkEnum(field.enum, value)
          : checkMessageValue(field.message, value);
    case "map":
      return field.mapKind === "scalar"
        ? checkScalar(field.scalar, value)
        : field.mapKind === "enum"
          ? checkEnum(field.enum, value)
          : checkMessageValue(field.message, value);
  }
}

function checkField(field: DescField, value: unknown): Problem | undefined {
  if (field.fieldKind === "list") {
    if (!Array.isArray(value)) return fail(`expected an array (repeated field), got ${describeValue(value)}`);
    for (let i = 0; i < value.length; i++) {
      const problem = checkSingle(field, value[i]);
      if (problem) {
        problem.segments.push(`[${i}]`);
        return problem;
      }
    }
    return undefined;
  }
  if (field.fieldKind === "map") {
    if (!isPlainObject(value)) return fail(`expected a plain object (map field), got ${describeValue(value)}`);
    for (const key in value) {
      const problem = checkSingle(field, value[key]);
      if (problem) {
        problem.segments.push(`[${JSON.stringify(key)}]`);
        return problem;
      }
    }
    return undefined;
  }
  return checkSingle(field, value);
}

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function checkFields(
  desc: DescMessage,
  fields: Map<string, DescField>,
  object: Record<string, unknown>,
): Problem | undefined {
  let oneofs: Map<object, string> | undefined;
  for (const key in object) {
    const value = object[key];
    if (value === undefined) continue;
    const field = fields.get(key);
    if (!field) {
      const camel = snakeToCamel(key);
      const hint = camel !== key && fields.has(camel) ? ` (did you mean "${camel}"?)` : "";
      const problem = fail(`not a field of ${desc.typeName}${hint}`);
      problem.segments.push(key);
      return problem;
    }
    if (field.oneof) {
      oneofs ??= new Map();
      const other = oneofs.get(field.oneof);
      if (other !== undefined) {
        const problem = fail(
          `"${other}" is set too; both are members of the oneof "${field.oneof.name}", so at most one may be set`,
        );
        problem.segments.push(key);
        return problem;
      }
      oneofs.set(field.oneof, key);
    }
    const problem = checkField(field, value);
    if (problem) {
      problem.segments.push(key);
      return problem;
    }
  }
  return undefined;
}

function pathOf(segments: readonly string[]): string {
  let path = "";
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i] as string;
    path += segment.startsWith("[") || path === "" ? segment : `.${segment}`;
  }
  return path;
}

/**
 * Checks `value` against the message `desc` in the shape of this repository's generated code. Returns the
 * first problem, or undefined when the value fits. Cost: proportional to the fields present.
 */
export function checkMessage(desc: DescMessage, value: unknown): SchemaProblem | undefined {
  const problem = checkMessageValue(desc, value);
  return problem && { path: pathOf(problem.segments), message: problem.message };
}

/** `path: message`, or the message alone for a problem with the message itself. */
export function formatSchemaProblem(problem: SchemaProblem): string {
  return problem.path ? `${problem.path}: ${problem.message}` : problem.message;
}
