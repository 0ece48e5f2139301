// Pure functions deciding what a stream gets from the current resources of one type
// (XDS-RULES R6, R9, R12-R15, R22-R25).
import { resourceTypeOf, resourceTypes } from "../resource-types.js";
import { globContains } from "../xdstp.js";
import {
  ABSENT,
  type DeltaResponse,
  type ResourceView,
  type SotwResponse,
  type WatchRequest,
} from "./config-watcher.js";
import type { PreparedResource } from "./prepared-resource.js";
import type { Snapshot } from "./snapshot.js";
import { vhdsDeltaResponse } from "./vhds-aliases.js";

export type { ResourceView } from "./config-watcher.js";

const EMPTY: ReadonlyMap<string, PreparedResource> = new Map();
const emptyViews = new WeakMap<Snapshot, ResourceView>();

/** The snapshot's view of one type; a type the snapshot lacks is empty at the snapshot's version. */
export function viewOf(snapshot: Snapshot, typeUrl: string): ResourceView {
  const entry = snapshot.entry(typeUrl);
  if (entry) return entry;
  let empty = emptyViews.get(snapshot);
  if (!empty) {
    empty = markImmutable({ version: snapshot.version, resources: EMPTY });
    emptyViews.set(snapshot, empty);
  }
  return empty;
}

/**
 * The SotW response a stream should get now, or undefined when it has everything (R6: never resend
 * an identical set). LDS/CDS responses carry the whole subscribed set (R12); other types carry only
 * changed or newly subscribed resources (R13). Names that do not exist yet are simply not sent; the
 * watch stays open and they go out when they appear (R15).
 *
 * `changed`: when the caller knows the stream was in sync before and only these names changed since,
 * only they are examined (work proportional to the change, not to the subscription).
 */
export function sotwResponseFrom(
  view: ResourceView,
  request: WatchRequest,
  changed?: readonly string[],
): SotwResponse | undefined {
  const allRequired = resourceTypeOf(request.typeUrl)?.sotwAllRequired ?? false;
  if (allRequired) return fullStateResponse(view, request, changed);
  if (changed && request.heldView && request.heldView.view === request.syncedView && !request.globs?.length)
    return changedResponse(view, request, changed);
  const out: PreparedResource[] = [];
  for (const name of candidates(view, request, changed)) {
    const resource = view.resources.get(name);
    if (resource && request.known.get(name) !== resource.version) out.push(resource);
  }
  if (out.length === 0) return undefined;
  // Streams that get every changed resource (or every resource) get one shared response: built and
  // encoded once for all of them.
  if (changed && out.length === presentChanged(view, changed).length)
    return sharedResponse(view, request.typeUrl, changed);
  if (!changed && out.length === view.resources.size) return sharedResponse(view, request.typeUrl, view);
  return { typeUrl: request.typeUrl, version: view.version, resources: out, view };
}

const NO_RESPONSE = Symbol("no response");
const WHOLE_VIEW: ReadonlySet<string> = new Set();
type ShareableResponse = SotwResponse | DeltaResponse;
type PerSubscription = WeakMap<ReadonlySet<string>, ShareableResponse | typeof NO_RESPONSE>;

/**
 * The answer to `changed` for a stream holding exactly the view the change was computed from. It depends only on
 * the change and the subscription (wildcard, or the shared name set), so every stream in that state shares the one
 * `compute` made: per change, per subscription, per mode.
 */
function perChangeAndSubscription<R extends ShareableResponse>(
  cache: WeakMap<readonly string[], PerSubscription>,
  view: ResourceView,
  request: WatchRequest,
  changed: readonly string[],
  compute: (view: ResourceView, request: WatchRequest, changed: readonly string[]) => R | undefined,
): R | undefined {
  const key = request.wildcard ? WHOLE_VIEW : request.names;
  let bySubscription = cache.get(changed);
  if (!bySubscription) {
    bySubscription = new WeakMap();
    cache.set(changed, bySubscription);
  }
  let response = bySubscription.get(key);
  if (response === undefined) {
    response = compute(view, request, changed) ?? NO_RESPONSE;
    bySubscription.set(key, response);
  }
  return response === NO_RESPONSE ? undefined : (response as R);
}

