// VHDS aliases (XDS-RULES R28). A delta VHDS client subscribes to `<route configuration name>/<host>`;
// the server answers with the virtual host of that route configuration whose domains serve the host,
// listing the alias in the Resource's `aliases`. An alias nothing serves is answered by a Resource named
// after the alias, with that alias and no body (Envoy's VHDS contract). Virtual host resources are named
// `<route configuration name>/<anything>`; the host is matched as Envoy matches domains: exact, then the
// longest `*suffix`, then the longest `prefix*`, then `*`; a `:port` the domains do not list is ignored.
import type { VirtualHost } from "../gen/envoy/config/route/v3/route_components.js";
import { ABSENT, type DeltaResponse, type WatchRequest } from "./config-watcher.js";
import type { PreparedResource } from "./prepared-resource.js";

interface DomainIndex {
  readonly exact: Map<string, PreparedResource>;
  /** `*suffix` domains, longest suffix first. */
  readonly suffix: Array<readonly [string, PreparedResource]>;
  /** `prefix*` domains, longest prefix first. */
  readonly prefix: Array<readonly [string, PreparedResource]>;
  any?: PreparedResource;
}

// Built once per resource map (snapshots and views are immutable), shared by every stream.
const indexes = new WeakMap<ReadonlyMap<string, PreparedResource>, Map<string, DomainIndex>>();

function indexOf(resources: ReadonlyMap<string, PreparedResource>): Map<string, DomainIndex> {
  let index = indexes.get(resources);
  if (index) return index;
  index = new Map();
  for (const resource of resources.values()) {
    const slash = resource.name.lastIndexOf("/");
    if (slash < 0) continue;
    const routeConfig = resource.name.slice(0, slash);
    let entry = index.get(routeConfig);
    if (!entry) {
      entry = { exact: new Map(), suffix: [], prefix: [] };
      index.set(routeConfig, entry);
    }
    for (const raw of (resource.resource as VirtualHost | undefined)?.domains ?? []) {
      const domain = raw.toLowerCase();
      if (domain === "*") entry.any ??= resource;
      else if (domain.startsWith("*")) entry.suffix.push([domain.slice(1), resource]);
      else if (domain.endsWith("*")) entry.prefix.push([domain.slice(0, -1), resource]);
      else if (!entry.exact.has(domain)) entry.exact.set(domain, resource);
    }
  }
  for (const entry of index.values()) {
    entry.suffix.sort((a, b) => b[0].length - a[0].length);
    entry.prefix.sort((a, b) => b[0].length - a[0].length);
  }
  indexes.set(resources, index);
  return index;
}

function match(entry: DomainIndex, host: string): PreparedResource | undefined {
  const exact = entry.exact.get(host);
  if (exact) return exact;
  // A wildcard stands for at least one character.
  for (const [suffix, resource] of entry.suffix)
    if (host.length > suffix.length && host.endsWith(suffix)) return resource;
  for (const [prefix, resource] of entry.prefix)
    if (host.length > prefix.length && host.startsWith(prefix)) return resource;
  return entry.any;
}

/** The virtual host resource an alias `<route configuration name>/<host>` resolves to, if any. */
export function resolveVhdsAlias(
  resources: ReadonlyMap<string, PreparedResource>,
  alias: string,
): PreparedResource | undefined {
  const slash = alias.lastIndexOf("/");
  if (slash < 0) return undefined;
  const entry = indexOf(resources).get(alias.slice(0, slash));
  if (!entry) return undefined;
  const host = alias.slice(slash + 1).toLowerCase();
  const found = match(entry, host);
  if (found) return found;
  const portless = host.replace(/:\d+$/, "");
  return portless !== host ? match(entry, portless) : undefined;
}

/**
 * The delta VHDS response a stream should get now, or undefined. Names and the wildcard behave as for
 * every type (R22-R25); a subscribed name that is no resource's name is an alias: it is answered once
 * per resolution (the resource it resolves to, carrying every subscribed alias that resolves to it), or
 * once as unresolved; a resource followed through an alias that is deleted goes in `removed`.
 */
export function vhdsDeltaResponse(
  view: { readonly version: string; readonly resources: ReadonlyMap<string, PreparedResource> },
  request: WatchRequest,
): DeltaResponse | undefined {
  const all = view.resources;
  const out = new Map<string, PreparedResource>();
  const consider = (name: string) => {
    const resource = all.get(name);
    if (resource && request.known.get(name) !== resource.version) out.set(name, resource);
  };
  if (request.wildcard) for (const name of all.keys()) consider(name);
  const aliasesOf = new Map<string, string[]>();
  const unresolved: string[] = [];
  const followed = new Set<string>();
  for (const name of request.names) {
    if (all.has(name)) {
      consider(name);
      continue;
    }
    const known = request.known.get(name);
    // A resource the client holds under this name was deleted: that is a removal (below), not an alias.
    if (known !== undefined && known !== ABSENT) continue;
    const previous = request.aliases?.get(name);
    if (previous) followed.add(previous);
    const target = resolveVhdsAlias(all, name);
    if (!target) {
      if (previous !== "" && known !== ABSENT) unresolved.push(name);
      continue;
    }
    followed.add(target.name);
    const list = aliasesOf.get(target.name);
    if (list) list.push(name);
    else aliasesOf.set(target.name, [name]);
    if (previous !== target.name || request.known.get(target.name) !== target.version) out.set(target.name, target);
  }
  const removed: string[] = [];
  for (const [name, version] of request.known) {
    if (version === ABSENT || all.has(name)) continue;
    if (request.wildcard || request.names.has(name) || followed.has(name)) removed.push(name);
  }
  if (out.size === 0 && removed.length === 0 && unresolved.length === 0) return undefined;
  const aliases = new Map<string, readonly string[]>();
  for (const name of out.keys()) {
    const list = aliasesOf.get(name);
    if (list) aliases.set(name, list);
  }
  return {
    typeUrl: request.typeUrl,
    version: view.version,
    resources: [...out.values()],
    removed: removed.sort(),
    ...(aliases.size > 0 ? { aliases } : {}),
    ...(unresolved.length > 0 ? { unresolvedAliases: unresolved } : {}),
  };
}
