// @xdskit/core/watcher: the contract between a cache and the xDS server that reads it. For the server and for
// authors of their own ConfigWatcher; applications that use the built-in caches and server never need it.

export { type AckTrackerWithFeedback, createAckTracker } from "./cache/ack-tracker.js";
export {
  ABSENT,
  type AckEvent,
  type CancelWatch,
  type ConfigWatcher,
  type DeltaResponse,
  type HeldView,
  isHeldVersion,
  type NackEvent,
  type SentEvent,
  type SotwResponse,
  type StreamFeedback,
  type WatchRequest,
} from "./cache/config-watcher.js";
export { clusterNamesOf, edsNameOf, rdsNamesOf } from "./cache/references.js";
export {
  changedBetween,
  changedNames,
  deltaResponse,
  deltaResponseFrom,
  isImmutableView,
  markImmutable,
  type ResourceView,
  sotwResponse,
  sotwResponseFrom,
  viewOf,
} from "./cache/responses.js";
