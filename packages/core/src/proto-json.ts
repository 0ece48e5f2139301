// Reflection over the generated schema: canonical proto3 JSON (Any with "@type", Duration as "1s",
// Struct as plain JSON) for REST discovery, config dumps and configs written as JSON or YAML.
// The schema is the FileDescriptorSet produced by the same protoc run as the generated codecs.
import {
  createFileRegistry,
  type DescField,
  type DescMessage,
  type FileRegistry,
  fromBinary,
  fromJson,
  type JsonValue,
  ScalarType,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { XdsKitError } from "./errors.js";
import { descriptorSetBase64 } from "./gen/descriptor-set.js";
import type { MessageCodec, ResourceType } from "./resource-types.js";
import { checkMessage, describeValue, formatSchemaProblem } from "./schema-check.js";

export type { JsonValue } from "@bufbuild/protobuf";

let registry: FileRegistry | undefined;

/** The registry of every message type in packages/core/src/gen, built on first use. */
export function schemaRegistry(): FileRegistry {
  registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, "base64")));
  return registry;
}

function messageDesc(messageName: string): DescMessage {
  const desc = schemaRegistry().getMessage(messageName);
  if (!desc) throw new XdsKitError("UNKNOWN_MESSAGE_TYPE", `unknown message type "${messageName}"`);
  return desc;
}

// Which message each codec encodes: a ts-proto codec's `fromPartial({})` holds every field of its message
// (undefined, [] or {}), so its keys identify the message among the descriptors.
const codecMatches = new WeakMap<object, Map<string, boolean>>();

/**
 * The descriptor of `messageName`, after checking that `codec` is that message's codec. Throws
 * {@link XdsKitError} `UNKNOWN_MESSAGE_TYPE` for a name the schema does not hold (a typo) and
 * `INVALID_ARGUMENT` for a codec of another message (HttpConnectionManager's codec given with Router's name).
 */
export function descOfCodec(messageName: string, codec: MessageCodec<unknown>, where: string): DescMessage {
  const desc = schemaRegistry().getMessage(messageName);
  if (!desc) throw new XdsKitError("UNKNOWN_MESSAGE_TYPE", `${where}: unknown message type "${messageName}"`);
  let byName = codecMatches.get(codec);
  if (!byName) {
    byName = new Map();
    codecMatches.set(codec, byName);
  }
  let matches = byName.get(messageName);
  if (matches === undefined) {
    const keys = Object.keys(codec.fromPartial({}) as object);
    const names = new Set(desc.fields.map((f) => f.jsonName));
    matches = keys.length === names.size && keys.every((k) => names.has(k));
    byName.set(messageName, matches);
  }
  if (!matches) {
    const keys = Object.keys(codec.fromPartial({}) as object);
    const shown = keys.slice(0, 4).join(", ") + (keys.length > 4 ? ", …" : "");
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `${where}: the codec given is not the codec of ${messageName} (it encodes a message with the fields ${shown || "(none)"})`,
    );
  }
  return desc;
}

/** Throws {@link XdsKitError} `INVALID_ARGUMENT` when `message` does not fit `desc`, naming the field. */
export function checkMessageAt(desc: DescMessage, message: unknown, where: string): void {
  const problem = checkMessage(desc, message);
  if (problem) throw new XdsKitError("INVALID_ARGUMENT", `${where}: ${formatSchemaProblem(problem)}`);
}

const LEAF_NAMES: Record<string, string> = {
  "google.protobuf.Duration": 'a Duration (e.g. "1.5s")',
  "google.protobuf.Timestamp": 'a Timestamp (e.g. "2026-01-01T00:00:00Z")',
  "google.protobuf.FieldMask": "a FieldMask",
};

// Messages whose proto3 JSON form is not an object of their fields: checked whole, as a leaf.
function isJsonLeaf(desc: DescMessage): boolean {
  return desc.typeName.startsWith("google.protobuf.") && desc.typeName !== "google.protobuf.Any";
}

function leafText(field: DescField | undefined, desc: DescMessage | undefined, value: JsonValue): string {
  const shown = describeValue(value);
  if (desc) return `${shown} is not ${LEAF_NAMES[desc.typeName] ?? `a ${desc.typeName}`}`;
  if (!field) return `${shown} is not valid here`;
  const kind =
    field.fieldKind === "list" ? field.listKind : field.fieldKind === "map" ? field.mapKind : field.fieldKind;
  if (kind === "enum" && field.enum) return `${shown} is not a value of enum ${field.enum.typeName}`;
  if (kind === "scalar" && field.scalar !== undefined)
    return `${shown} is not a ${ScalarType[field.scalar].toLowerCase()}`;
  return `${shown} is not valid here`;
}

