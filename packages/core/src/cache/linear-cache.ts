import { createHash } from "node:crypto";
import { XdsKitError } from "../errors.js";
import type { ResourceType } from "../resource-types.js";
import { describeValue } from "../schema-check.js";
import type {
  CancelWatch,
  ConfigWatcher,
  DeltaResponse,
  SotwResponse,
  StreamFeedback,
  WatchRequest,
} from "./config-watcher.js";
import { isPreparedResource, type PreparedResource, prepareAt } from "./prepared-resource.js";
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

/** How many updates back a stream may be and still be compared only on what changed since. */
const CHANGE_LOG_SIZE = 256;

export function createLinearCache<T>(type: ResourceType<T>, options: LinearCacheOptions<T> = {}): LinearCache<T> {
  const resources = new Map<string, PreparedResource<T>>();
  let digest = 0n;
  let view: ResourceView = { version: digest.toString(16).padStart(16, "0"), resources };
  // Open watches. An update examines each against the changed names only: O(watches × changed), with
  // O(1) to open or cancel a watch however many names it subscribes to.
  const open_ = new Set<Watch>();
  // Views are numbered; the names each update changed are kept for the newest updates, so a stream in
  // sync with a recent view is compared only on what changed since (WatchRequest.syncedView).
  const generations = new WeakMap<ResourceView, number>();
  const changeLog: string[][] = [];
  let generation = 0;
  generations.set(view, generation);

  const prepare = (item: T | PreparedResource<T>, where: string): PreparedResource<T> => {
    const prepared = isPreparedResource(item)
      ? (item as PreparedResource<T>)
      : prepareAt(type, item as T, {}, `LinearCache of ${type.kind}: ${where}`);
    if (prepared.type !== type)
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `LinearCache of ${type.kind}: got a ${prepared.type.kind} "${prepared.name}"`,
      );
    if (!prepared.name)
      throw new XdsKitError("INVALID_ARGUMENT", `LinearCache of ${type.kind}: a resource has no name`);
    return prepared;
  };

  const list = <U>(value: readonly U[], where: string): readonly U[] => {
    if (!Array.isArray(value))
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `LinearCache of ${type.kind}: ${where}: expected an array, got ${describeValue(value)}`,
      );
    return value;
  };
  const names = (value: readonly string[], where: string): readonly string[] => {
    list(value, where).forEach((name, i) => {
      if (typeof name !== "string")
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `LinearCache of ${type.kind}: ${where}${where === "deleteResource" ? "" : `[${i}]`}: expected a resource name (a string), got ${describeValue(name)}`,
        );
    });
    return value;
  };

  const evaluate = (watch: Watch, changed?: readonly string[]): boolean => {
    if (watch.delta) {
      const response = deltaResponseFrom(view, watch.request, changed);
      if (!response) return false;
      open_.delete(watch);
      (watch.respond as (r: DeltaResponse) => void)(response);
    } else {
      const response = sotwResponseFrom(view, watch.request, changed);
      if (!response) return false;
      open_.delete(watch);
      (watch.respond as (r: SotwResponse) => void)(response);
    }
    return true;
  };

  /** Names changed since the view `since` was current, when the log still covers it. */
  const changedSince = (since: ResourceView | undefined): readonly string[] | undefined => {
    const from = since === undefined ? undefined : generations.get(since);
    if (from === undefined || generation - from > changeLog.length) return undefined;
    const names = new Set<string>();
    for (let i = changeLog.length - (generation - from); i < changeLog.length; i++)
      for (const name of changeLog[i] ?? []) names.add(name);
    return [...names];
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
    generations.set(view, ++generation);
    changeLog.push(changed);
    if (changeLog.length > CHANGE_LOG_SIZE) changeLog.shift();
    for (const watch of [...open_]) if (open_.has(watch)) evaluate(watch, changed);
  };

  const open = (request: WatchRequest, respond: (response: never) => void, delta: boolean): CancelWatch => {
    if (request.typeUrl !== type.typeUrl)
      throw new XdsKitError("INVALID_ARGUMENT", `LinearCache of ${type.typeUrl} cannot serve ${request.typeUrl}`);
    const watch: Watch = { request, respond, delta };
    const synced = request.syncedView === view ? [] : changedSince(request.syncedView);
    if (synced?.length !== 0 && evaluate(watch, synced)) return () => {};
    open_.add(watch);
    return () => {
      open_.delete(watch);
    };
  };

  const cache: LinearCache<T> = {
    type,
    get version() {
      return view.version;
    },
    ...(options.feedback ? { feedback: options.feedback } : {}),
    watchSotw: (request, respond) => open(request, respond as (r: never) => void, false),
    watchDelta: (request, respond) => open(request, respond as (r: never) => void, true),
    setResource: (resource) => apply([prepare(resource, "setResource")], []),
    deleteResource: (name) => apply([], names([name], "deleteResource")),
    updateResources: (upserts, deletions = []) =>
      apply(
        list(upserts, "updateResources").map((r, i) => prepare(r, `updateResources[${i}]`)),
        names(deletions, "updateResources: deletions"),
      ),
    setResources(all) {
      const next = list(all, "setResources").map((r, i) => prepare(r, `setResources[${i}]`));
      const keep = new Set(next.map((r) => r.name));
      apply(
        next,
        [...resources.keys()].filter((name) => !keep.has(name)),
      );
    },
    getResources: () => resources,
    watchCount: () => open_.size,
  };
  if (options.resources)
    apply(
      list(options.resources, "resources").map((r, i) => prepare(r, `resources[${i}]`)),
      [],
    );
  return cache;
}
