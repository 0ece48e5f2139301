// Pure functions deciding what a stream gets from a snapshot (XDS-RULES R6, R9, R12-R15, R22-R25).
import { resourceTypeOf } from "../resource-types.js";
import { ABSENT, type DeltaResponse, type SotwResponse, type WatchRequest } from "./config-watcher.js";
import type { PreparedResource } from "./prepared-resource.js";
import type { Snapshot } from "./snapshot.js";

function selected(snapshot: Snapshot, request: WatchRequest): Map<string, PreparedResource> {
  const resources = snapshot.resourcesOf(request.typeUrl);
  if (request.wildcard) return new Map(resources);
  const out = new Map<string, PreparedResource>();
  for (const name of request.names) {
    const resource = resources.get(name);
    if (resource) out.set(name, resource);
  }
  return out;
}

/**
 * The SotW response a stream should get now, or undefined when it has everything (R6: never resend
 * an identical set). LDS/CDS responses carry the whole subscribed set (R12); other types carry only
 * changed or newly subscribed resources (R13). Names that do not exist yet are simply not sent; the
 * watch stays open and they go out when they appear (R15).
 */
export function sotwResponse(snapshot: Snapshot, request: WatchRequest): SotwResponse | undefined {
  const type = resourceTypeOf(request.typeUrl);
  const allRequired = type?.sotwAllRequired ?? false;
  const chosen = selected(snapshot, request);
  const changed: PreparedResource[] = [];
  for (const [name, resource] of chosen) if (request.known.get(name) !== resource.version) changed.push(resource);
  let removed = false;
  if (allRequired) for (const name of request.known.keys()) if (!chosen.has(name)) removed = true;
  const version = snapshot.entry(request.typeUrl)?.version ?? snapshot.version;
  const firstFullState = allRequired && !request.responded;
  if (changed.length === 0 && !removed && !firstFullState) return undefined;
  return { typeUrl: request.typeUrl, version, resources: allRequired ? [...chosen.values()] : changed };
}

/**
 * The delta response a stream should get now, or undefined. Changed and new resources are sent, never
 * unchanged ones (R25); deleted resources and subscribed names that do not exist go in `removed` (R24).
 */
export function deltaResponse(snapshot: Snapshot, request: WatchRequest): DeltaResponse | undefined {
  const all = snapshot.resourcesOf(request.typeUrl);
  const chosen = selected(snapshot, request);
  const resources: PreparedResource[] = [];
  for (const [name, resource] of chosen) if (request.known.get(name) !== resource.version) resources.push(resource);
  const removed: string[] = [];
  for (const [name, version] of request.known) {
    if (version !== ABSENT && !all.has(name) && (request.wildcard || request.names.has(name))) removed.push(name);
  }
  for (const name of request.names) {
    if (!all.has(name) && !request.known.has(name)) removed.push(name);
  }
  if (resources.length === 0 && removed.length === 0) return undefined;
  const version = snapshot.entry(request.typeUrl)?.version ?? snapshot.version;
  return { typeUrl: request.typeUrl, version, resources, removed: [...new Set(removed)].sort() };
}
