// Pure functions deciding what a stream gets from the current resources of one type
// (XDS-RULES R6, R9, R12-R15, R22-R25).
import { resourceTypeOf, resourceTypes } from "../resource-types.js";
import { globContains } from "../xdstp.js";
import { ABSENT, type DeltaResponse, type SotwResponse, type WatchRequest } from "./config-watcher.js";
import type { PreparedResource } from "./prepared-resource.js";
import type { Snapshot } from "./snapshot.js";
import { vhdsDeltaResponse } from "./vhds-aliases.js";

/** The current resources of one type and their SotW version. */
export interface ResourceView {
  readonly version: string;
  readonly resources: ReadonlyMap<string, PreparedResource>;
}

const EMPTY: ReadonlyMap<string, PreparedResource> = new Map();
const emptyViews = new WeakMap<Snapshot, ResourceView>();

/** The snapshot's view of one type; a type the snapshot lacks is empty at the snapshot's version. */
export function viewOf(snapshot: Snapshot, typeUrl: string): ResourceView {
  const entry = snapshot.entry(typeUrl);
  if (entry) return entry;
  let empty = emptyViews.get(snapshot);
  if (!empty) {
    empty = { version: snapshot.version, resources: EMPTY };
    emptyViews.set(snapshot, empty);
  }
  return empty;
}

// A wildcard LDS/CDS response depends only on the view: build it once and share it (and its encoding).
const sharedFullResponses = new WeakMap<ResourceView, SotwResponse>();

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
  changed?: Iterable<string>,
): SotwResponse | undefined {
  const allRequired = resourceTypeOf(request.typeUrl)?.sotwAllRequired ?? false;
  if (allRequired) return fullStateResponse(view, request);
  const out: PreparedResource[] = [];
  for (const name of candidates(view, request, changed)) {
    const resource = view.resources.get(name);
    if (resource && request.known.get(name) !== resource.version) out.push(resource);
  }
  if (out.length === 0) return undefined;
  return { typeUrl: request.typeUrl, version: view.version, resources: out };
}

function fullStateResponse(view: ResourceView, request: WatchRequest): SotwResponse | undefined {
  const chosen: PreparedResource[] = [];
  let differs = !request.responded;
  for (const name of candidates(view, request, undefined)) {
    const resource = view.resources.get(name);
    if (!resource) continue;
    chosen.push(resource);
    if (request.known.get(name) !== resource.version) differs = true;
  }
  if (!differs) for (const name of request.known.keys()) if (!view.resources.has(name)) differs = true;
  if (!differs && request.known.size !== chosen.length) differs = true;
  if (!differs) return undefined;
  if (request.wildcard) {
    let shared = sharedFullResponses.get(view);
    if (!shared) {
      shared = { typeUrl: request.typeUrl, version: view.version, resources: [...view.resources.values()] };
      sharedFullResponses.set(view, shared);
    }
    return shared;
  }
  return { typeUrl: request.typeUrl, version: view.version, resources: chosen };
}

function candidates(
  view: ResourceView,
  request: WatchRequest,
  changed: Iterable<string> | undefined,
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
  changed?: Iterable<string>,
): DeltaResponse | undefined {
  // VHDS subscribes by alias (R28); any change may change what an alias resolves to: evaluate in full.
  if (request.typeUrl === resourceTypes.VirtualHost.typeUrl) return vhdsDeltaResponse(view, request);
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
  return { typeUrl: request.typeUrl, version: view.version, resources, removed: [...removed].sort() };
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