function isJsonObject(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fitsJson(desc: DescMessage, json: JsonValue): boolean {
  try {
    fromJson(desc, json, { registry: schemaRegistry() });
    return true;
  } catch {
    return false;
  }
}

/** One value of a field (an element of a list, a value of a map, or the field's value) that does not decode. */
function locateValue(field: DescField, value: JsonValue, path: string): string {
  const message =
    field.fieldKind === "message"
      ? field.message
      : field.fieldKind === "list" && field.listKind === "message"
        ? field.message
        : field.fieldKind === "map" && field.mapKind === "message"
          ? field.message
          : undefined;
  if (message && !isJsonLeaf(message) && value !== null)
    return locateJson(message, value, path) ?? `${path}: ${leafText(field, undefined, value)}`;
  return `${path}: ${leafText(field, message, value)}`;
}

/**
 * The path and problem of the first field of `json` that does not decode as `desc`, by decoding field by
 * field (only run once a decode failed): `static_resources.clusters[0].connect_timeout: "banana" is not a Duration`.
 */
function locateJson(desc: DescMessage, json: JsonValue, path: string): string | undefined {
  const at = (key: string) => (path ? `${path}.${key}` : key);
  if (isJsonLeaf(desc))
    return fitsJson(desc, json) ? undefined : `${path || "(top)"}: ${leafText(undefined, desc, json)}`;
  if (!isJsonObject(json)) return `${path || "(top)"}: ${describeValue(json)} is not a ${desc.typeName} object`;
  if (desc.typeName === "google.protobuf.Any") {
    const typeUrl = json["@type"];
    if (typeof typeUrl !== "string")
      return `${at("@type")}: an Any needs "@type", got ${describeValue(typeUrl ?? null)}`;
    const packed = schemaRegistry().getMessage(typeUrl.slice(typeUrl.lastIndexOf("/") + 1));
    if (!packed) return `${at("@type")}: unknown message type "${typeUrl}"`;
    if (isJsonLeaf(packed))
      return fitsJson(packed, json.value ?? null)
        ? undefined
        : `${at("value")}: ${leafText(undefined, packed, json.value ?? null)}`;
    const { "@type": _, ...fields } = json;
    return locateJson(packed, fields, path);
  }
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) return `${at(key)}: not a field of ${desc.typeName}`;
    if (value === null || fitsJson(desc, { [key]: value })) continue;
    if (field.fieldKind === "list" && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++)
        if (!fitsJson(desc, { [key]: [value[i] as JsonValue] }))
          return locateValue(field, value[i] as JsonValue, `${at(key)}[${i}]`);
    } else if (field.fieldKind === "map" && isJsonObject(value)) {
      for (const [k, v] of Object.entries(value))
        if (!fitsJson(desc, { [key]: { [k]: v } })) return locateValue(field, v, `${at(key)}[${JSON.stringify(k)}]`);
    }
    return locateValue(field, value, at(key));
  }
  return undefined;
}

/** Options of the proto3 JSON writer. */
export interface ProtoJsonOptions {
  /** Emit fields that hold their default value. Default: false. */
  alwaysEmitImplicit?: boolean;
  /** Use the .proto field names (snake_case) rather than lowerCamelCase. Default: false, as Envoy's config_dump. */
  useProtoFieldName?: boolean;
}

/** Wire bytes of `messageName` to canonical proto3 JSON. */
export function protoJsonFromBinary(messageName: string, bytes: Uint8Array, options: ProtoJsonOptions = {}): JsonValue {
  const desc = messageDesc(messageName);
  try {
    return toJson(desc, fromBinary(desc, bytes), {
      registry: schemaRegistry(),
      alwaysEmitImplicit: options.alwaysEmitImplicit ?? false,
      useProtoFieldName: options.useProtoFieldName ?? false,
    });
  } catch (cause) {
    throw new XdsKitError("JSON_CONVERSION_FAILED", `${messageName} to JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Proto3 JSON (camelCase or snake_case keys, Any with "@type") of `messageName` to wire bytes. */
export function binaryFromProtoJson(messageName: string, json: JsonValue): Uint8Array {
  const desc = messageDesc(messageName);
  try {
    return toBinary(desc, fromJson(desc, json, { registry: schemaRegistry() }));
  } catch (cause) {
    let located: string | undefined;
    try {
      located = locateJson(desc, json, "");
    } catch {
      // no better text than the decoder's own
    }
    throw new XdsKitError(
      "JSON_CONVERSION_FAILED",
      `${messageName} from JSON: ${located ?? (cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/**
 * A generated message object to proto3 JSON. Throws {@link XdsKitError} when `messageName` is unknown
 * (`UNKNOWN_MESSAGE_TYPE`), `codec` is not that message's codec or `message` does not fit its schema
 * (`INVALID_ARGUMENT`, naming the field).
 */
export function messageToJson<T>(
  messageName: string,
  codec: MessageCodec<T>,
  message: T,
  options?: ProtoJsonOptions,
): JsonValue {
  const where = `messageToJson(${messageName})`;
  checkMessageAt(descOfCodec(messageName, codec as MessageCodec<unknown>, "messageToJson"), message, where);
  return protoJsonFromBinary(messageName, codec.encode(message).finish(), options);
}

/** Proto3 JSON to a generated message object; refuses a codec that is not `messageName`'s (see messageToJson). */
export function messageFromJson<T>(messageName: string, codec: MessageCodec<T>, json: JsonValue): T {
  descOfCodec(messageName, codec as MessageCodec<unknown>, "messageFromJson");
  return codec.decode(binaryFromProtoJson(messageName, json));
}

/** An xDS resource to proto3 JSON. */
export function resourceToJson<T>(type: ResourceType<T>, resource: T, options?: ProtoJsonOptions): JsonValue {
  return messageToJson(type.messageName, type.codec, resource, options);
}

/** Proto3 JSON (e.g. a resource written in YAML) to an xDS resource. */
export function resourceFromJson<T>(type: ResourceType<T>, json: JsonValue): T {
  return messageFromJson(type.messageName, type.codec, json);
}