const changedResponses = new WeakMap<readonly string[], PerSubscription>();

/** SotW: the changed names the stream subscribes to that the view has (each differs from what it holds). */
function changedResponse(
  view: ResourceView,
  request: WatchRequest,
  changed: readonly string[],
): SotwResponse | undefined {
  return perChangeAndSubscription(changedResponses, view, request, changed, computeChangedResponse);
}

function computeChangedResponse(
  view: ResourceView,
  request: WatchRequest,
  changed: readonly string[],
): SotwResponse | undefined {
  const present = presentChanged(view, changed);
  const out = request.wildcard ? present : present.filter((r) => request.names.has(r.name));
  if (out.length === 0) return undefined;
  if (out.length === present.length) return sharedResponse(view, request.typeUrl, changed);
  return { typeUrl: request.typeUrl, version: view.version, resources: out, view };
}

/** The changed names that exist in the view, computed once per (view, changed) pair. */
const presentCache = new WeakMap<readonly string[], { view: ResourceView; present: PreparedResource[] }>();
function presentChanged(view: ResourceView, changed: readonly string[]): PreparedResource[] {
  const cached = presentCache.get(changed);
  if (cached?.view === view) return cached.present;
  const present: PreparedResource[] = [];
  for (const name of changed) {
    const resource = view.resources.get(name);
    if (resource) present.push(resource);
  }
  presentCache.set(changed, { view, present });
  return present;
}

// Shared SotW responses: keyed by the view and by what they hold (the view itself, or a changed list).
const sharedResponses = new WeakMap<ResourceView, WeakMap<object, SotwResponse>>();
function sharedResponse(view: ResourceView, typeUrl: string, of: ResourceView | readonly string[]): SotwResponse {
  let byKey = sharedResponses.get(view);
  if (!byKey) {
    byKey = new WeakMap();
    sharedResponses.set(view, byKey);
  }
  let response = byKey.get(of);
  if (!response) {
    const resources = of === view ? [...view.resources.values()] : presentChanged(view, of as readonly string[]);
    response = { typeUrl, version: view.version, resources, view };
    byKey.set(of, response);
  }
  return response;
}

function fullStateResponse(
  view: ResourceView,
  request: WatchRequest,
  changed: readonly string[] | undefined,
): SotwResponse | undefined {
  // In sync before, and nothing subscribed changed: nothing to send.
  if (changed && request.responded && !changed.some((name) => subscribes(request, name))) return undefined;
  let differs = !request.responded || changed !== undefined;
  // A wildcard stream gets the whole view, built once for every stream: nothing to examine per name.
  if (differs && request.wildcard) return sharedResponse(view, request.typeUrl, view);
  const chosen: PreparedResource[] = [];
  for (const name of candidates(view, request, undefined)) {
    const resource = view.resources.get(name);
    if (!resource) continue;
    chosen.push(resource);
    if (request.known.get(name) !== resource.version) differs = true;
  }
  if (!differs) for (const name of request.known.keys()) if (!view.resources.has(name)) differs = true;
  if (!differs && request.known.size !== chosen.length) differs = true;
  if (!differs) return undefined;
  if (request.wildcard) return sharedResponse(view, request.typeUrl, view);
  return { typeUrl: request.typeUrl, version: view.version, resources: chosen, view };
}

function candidates(
  view: ResourceView,
  request: WatchRequest,
  changed: readonly string[] | undefined,
): Iterable<string> {
  if (changed) {
    const out: string[] = [];
    for (const name of changed) if (subscribes(request, name)) out.push(name);
    return out;
  }
  if (request.wildcard) return new Set([...view.resources.keys(), ...request.names]);
  if (!request.globs?.length) return request.names;
  const out = new Set(request.names);
  for (const name of view.resources.keys()) if (subscribes(request, name)) out.add(name);
  return out;
}

