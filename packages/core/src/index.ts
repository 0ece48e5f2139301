// @xdskit/core: typed Envoy resources, the resource-type table and proto3 JSON.

export { packAny, packResource, unpackAny, unpackResource } from "./any.js";
export type {
  AckTracker,
  NodeStatus,
  NodeStatusJson,
  ResourceStatus,
  SyncState,
  TypeStatus,
  TypeStatusJson,
} from "./cache/ack-tracker.js";
export { DEFAULT_AWAIT_APPLIED_TIMEOUT_MS, type NotAppliedReason } from "./cache/await-applied.js";
// What caches and the server share (WatchRequest, responses, views) is in the "@xdskit/core/watcher" subpath.
export type { AckEvent, ConfigWatcher, NackEvent } from "./cache/config-watcher.js";
export { type ConsistencyOptions, checkSnapshotConsistency } from "./cache/consistency.js";
export { createLinearCache, type LinearCache, type LinearCacheOptions } from "./cache/linear-cache.js";
export { createMuxCache, type MuxCacheOptions } from "./cache/mux-cache.js";
export {
  contentHash,
  isPreparedResource,
  type PreparedResource,
  type PrepareOptions,
  prepareResource,
  rawResource,
} from "./cache/prepared-resource.js";
export {
  createSnapshot,
  type Snapshot,
  type SnapshotChanges,
  type SnapshotOptions,
  type SnapshotResources,
  type SnapshotTypeEntry,
  type UpdateSnapshotOptions,
  updateSnapshot,
} from "./cache/snapshot.js";
export {
  type AwaitAppliedOptions,
  createSnapshotCache,
  type SnapshotCache,
  type SnapshotCacheOptions,
  type SnapshotGroupStatus,
} from "./cache/snapshot-cache.js";
export { type SnapshotJson, snapshotFromJson } from "./cache/snapshot-json.js";
export { type Diagnostic, type DiagnosticSeverity, formatDiagnostic } from "./diagnostics.js";
export { type NackDetails, NackError, XdsKitError, type XdsKitErrorCode } from "./errors.js";
// xdstp list collections (R35): the collection messages, their entries and locators.
export { ClusterCollection } from "./gen/envoy/config/cluster/v3/cluster.js";
export { ListenerCollection } from "./gen/envoy/config/listener/v3/listener.js";
export { CollectionEntry, CollectionEntry_InlineEntry } from "./gen/xds/core/v3/collection_entry.js";
export {
  ResourceLocator,
  ResourceLocator_Directive,
  ResourceLocator_Scheme,
} from "./gen/xds/core/v3/resource_locator.js";
export {
  type CollectionEntryInput,
  type CollectionKind,
  type CollectionMembers,
  type InlineCollectionEntry,
  listCollection,
} from "./list-collection.js";
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
  type CustomResourceTypeOptions,
  type MessageCodec,
  messageNameOf,
  type ResourceKind,
  type ResourceOf,
  type ResourceType,
  registerResourceType,
  resourceKinds,
  resourceTypeList,
  resourceTypeOf,
  resourceTypeOfKind,
  resourceTypes,
  typeUrlOf,
} from "./resource-types.js";
export {
  canonicalResourceName,
  globContains,
  isXdstpName,
  parseXdstpName,
  resourceLocatorOf,
  resourceLocatorUrl,
  type XdstpName,
} from "./xdstp.js";
