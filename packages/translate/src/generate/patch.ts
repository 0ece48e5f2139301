// Views patched instead of generated again, for the two changes a mesh sees most: endpoints moving (the
// load assignments of a few clusters are replaced) and one VirtualService edited in place (the virtual
// hosts it fills are replaced). Each patch holds only under conditions that make its result what
// generate() gives for the new mesh; otherwise the caller generates the view.
import type { RouteConfiguration } from "@xdskit/core";
import { hostsOverlap, isVisible } from "../index/hosts.js";
import { egressAllows, type Mesh, type VirtualServiceEntry } from "../index/mesh.js";
import { egressFor } from "./outbound.js";
import type { MeshProxy } from "./proxy.js";
import type { ProxyResources } from "./resources.js";
import { virtualServiceRoutes } from "./routes.js";

/**
 * The view with its clusters and load assignments of some hosts swapped for `replacements` (by name:
 * `c:<cluster>`, `e:<load assignment>`): the same view when it has none of them, undefined when it has only
 * some (its clusters of those hosts are not the ones the replacements were built for).
 */
export function substituteByName(
  view: ProxyResources,
  replacements: ReadonlyMap<string, object>,
): ProxyResources | undefined {
  let found = 0;
  const swapped: Record<"Cluster" | "ClusterLoadAssignment", number[]> = { Cluster: [], ClusterLoadAssignment: [] };
  const swap = <T extends { name?: string; clusterName?: string }>(
    list: readonly T[],
    prefix: string,
    at: number[],
  ) => {
    const positions = positionsOf(list);
    let out: T[] | undefined;
    for (const [key, next] of replacements) {
      if (!key.startsWith(prefix)) continue;
      const i = positions.get(key.slice(prefix.length));
      if (i === undefined) continue;
      found++;
      if (list[i] === next) continue;
      out ??= [...list];
      out[i] = next as T;
      at.push(i);
    }
    if (out) namePositions.set(out, positions); // the same names at the same places
    return out ?? list;
  };
  const Cluster = swap(view.Cluster, "c:", swapped.Cluster);
  const ClusterLoadAssignment = swap(view.ClusterLoadAssignment, "e:", swapped.ClusterLoadAssignment);
  if (found !== 0 && found !== replacements.size) return undefined;
  if (Cluster === view.Cluster && ClusterLoadAssignment === view.ClusterLoadAssignment) return view;
  const patched = { ...view, Cluster, ClusterLoadAssignment };
  substitutions.set(patched, { from: view, swapped });
  return patched;
}

/** A view substituteByName made: the view it came from and the positions it swapped, per kind. */
export interface Substitution {
  readonly from: ProxyResources;
  readonly swapped: Readonly<Partial<Record<keyof ProxyResources, readonly number[]>>>;
}
const substitutions = new WeakMap<ProxyResources, Substitution>();
/** How `view` was made from another by substituteByName, if it was (a comparison then looks only there). */
export const substitutionOf = (view: ProxyResources): Substitution | undefined => substitutions.get(view);

/** Where each name is in a list of resources, computed once per list (lists are never changed). */
const namePositions = new WeakMap<readonly object[], Map<string, number>>();
function positionsOf(list: readonly { name?: string; clusterName?: string }[]): Map<string, number> {
  let positions = namePositions.get(list);
  if (!positions) {
    positions = new Map();
    for (let i = 0; i < list.length; i++) {
      const item = list[i] as { name?: string; clusterName?: string };
      positions.set(item.name ?? item.clusterName ?? "", i);
    }
    namePositions.set(list, positions);
  }
  return positions;
}