/** Whether the request subscribes to `name`: wildcard, by name, or as a member of a glob collection (R34). */
function subscribes(request: WatchRequest, name: string): boolean {
  if (request.wildcard || request.names.has(name)) return true;
  return request.globs?.some((glob) => globContains(glob, name)) ?? false;
}

/**
 * The delta response a stream should get now, or undefined. Changed and new resources are sent, never
 * unchanged ones (R25); deleted resources and subscribed names that do not exist go in `removed` (R24).
 * `changed` narrows the examination as for {@link sotwResponseFrom}.
 */
export function deltaResponseFrom(
  view: ResourceView,
  request: WatchRequest,
  changed?: readonly string[],
): DeltaResponse | undefined {
  // VHDS subscribes by alias (R28); any change may change what an alias resolves to: evaluate in full.
  if (request.typeUrl === resourceTypes.VirtualHost.typeUrl) return vhdsDeltaResponse(view, request);
  if (
    changed &&
    request.heldView &&
    request.heldView.view === request.syncedView &&
    !request.announced &&
    !request.globs?.length
  )
    return changedDeltaResponse(view, request, changed);
  const resources: PreparedResource[] = [];
  const removed = new Set<string>();
  const consider = (name: string) => {
    const resource = view.resources.get(name);
    const known = request.known.get(name);
    if (resource) {
      if (known !== resource.version || (resource.ttlMs !== undefined && request.announced?.has(name)))
        resources.push(resource);
    } else if (known === undefined ? request.names.has(name) && !globs.has(name) : known !== ABSENT) {
      removed.add(name);
    }
  };
  // A glob is a subscription, not a resource: it is never itself reported as removed (R34).
  const globs = new Set(request.globs?.map((g) => g.source));
  if (changed) {
    for (const name of changed) if (subscribes(request, name)) consider(name);
  } else {
    const names = new Set<string>(candidates(view, request, undefined));
    for (const name of request.known.keys()) names.add(name);
    for (const name of names) if (subscribes(request, name)) consider(name);
  }
  if (resources.length === 0 && removed.size === 0) return undefined;
  if (changed && !request.announced) {
    const present = presentChanged(view, changed);
    if (resources.length === present.length && removed.size === changed.length - present.length)
      return sharedDeltaResponse(view, request.typeUrl, changed);
  }
  // A client that gets everything the view has (a new wildcard stream, say) gets the one response all such get.
  if (!changed && !request.announced && removed.size === 0 && resources.length === view.resources.size)
    return (
      fullDeltaResponse(view, request.typeUrl) ?? {
        typeUrl: request.typeUrl,
        version: view.version,
        resources,
        removed: [],
        view,
      }
    );
  return { typeUrl: request.typeUrl, version: view.version, resources, removed: [...removed].sort(), view };
}

const changedDeltaResponses = new WeakMap<readonly string[], PerSubscription>();

/**
 * {@link changedResponse} for delta: the changed names it subscribes to, as resources when the view has them and
 * as removals when it lost them (the client held each of them, at the version the change started from).
 */
function changedDeltaResponse(
  view: ResourceView,
  request: WatchRequest,
  changed: readonly string[],
): DeltaResponse | undefined {
  return perChangeAndSubscription(changedDeltaResponses, view, request, changed, computeChangedDeltaResponse);
}

function computeChangedDeltaResponse(
  view: ResourceView,
  request: WatchRequest,
  changed: readonly string[],
): DeltaResponse | undefined {
  const subscribed = request.wildcard ? changed : changed.filter((name) => request.names.has(name));
  if (subscribed.length === 0) return undefined;
  if (subscribed.length === changed.length) return sharedDeltaResponse(view, request.typeUrl, changed);
  const resources = presentChanged(view, subscribed);
  const removed = subscribed.filter((name) => !view.resources.has(name)).sort();
  return { typeUrl: request.typeUrl, version: view.version, resources, removed, view };
}

