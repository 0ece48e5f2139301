// Reflection over the generated schema: canonical proto3 JSON (Any with "@type", Duration as "1s",
// Struct as plain JSON) for REST discovery, config dumps and configs written as JSON or YAML.
// The schema is the FileDescriptorSet produced by the same protoc run as the generated codecs.
import {
  createFileRegistry,
  type DescMessage,
  type FileRegistry,
  fromBinary,
  fromJson,
  type JsonValue,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { XdsKitError } from "./errors.js";
import { descriptorSetBase64 } from "./gen/descriptor-set.js";
import type { MessageCodec, ResourceType } from "./resource-types.js";

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
    throw new XdsKitError("JSON_CONVERSION_FAILED", `${messageName} from JSON: ${(cause as Error).message}`, { cause });
  }
}

/** A generated message object to proto3 JSON. */
export function messageToJson<T>(
  messageName: string,
  codec: MessageCodec<T>,
  message: T,
  options?: ProtoJsonOptions,
): JsonValue {
  return protoJsonFromBinary(messageName, codec.encode(message).finish(), options);
}

/** Proto3 JSON to a generated message object. */
export function messageFromJson<T>(messageName: string, codec: MessageCodec<T>, json: JsonValue): T {
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