export interface RoutePatch {
  /** The sidecar's view with the VirtualService's virtual hosts replaced, or undefined when it cannot be patched. */
  view(resources: ProxyResources, proxy: MeshProxy): ProxyResources | undefined;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A patch for sidecar views when the only change is one VirtualService updated in place and what it
 * routes is all that changed: the same hosts (services, no wildcards, claimed by no other
 * VirtualService), bound to the mesh only, the same exportTo and age, HTTP routes only, no delegation, no
 * source labels. Its virtual hosts keep their names and domains; only their routes are new.
 */
export function virtualServiceRoutePatch(
  before: Mesh,
  after: Mesh,
  old: VirtualServiceEntry,
  next: VirtualServiceEntry,
): RoutePatch | undefined {
  if (!sameList(old.hosts, next.hosts) || !sameList(old.exportTo, next.exportTo)) return undefined;
  if (!sameList(old.gateways, ["mesh"]) || !sameList(next.gateways, ["mesh"])) return undefined;
  if (old.object.metadata.creationTimestamp !== next.object.metadata.creationTimestamp) return undefined;
  for (const { spec } of [old, next]) {
    if ((spec.tcp ?? []).length > 0 || (spec.tls ?? []).length > 0) return undefined;
    for (const http of spec.http ?? []) {
      if (http.delegate) return undefined;
      for (const match of http.match ?? [])
        if (Object.keys(match.sourceLabels ?? {}).length > 0 || (match.gateways ?? []).length > 0) return undefined;
    }
  }
  if (next.hosts.some((h) => h.includes("*") || !after.registry.byHostname.has(h))) return undefined;
  for (const vs of after.virtualServices)
    if (vs.key !== next.key && vs.hosts.some((h) => next.hosts.some((mine) => hostsOverlap(h, mine)))) return undefined;

  const patchedConfigs = new Map<RouteConfiguration, RouteConfiguration | null>();
  const patchConfig = (config: RouteConfiguration, proxy: MeshProxy): RouteConfiguration | null => {
    const port = Number(config.name);
    if (!Number.isInteger(port)) return null;
    const scope = after.sidecarScope(proxy.namespace, proxy.labels);
    const egress = egressFor(scope, port);
    const applies = egress !== undefined && next.hosts.some((h) => egressAllows(egress, next.namespace, h));
    if (!applies) return config;
    const ctx = { namespace: proxy.namespace, labels: proxy.labels, gateways: new Set(["mesh"]) };
    const oldRoutes = virtualServiceRoutes({ ...ctx, mesh: before }, old, port);
    const newRoutes = virtualServiceRoutes({ ...ctx, mesh: after }, next, port);
    if (oldRoutes.length === 0 && newRoutes.length === 0) return config;
    if (oldRoutes.length === 0 || newRoutes.length === 0) return null; // the hosts change hands
    const names = new Set(next.hosts.map((h) => `${h}:${port}`));
    let changed = false;
    const virtualHosts = (config.virtualHosts ?? []).map((vhost) => {
      if (!names.has(vhost.name ?? "")) return vhost;
      changed = true;
      return { ...vhost, routes: newRoutes };
    });
    return changed ? { ...config, virtualHosts } : config;
  };
  // With a Sidecar resource, a proxy gets clusters for the VirtualService's destinations too: new
  // destinations may add clusters, which only generating the view gives.
  const destinations = (vs: VirtualServiceEntry) =>
    [
      ...new Set(
        [...(vs.spec.http ?? []), ...(vs.spec.tcp ?? []), ...(vs.spec.tls ?? [])].flatMap((r) => [
          ...(r.route ?? []).map((d) => `${d.destination?.host}:${d.destination?.port?.number ?? 0}`),
          ...("mirror" in r && r.mirror ? [`${r.mirror.host}:${r.mirror.port?.number ?? 0}`] : []),
          ...("mirrors" in r
            ? (r.mirrors ?? []).map((m) => `${m.destination?.host}:${m.destination?.port?.number ?? 0}`)
            : []),
        ]),
      ),
    ].sort();
  const sameDestinations = sameList(destinations(old), destinations(next));
  const patchedViews = new Map<ProxyResources, ProxyResources | null>();
  return {
    view(resources, proxy) {
      if (proxy.type !== "sidecar") return undefined;
      if (!sameDestinations && after.sidecarScope(proxy.namespace, proxy.labels).key !== "default") return undefined;
      if (!isVisible(next.exportTo, next.namespace, proxy.namespace)) return resources;
      let view = patchedViews.get(resources);
      if (view === undefined) {
        let changed = false;
        const configs: RouteConfiguration[] = [];
        view = resources;
        for (const config of resources.RouteConfiguration) {
          let patched = patchedConfigs.get(config);
          if (patched === undefined) {
            patched = patchConfig(config, proxy);
            patchedConfigs.set(config, patched);
          }
          if (patched === null) {
            view = null;
            break;
          }
          if (patched !== config) changed = true;
          configs.push(patched);
        }
        if (view !== null && changed) view = { ...resources, RouteConfiguration: configs };
        patchedViews.set(resources, view);
      }
      return view ?? undefined;
    },
  };
}
