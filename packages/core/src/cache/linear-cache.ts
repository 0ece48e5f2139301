import { createHash } from "node:crypto";
import { XdsKitError } from "../errors.js";
import type { ResourceType } from "../resource-types.js";
import type {
  CancelWatch,
  ConfigWatcher,
  DeltaResponse,
  SotwResponse,
  StreamFeedback,
  WatchRequest,
} from "./config-watcher.js";
import { type PreparedResource, prepareResource } from "./prepared-resource.js";
import { deltaResponseFrom, type ResourceView, sotwResponseFrom } from "./responses.js";

/** Options of {@link createLinearCache}. */
export interface LinearCacheOptions<T> {
  /** Resources to start with. Default: none. */
  resources?: ReadonlyArray<T | PreparedResource<T>>;
  /** Receives the server's ACK/NACK bookkeeping (e.g. an AckTracker's feedback). Default: none. */
  feedback?: StreamFeedback;
}

/**
 * A cache of one resource type whose resources change one by one (endpoints at scale). Every node sees
 * the same resources. An update costs work proportional to the resources it changes and the streams
 * subscribed to them, not to the total number of resources.
 */
export interface LinearCache<T> extends ConfigWatcher {
  readonly type: ResourceType<T>;
  /** The type's version: an order-independent content hash of every (name, version), updated in O(1). */
  readonly version: string;
  /** Adds or replaces one resource. */
  setResource(resource: T | PreparedResource<T>): void;
  /** Removes one resource (a no-op if absent). */
  deleteResource(name: string): void;
  /** Applies upserts and deletions as one update. */
  updateResources(upserts: ReadonlyArray<T | PreparedResource<T>>, deletions?: readonly string[]): void;
  /** Replaces every resource; only those that actually change are pushed. */
  setResources(resources: ReadonlyArray<T | PreparedResource<T>>): void;
  getResources(): ReadonlyMap<string, PreparedResource<T>>;
  /** Open watches (for metrics and tests). */
  watchCount(): number;
}

interface Watch {
  readonly request: WatchRequest;
  readonly respond: (response: never) => void;
  readonly delta: boolean;
}

// 64-bit contribution of one (name, version) to the type version; XOR makes the sum order-independent
// and lets one change update it without visiting the other resources.
function contribution(name: string, version: string): bigint {
  return createHash("sha256").update(name).update("\0").update(version).digest().readBigUInt64BE(0);
}

function isPrepared<T>(value: T | PreparedResource<T>): value is PreparedResource<T> {
  return typeof value === "object" && value !== null && "bytes" in value && "any" in value && "type" in value;
}

export function createLinearCache<T>(type: ResourceType<T>, options: LinearCacheOptions<T> = {}): LinearCache<T> {
  const resources = new Map<string, PreparedResource<T>>();
  let digest = 0n;
  let view: ResourceView = { version: digest.toString(16).padStart(16, "0"), resources };
  const byName = new Map<string, Set<Watch>>();
  const wildcard = new Set<Watch>();

  const prepare = (item: T | PreparedResource<T>): PreparedResource<T> => {
    const prepared = isPrepared(item) ? item : prepareResource(type, item);
    if (prepared.type !== type)
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `LinearCache of ${type.kind}: got a ${prepared.type.kind} "${prepared.name}"`,
      );
    if (!prepared.name)
      throw new XdsKitError("INVALID_ARGUMENT", `LinearCache of ${type.kind}: a resource has no name`);
    return prepared;
  };

  const unregister = (watch: Watch) => {
    wildcard.delete(watch);
    for (const name of watch.request.names) {
      const set = byName.get(name);
      set?.delete(watch);
      if (set?.size === 0) byName.delete(name);
    }
  };

  const evaluate = (watch: Watch, changed?: readonly string[]): boolean => {
    if (watch.delta) {
      const response = deltaResponseFrom(view, watch.request, changed);
      if (!response) return false;
      unregister(watch);
      (watch.respond as (r: DeltaResponse) => void)(response);
    } else {
      const response = sotwResponseFrom(view, watch.request, changed);
      if (!response) return false;
      unregister(watch);
      (watch.respond as (r: SotwResponse) => void)(response);
    }
    return true;
  };

  const apply = (upserts: ReadonlyArray<PreparedResource<T>>, deletions: readonly string[]) => {
    const changed: string[] = [];
    for (const prepared of upserts) {
      const previous = resources.get(prepared.name);
      if (previous?.version === prepared.version) continue;
      if (previous) digest ^= contribution(previous.name, previous.version);
      digest ^= contribution(prepared.name, prepared.version);
      resources.set(prepared.name, prepared);
      changed.push(prepared.name);
    }
    for (const name of deletions) {
      const previous = resources.get(name);
      if (!previous) continue;
      digest ^= contribution(name, previous.version);
      resources.delete(name);
      changed.push(name);
    }
    if (changed.length === 0) return;
    view = { version: digest.toString(16).padStart(16, "0"), resources };
    const affected = new Set<Watch>(wildcard);
    for (const name of changed) for (const watch of byName.get(name) ?? []) affected.add(watch);
    for (const watch of affected) evaluate(watch, changed);
  };

  const open = (request: WatchRequest, respond: (response: never) => void, delta: boolean): CancelWatch => {
    if (request.typeUrl !== type.typeUrl)
      throw new XdsKitError("INVALID_ARGUMENT", `LinearCache of ${type.typeUrl} cannot serve ${request.typeUrl}`);
    const watch: Watch = { request, respond, delta };
    if (evaluate(watch)) return () => {};
    if (request.wildcard) wildcard.add(watch);
    for (const name of request.names) {
      let set = byName.get(name);
      if (!set) {
        set = new Set();
        byName.set(name, set);
      }
      set.add(watch);
    }
    return () => unregister(watch);
  };

  const cache: LinearCache<T> = {
    type,
    get version() {
      return view.version;
    },
    ...(options.feedback ? { feedback: options.feedback } : {}),
    watchSotw: (request, respond) => open(request, respond as (r: never) => void, false),
    watchDelta: (request, respond) => open(request, respond as (r: never) => void, true),
    setResource: (resource) => apply([prepare(resource)], []),
    deleteResource: (name) => apply([], [name]),
    updateResources: (upserts, deletions = []) => apply(upserts.map(prepare), deletions),
    setResources(list) {
      const next = list.map(prepare);
      const keep = new Set(next.map((r) => r.name));
      apply(
        next,
        [...resources.keys()].filter((name) => !keep.has(name)),
      );
    },
    getResources: () => resources,
    watchCount() {
      const all = new Set<Watch>(wildcard);
      for (const set of byName.values()) for (const watch of set) all.add(watch);
      return all.size;
    },
  };
  if (options.resources) apply(options.resources.map(prepare), []);
  return cache;
}
