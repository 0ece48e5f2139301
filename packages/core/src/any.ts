import { XdsKitError } from "./errors.js";
import type { Any } from "./gen/google/protobuf/any.js";
import { checkMessageAt, descOfCodec } from "./proto-json.js";
import { type MessageCodec, type ResourceType, resourceTypeOf, typeUrlOf } from "./resource-types.js";

/**
 * Packs a message into `google.protobuf.Any`, e.g. a filter's `typed_config`. `messageName` gives the type URL;
 * it must be the message `codec` encodes, and `message` must fit that message's schema. Throws
 * {@link XdsKitError} `UNKNOWN_MESSAGE_TYPE` for a name the schema does not hold (a typo), and `INVALID_ARGUMENT`
 * for another message's codec or a field of the wrong kind (naming the field).
 */
export function packAny<T>(messageName: string, codec: MessageCodec<T>, message: T): Any {
  const desc = descOfCodec(messageName, codec as MessageCodec<unknown>, "packAny");
  checkMessageAt(desc, message, `packAny(${messageName})`);
  return { typeUrl: typeUrlOf(messageName), value: codec.encode(message).finish() };
}

/** Packs an xDS resource into `Any` with its type's URL. */
export function packResource<T>(type: ResourceType<T>, resource: T): Any {
  return { typeUrl: type.typeUrl, value: type.codec.encode(resource).finish() };
}

/** Unpacks an `Any` that holds one of the xDS resource types of {@link resourceTypes}. */
export function unpackResource(any: Any): { type: ResourceType; resource: unknown } {
  const type = resourceTypeOf(any.typeUrl ?? "");
  if (!type) throw new XdsKitError("UNKNOWN_TYPE_URL", `not an xDS resource type: "${any.typeUrl ?? ""}"`);
  try {
    return { type, resource: type.codec.decode(any.value ?? new Uint8Array()) };
  } catch (cause) {
    throw new XdsKitError("DECODE_FAILED", `cannot decode ${type.messageName}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Unpacks an `Any` expected to hold `messageName`; throws when it holds something else. */
export function unpackAny<T>(any: Any, messageName: string, codec: MessageCodec<T>): T {
  descOfCodec(messageName, codec as MessageCodec<unknown>, "unpackAny");
  if (any.typeUrl !== typeUrlOf(messageName))
    throw new XdsKitError("INVALID_ARGUMENT", `expected ${typeUrlOf(messageName)}, got "${any.typeUrl ?? ""}"`);
  return codec.decode(any.value ?? new Uint8Array());
}
