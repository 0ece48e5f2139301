import { XdsKitError } from "../errors.js";
import type { ConfigWatcher, StreamFeedback, WatchRequest } from "./config-watcher.js";

/** Options of {@link createMuxCache}. */
export interface MuxCacheOptions {
  /** The caches, by a key of your choice. */
  caches: Readonly<Record<string, ConfigWatcher>>;
  /** Which cache serves a request; default: the request's type URL is the key. */
  classify?: (request: Pick<WatchRequest, "typeUrl" | "node">) => string;
}

/**
 * Routes each watch to one of several caches, e.g. endpoints from a LinearCache and everything else from
 * a SnapshotCache. ACK/NACK feedback goes to the cache that served the type; stream closes go to all.
 */
export function createMuxCache(options: MuxCacheOptions): ConfigWatcher {
  const classify = options.classify ?? ((request) => request.typeUrl);
  const pick = (request: Pick<WatchRequest, "typeUrl" | "node">): ConfigWatcher => {
    const key = classify(request);
    const cache = options.caches[key];
    if (!cache) throw new XdsKitError("INVALID_ARGUMENT", `MuxCache: no cache for "${key}" (type ${request.typeUrl})`);
    return cache;
  };
  const feedbackOf = (event: Pick<WatchRequest, "typeUrl" | "node">) => pick(event).feedback;
  const feedback: StreamFeedback = {
    sent: (event) => feedbackOf(event)?.sent(event),
    acked: (event) => feedbackOf(event)?.acked(event),
    nacked: (event) => feedbackOf(event)?.nacked(event),
    closed(event) {
      for (const cache of new Set(Object.values(options.caches))) cache.feedback?.closed(event);
    },
  };
  return {
    watchSotw: (request, respond) => pick(request).watchSotw(request, respond),
    watchDelta: (request, respond) => pick(request).watchDelta(request, respond),
    feedback,
  };
}
