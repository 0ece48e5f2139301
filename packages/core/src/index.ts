// @xdskit/core: typed Envoy resources, the resource-type table and proto3 JSON.

export { packAny, packResource, unpackAny, unpackResource } from "./any.js";
export { XdsKitError, type XdsKitErrorCode } from "./errors.js";
export * from "./messages.js";
export {
  binaryFromProtoJson,
  type JsonValue,
  messageFromJson,
  messageToJson,
  type ProtoJsonOptions,
  protoJsonFromBinary,
  resourceFromJson,
  resourceToJson,
  schemaRegistry,
} from "./proto-json.js";
export {
  type MessageCodec,
  messageNameOf,
  type ResourceKind,
  type ResourceOf,
  type ResourceType,
  resourceTypeList,
  resourceTypeOf,
  resourceTypes,
  typeUrlOf,
} from "./resource-types.js";
