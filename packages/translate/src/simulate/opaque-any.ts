// Config dumps carry Anys of types core has no schema for (Istio's stats and Wasm filters, extensions
// outside proto/entries.txt). To decode a dump anyway, such an Any is kept as a google.protobuf.Struct
// holding its JSON fields and, under ORIGINAL_TYPE_KEY, its type URL; typeUrlOf() reads either form.
import { type Any, type JsonValue, protoJsonFromBinary, schemaRegistry } from "@xdskit/core";

const STRUCT_TYPE_URL = "type.googleapis.com/google.protobuf.Struct";
/** The key under which an opaque Any's Struct keeps the original type URL. */
export const ORIGINAL_TYPE_KEY = "@xdskit.originalType";

type JsonObject = { [key: string]: JsonValue };
const isObject = (value: JsonValue): value is JsonObject =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** A copy of proto3 JSON in which every Any of an unknown type has become an opaque Struct Any. */
export function opaqueUnknownAnys(json: JsonValue): JsonValue {
  if (Array.isArray(json)) return json.map(opaqueUnknownAnys);
  if (!isObject(json)) return json;
  const type = json["@type"];
  if (typeof type === "string") {
    const name = type.slice(type.lastIndexOf("/") + 1);
    if (!schemaRegistry().getMessage(name)) {
      const { "@type": _type, ...fields } = json;
      return { "@type": STRUCT_TYPE_URL, value: { [ORIGINAL_TYPE_KEY]: type, ...fields } };
    }
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(json)) out[key] = opaqueUnknownAnys(value);
  return out;
}

/** The JSON fields of an opaque Any (see {@link opaqueUnknownAnys}), or undefined for any other Any. */
export function opaqueFields(any: Any | undefined): JsonObject | undefined {
  if (any?.typeUrl !== STRUCT_TYPE_URL) return undefined;
  const json = protoJsonFromBinary("google.protobuf.Struct", any.value ?? new Uint8Array());
  return isObject(json) && typeof json[ORIGINAL_TYPE_KEY] === "string" ? json : undefined;
}

/** An Any's type URL, seeing through opaque Anys. */
export function typeUrlOf(any: Any | undefined): string {
  const opaque = opaqueFields(any);
  return opaque ? String(opaque[ORIGINAL_TYPE_KEY]) : (any?.typeUrl ?? "");
}