// Shared delta responses: every stream that gets all of one change gets the same object (encoded once).
const sharedDeltaResponses = new WeakMap<readonly string[], DeltaResponse>();
function sharedDeltaResponse(view: ResourceView, typeUrl: string, changed: readonly string[]): DeltaResponse {
  let response = sharedDeltaResponses.get(changed);
  if (response?.view !== view) {
    const resources = presentChanged(view, changed);
    const removed = changed.filter((name) => !view.resources.has(name)).sort();
    response = { typeUrl, version: view.version, resources, removed, view };
    sharedDeltaResponses.set(changed, response);
  }
  return response;
}

// Only for immutable views: a live view's resources may change under the shared object.
const fullDeltaResponses = new WeakMap<ResourceView, DeltaResponse>();
function fullDeltaResponse(view: ResourceView, typeUrl: string): DeltaResponse | undefined {
  if (!immutableViews.has(view)) return undefined;
  let response = fullDeltaResponses.get(view);
  if (!response) {
    response = { typeUrl, version: view.version, resources: [...view.resources.values()], removed: [], view };
    fullDeltaResponses.set(view, response);
  }
  return response;
}

const changedCache = new WeakMap<ResourceView, WeakMap<ResourceView, string[]>>();
const immutableViews = new WeakSet<ResourceView>();

/**
 * Declares that `view` (its version and its resources map) never changes from now on, as snapshot views
 * never do; returns it. What changed between two such views is computed once and shared, and the server keeps
 * what each client holds relative to them. A LinearCache's views share one live map and are not immutable.
 */
export function markImmutable<V extends ResourceView>(view: V): V {
  immutableViews.add(view);
  return view;
}

/** Whether `view` was declared immutable with {@link markImmutable}. */
export function isImmutableView(view: ResourceView): boolean {
  return immutableViews.has(view);
}

/** Records what changed between two views when the one who made `after` from `before` knows it (O(changes)). */
export function recordChanges(before: ResourceView, after: ResourceView, changed: string[]): void {
  let byAfter = changedCache.get(before);
  if (!byAfter) {
    byAfter = new WeakMap();
    changedCache.set(before, byAfter);
  }
  byAfter.set(after, changed);
}

/**
 * {@link changedNames}, computed once per pair of immutable views and shared by every stream (views that are not
 * immutable are compared each time).
 */
export function changedBetween(before: ResourceView, after: ResourceView): string[] {
  if (!immutableViews.has(before) || !immutableViews.has(after)) return changedNames(before, after);
  let byAfter = changedCache.get(before);
  if (!byAfter) {
    byAfter = new WeakMap();
    changedCache.set(before, byAfter);
  }
  let changed = byAfter.get(after);
  if (!changed) {
    changed = changedNames(before, after);
    byAfter.set(after, changed);
  }
  return changed;
}

/** {@link sotwResponseFrom} over a snapshot. */
export function sotwResponse(snapshot: Snapshot, request: WatchRequest): SotwResponse | undefined {
  return sotwResponseFrom(viewOf(snapshot, request.typeUrl), request);
}

/** {@link deltaResponseFrom} over a snapshot. */
export function deltaResponse(snapshot: Snapshot, request: WatchRequest): DeltaResponse | undefined {
  return deltaResponseFrom(viewOf(snapshot, request.typeUrl), request);
}

/** Names whose presence or version differs between two views of one type. */
export function changedNames(before: ResourceView | undefined, after: ResourceView): string[] {
  if (!before) return [...after.resources.keys()];
  if (before.resources === after.resources) return [];
  const out: string[] = [];
  for (const [name, resource] of after.resources)
    if (before.resources.get(name)?.version !== resource.version) out.push(name);
  for (const name of before.resources.keys()) if (!after.resources.has(name)) out.push(name);
  return out;
}
