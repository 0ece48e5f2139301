// The incremental front of translate: configuration changes in; which connected proxies' resources changed
// (per kind, per name) out. An index from what each proxy's view depends on (service hosts, its namespace's
// Sidecar, its workload, gateways) to the proxies finds the affected ones; only their views are generated
// again, against a new Mesh that inherits every cluster the change did not touch.
import { type Node, XdsKitError } from "@xdskit/core";
import type { AnyConfigObject, ConfigKey } from "./config/model.js";
import { configKey } from "./config/model.js";
import { generate } from "./generate/generate.js";
import { inheritClusters, sidecarEntriesOf, visibleServices } from "./generate/outbound.js";
import { substituteByName, virtualServiceRoutePatch } from "./generate/patch.js";
import { type MeshProxy, proxyOf } from "./generate/proxy.js";
import { PROXY_RESOURCE_KINDS, type ProxyResources } from "./generate/resources.js";
import { hostMatches, resolveHost } from "./index/hosts.js";
import { LayeredMap } from "./index/layered-map.js";
import { createMesh, isRoutingKind, type Mesh, type MeshOptions, olderFirst } from "./index/mesh.js";
import { createRegistryState, type RegistryUpdate } from "./registry/build.js";
import type { MeshService } from "./registry/model.js";

/** One configuration change. `delete` takes the object or its key (`kind/namespace/name`). */
export type TranslatorChange =
  | { readonly op: "add" | "update"; readonly object: AnyConfigObject }
  | { readonly op: "delete"; readonly object?: AnyConfigObject; readonly key?: ConfigKey };

export type ProxyResourceKind = (typeof PROXY_RESOURCE_KINDS)[number];

/** What changed for one proxy, by kind: names added or modified, and names removed. */
export type ResourceChanges = Partial<
  Record<ProxyResourceKind, { readonly updated: readonly string[]; readonly removed: readonly string[] }>
>;

export interface ProxyUpdate {
  /** The proxy's complete resources now (hand them to createSnapshot). */
  readonly resources: ProxyResources;
  readonly changes: ResourceChanges;
}

export interface TranslationUpdate {
  /** Proxies whose resources changed, by id. Proxies not listed keep what they have. */
  readonly proxies: ReadonlyMap<string, ProxyUpdate>;
  /** How much work the change took: proxies whose view was looked at, and distinct views generated. */
  readonly affectedProxies: number;
  readonly generatedViews: number;
}

/** Options of {@link createTranslator}. */
export interface TranslatorOptions {
  /** The configuration to start from; default none. */
  readonly objects?: readonly AnyConfigObject[];
  /** Mesh-wide settings (domain suffix, root namespace, outbound traffic policy); defaults as in buildMesh. */
  readonly mesh?: MeshOptions;
}

export interface Translator {
  /** The mesh of the current configuration. */
  readonly mesh: Mesh;
  /** Connected proxies by id. */
  readonly proxies: ReadonlyMap<string, MeshProxy>;
  /** Starts translating for a proxy (a workload `namespace/name` or an Envoy Node); returns its resources. */
  connect(id: string, who: string | Node): ProxyResources;
  disconnect(id: string): void;
  resourcesOf(id: string): ProxyResources | undefined;
  /** Applies changes; answers which proxies' resources changed and how. */
  apply(changes: readonly TranslatorChange[]): TranslationUpdate;
}

/** A connected proxy's record (internal and updated in place; what it points to is never changed). */
interface Connected {
  who: string | Node;
  proxy: MeshProxy;
  resources: ProxyResources;
  tokens: Tokens;
  /** The last apply that found it affected (to count each proxy once without a set of ids). */
  seen: number;
}

/** What a proxy's view depends on: tokens shared by its view, and how its own workload is found. */
interface Tokens {
  readonly shared: readonly string[];
  readonly workload: string;
}

/**
 * The token of a proxy's workload lookup: a workload named `namespace/name` (any kind: a Pod of the same
 * name takes precedence over a Deployment), or, for a node found by IP or not found at all, every workload
 * of its namespace. Its inbound side also reads the services of its namespace that select it.
 */
function workloadTokenOf(proxy: MeshProxy, who: string | Node): string {
  if (typeof who === "string") return `workload-name:${who}`;
  const workload = proxy.workload;
  if (!workload) return `workloads-in:${proxy.namespace}`;
  const meta = (who.metadata ?? {}) as Record<string, unknown>;
  const byName = typeof meta.WORKLOAD_NAME === "string" ? meta.WORKLOAD_NAME : undefined;
  const podAndNs = (who.id ?? "").split("~")[2] ?? "";
  const podName = podAndNs.slice(0, Math.max(0, podAndNs.lastIndexOf(".")));
  return workload.name === byName || workload.name === podName
    ? `workload-name:${workload.namespace}/${workload.name}`
    : `workloads-in:${proxy.namespace}`;
}

const ALL = "all";
/** Kinds that only feed endpoints (and workload identity), never services or routes. */
const ENDPOINT_KINDS = new Set(["Pod", "Endpoints", "EndpointSlice", "WorkloadEntry", "Deployment"]);

/**
 * Same services (hosts, ports, VIPs) before and after a registry update: routes built for one hold for the
 * other. Only the services built again are compared; the others are the same objects.
 */
function sameServices(update: RegistryUpdate): boolean {
  if (!update.sameOrder) return false;
  const portsOf = (s: MeshService) => s.ports.map((p) => `${p.port}/${p.protocol}`).join();
  for (const { before, after } of update.rebuilt.values()) {
    if (before.length !== after.length) return false;
    for (let i = 0; i < before.length; i++) {
      const x = before[i];
      const y = after[i];
      if (!x || !y || x.hostname !== y.hostname || x.namespace !== y.namespace) return false;
      if (x.addresses.join() !== y.addresses.join() || portsOf(x) !== portsOf(y)) return false;
    }
  }
  return true;
}

export function createTranslator(options: TranslatorOptions = {}): Translator {
  if (options === null || typeof options !== "object")
    throw new XdsKitError("INVALID_ARGUMENT", "createTranslator: options must be an object");
  const objects = new Map<ConfigKey, AnyConfigObject>();
  for (const object of options.objects ?? []) objects.set(configKey(object), object);
  const meshOptions = options.mesh ?? {};
  // The registry is kept up to date change by change. The routing objects are kept per kind in mesh order:
  // a kind no change touched keeps its list, and createMesh reuses what it derived from that list.
  const registryState = createRegistryState([...objects.values()], meshOptions);
  let objectsVersion = LayeredMap.of(new Map(objects)); // this version's objects, for whoever reads mesh.objects
  const routing = new Map<string, Map<ConfigKey, AnyConfigObject>>();
  const sortedRouting = new Map<string, readonly AnyConfigObject[]>();
  const place = (key: ConfigKey, object: AnyConfigObject | undefined, kind: string) => {
    if (!isRoutingKind(kind)) return;
    let byKey = routing.get(kind);
    if (!byKey) {
      byKey = new Map();
      routing.set(kind, byKey);
    }
    const old = byKey.get(key);
    if (object) byKey.set(key, object);
    else byKey.delete(key);
    const list = sortedRouting.get(kind);
    // An object updated in place keeps its position (same age and name): swap it, no sort.
    const at = list && old && object && olderFirst(old, object) === 0 ? list.indexOf(old) : -1;
    if (list && at >= 0) sortedRouting.set(kind, list.with(at, object as AnyConfigObject));
    else sortedRouting.delete(kind);
  };
  for (const [key, object] of objects) place(key, object, object.kind);
  const meshOfObjects = () => {
    const byKind = new Map<string, readonly AnyConfigObject[]>();
    for (const [kind, ofKind] of routing) {
      let list = sortedRouting.get(kind);
      if (!list) {
        list = [...ofKind.values()].sort(olderFirst);
        sortedRouting.set(kind, list);
      }
      byKind.set(kind, list);
    }
    const byKey = objectsVersion;
    return createMesh(() => [...byKey.values()], meshOptions, {
      registry: registryState.registry,
      objectsByKey: byKey,
      byKind,
      sorted: true,
    });
  };
  let mesh = meshOfObjects();
  const connected = new Map<string, Connected>();
  const proxies = new Map<string, MeshProxy>();
  // Dependencies are indexed per view, not per proxy: the proxies of one view share one token list (an
  // array per view and mesh version), so connecting or re-indexing a proxy costs O(1), not O(tokens).
  const members = new Map<readonly string[], Set<string>>(); // token list → proxy ids
  const byToken = new Map<string, Set<readonly string[]>>(); // token → token lists holding it
  const byWorkload = new Map<string, Set<string>>(); // workload token → proxy ids

  const index = (id: string, tokens: Tokens) => {
    let ids = members.get(tokens.shared);
    if (!ids) {
      ids = new Set();
      members.set(tokens.shared, ids);
      for (const token of tokens.shared) {
        let lists = byToken.get(token);
        if (!lists) {
          lists = new Set();
          byToken.set(token, lists);
        }
        lists.add(tokens.shared);
      }
    }
    ids.add(id);
    if (tokens.workload) {
      let set = byWorkload.get(tokens.workload);
      if (!set) {
        set = new Set();
        byWorkload.set(tokens.workload, set);
      }
      set.add(id);
    }
  };
  const unindex = (id: string, tokens: Tokens) => {
    const ids = members.get(tokens.shared);
    ids?.delete(id);
    if (ids && ids.size === 0) {
      members.delete(tokens.shared);
      for (const token of tokens.shared) byToken.get(token)?.delete(tokens.shared);
    }
    if (tokens.workload) byWorkload.get(tokens.workload)?.delete(id);
  };
  const dependentsOf = (token: string, visit: (id: string) => void) => {
    for (const list of byToken.get(token) ?? []) for (const id of members.get(list) ?? []) visit(id);
    for (const id of byWorkload.get(token) ?? []) visit(id);
  };
  let applies = 0;

  const identify = (who: string | Node, previous?: MeshProxy): MeshProxy => {
    try {
      return proxyOf(mesh, who);
    } catch (error) {
      if (previous) return { ...previous, workload: undefined } as MeshProxy; // its workload is gone: keep the identity
      throw error;
    }
  };

  const tokensCache = new WeakMap<Mesh, Map<string, string[]>>();
  const tokensOf = (proxy: MeshProxy, who: string | Node): Tokens => {
    const scope = mesh.sidecarScope(proxy.namespace, proxy.labels);
    let perMesh = tokensCache.get(mesh);
    if (!perMesh) {
      perMesh = new Map();
      tokensCache.set(mesh, perMesh);
    }
    const key = `${proxy.type}|${proxy.namespace}|${scope.key}`;
    let shared = perMesh.get(key);
    if (!shared) {
      const services =
        proxy.type === "router"
          ? mesh.servicesVisibleTo(proxy.namespace)
          : visibleServices(mesh, proxy.namespace, scope);
      shared = [
        ALL,
        `ns:${proxy.namespace}`,
        `inbound:${proxy.namespace}`,
        ...new Set(services.map((s) => `host:${s.hostname}`)),
        ...new Set(scope.egress.flatMap((e) => e.hosts.map((h) => `ns-services:${h.namespace}`))),
      ];
      if (proxy.type === "router") shared.push("gateways", "ns-services:*");
      perMesh.set(key, shared);
    }
    return { shared, workload: workloadTokenOf(proxy, who) };
  };

  return {
    get mesh() {
      return mesh;
    },
    proxies,
    connect(id, who) {
      if (typeof id !== "string" || !id)
        throw new XdsKitError("INVALID_ARGUMENT", "connect: id must be a non-empty string");
      const old = connected.get(id);
      if (old) unindex(id, old.tokens);
      const proxy = identify(who);
      const resources = generate(mesh, proxy);
      const tokens = tokensOf(proxy, who);
      connected.set(id, { who, proxy, resources, tokens, seen: 0 });
      proxies.set(id, proxy);
      index(id, tokens);
      return resources;
    },
    disconnect(id) {
      const old = connected.get(id);
      if (!old) return;
      unindex(id, old.tokens);
      connected.delete(id);
      proxies.delete(id);
    },
    resourcesOf: (id) => connected.get(id)?.resources,
    apply(changes) {
      if (!Array.isArray(changes)) throw new XdsKitError("INVALID_ARGUMENT", "apply: changes must be an array");
      const before = mesh;
      const touched: Array<{ old?: AnyConfigObject; next?: AnyConfigObject }> = [];
      const versionChanges: Array<[ConfigKey, AnyConfigObject | undefined]> = [];
      for (const [i, change] of changes.entries()) {
        const key = change?.object ? configKey(change.object) : change?.key;
        if (!change || !key || !["add", "update", "delete"].includes(change.op))
          throw new XdsKitError(
            "INVALID_ARGUMENT",
            `apply: changes[${i}] must be { op: add|update|delete, object } or { op: "delete", key }`,
          );
        const old = objects.get(key);
        if (change.op === "delete") objects.delete(key);
        else objects.set(key, change.object as AnyConfigObject);
        versionChanges.push([key, change.op === "delete" ? undefined : (change.object as AnyConfigObject)]);
        const next = change.op === "delete" ? undefined : (change.object as AnyConfigObject);
        if (old && old.kind !== next?.kind) place(key, undefined, old.kind);
        if (next) place(key, next, next.kind);
        touched.push({ old, next });
      }
      objectsVersion = objectsVersion.with(versionChanges);
      registryState.update(touched);
      const registryUpdate = registryState.lastUpdate;
      mesh = meshOfObjects();
      const tokens = affectedTokens(mesh, touched, registryUpdate);
      const staleHosts = tokens.has(ALL)
        ? "all"
        : new Set([...tokens].filter((t) => t.startsWith("host:")).map((t) => t.slice(5)));
      const endpointsOnly =
        touched.every(({ old, next }) => [old, next].every((o) => !o || ENDPOINT_KINDS.has(o.kind))) &&
        sameServices(registryUpdate);
      inheritClusters(mesh, before, staleHosts, { endpointsOnly });
      const patch = patchFor(before, mesh, touched, staleHosts, endpointsOnly, registryUpdate);

      const stamp = ++applies;
      const affected: Array<[string, Connected]> = [];
      const visit = (id: string) => {
        const entry = connected.get(id);
        if (!entry || entry.seen === stamp) return;
        entry.seen = stamp;
        affected.push([id, entry]);
      };
      for (const token of tokens) dependentsOf(token, visit);
      const updates = new Map<string, ProxyUpdate>();
      const views = new Set<ProxyResources>();
      // Proxies that had the same view and get the same view share one answer (the update is immutable).
      const answers = new Map<ProxyResources, Map<ProxyResources, ProxyUpdate | null>>();
      const answerFor = (previous: ProxyResources, after: ProxyResources): ProxyUpdate | null => {
        let byAfter = answers.get(previous);
        if (!byAfter) {
          byAfter = new Map();
          answers.set(previous, byAfter);
        }
        let answer = byAfter.get(after);
        if (answer === undefined) {
          const changes = diffResources(previous, after);
          answer = Object.keys(changes).length > 0 ? { resources: after, changes } : null;
          byAfter.set(after, answer);
        }
        return answer;
      };
      for (const [id, entry] of affected) {
        const previous = entry.resources;
        // A sidecar whose own workload was not touched keeps its identity and dependencies: patch its view.
        const patched =
          patch && entry.proxy.type === "sidecar" && !tokens.has(entry.tokens.workload)
            ? patch(entry.resources, entry.proxy)
            : undefined;
        let resources: ProxyResources;
        if (patched) {
          resources = patched;
          entry.resources = resources;
        } else {
          unindex(id, entry.tokens);
          const proxy = identify(entry.who, entry.proxy);
          resources = generate(mesh, proxy);
          const nextTokens = tokensOf(proxy, entry.who);
          index(id, nextTokens);
          connected.set(id, { who: entry.who, proxy, resources, tokens: nextTokens, seen: stamp });
          proxies.set(id, proxy);
        }
        views.add(resources);
        const answer = answerFor(previous, resources);
        if (answer) updates.set(id, answer);
      }
      return { proxies: updates, affectedProxies: affected.length, generatedViews: views.size };
    },
  };
}

/**
 * How to patch a sidecar's view for this change instead of generating it, when the change is one the
 * patches cover: endpoints only (the load assignments and clusters of the stale hosts are replaced, while
 * the workload's own services stay the same), or one VirtualService updated in place.
 */
function patchFor(
  before: Mesh,
  after: Mesh,
  touched: ReadonlyArray<{ old?: AnyConfigObject; next?: AnyConfigObject }>,
  staleHosts: ReadonlySet<string> | "all",
  endpointsOnly: boolean,
  registryUpdate: RegistryUpdate,
): ((resources: ProxyResources, proxy: MeshProxy) => ProxyResources | undefined) | undefined {
  if (endpointsOnly && staleHosts !== "all") {
    const sameHosts = (a: readonly { hostname: string }[], b: readonly { hostname: string }[]) =>
      a === b || (a.length === b.length && a.every((s, i) => s.hostname === b[i]?.hostname));
    // Services select workloads of their own namespace: elsewhere a workload's services stayed the same.
    const rebuiltNamespaces = new Set<string>();
    for (const { before: was, after: now } of registryUpdate.rebuilt.values())
      for (const service of [...was, ...now]) rebuiltNamespaces.add(service.namespace);
    const byNamespace = new Map<string, ReadonlyMap<string, object> | null>();
    const patchedViews = new Map<ProxyResources, ProxyResources | null>(); // a view is of one namespace
    return (resources, proxy) => {
      const workload = proxy.workload;
      if (
        workload &&
        rebuiltNamespaces.has(workload.namespace) &&
        !sameHosts(before.registry.servicesOf(workload), after.registry.servicesOf(workload))
      )
        return undefined; // its inbound side may change
      let replacements = byNamespace.get(proxy.namespace);
      if (replacements === undefined) {
        replacements = sidecarEntriesOf(after, proxy.namespace, staleHosts);
        byNamespace.set(proxy.namespace, replacements);
      }
      if (!replacements) return undefined;
      let patched = patchedViews.get(resources);
      if (patched === undefined) {
        patched = substituteByName(resources, replacements) ?? null;
        patchedViews.set(resources, patched);
      }
      return patched ?? undefined;
    };
  }
  const only = touched.length === 1 ? touched[0] : undefined;
  if (only?.old?.kind === "VirtualService" && only.next?.kind === "VirtualService") {
    const key = configKey(only.next);
    const old = before.virtualServices.find((vs) => vs.key === key);
    const next = after.virtualServices.find((vs) => vs.key === key);
    const routePatch = old && next ? virtualServiceRoutePatch(before, after, old, next) : undefined;
    return routePatch ? (resources, proxy) => routePatch.view(resources, proxy) : undefined;
  }
  return undefined;
}

/**
 * The dependency tokens a set of changes touches, looked up in the mesh after them. A registry object
 * (Service, ServiceEntry, endpoint source) touches the hosts of every service the registry built again.
 */
function affectedTokens(
  after: Mesh,
  touched: ReadonlyArray<{ old?: AnyConfigObject; next?: AnyConfigObject }>,
  registryUpdate: RegistryUpdate,
): Set<string> {
  const tokens = new Set<string>();
  const rebuiltHosts = new Set<string>();
  for (const { before: was, after: now } of registryUpdate.rebuilt.values())
    for (const service of [...was, ...now]) rebuiltHosts.add(service.hostname);
  const matchingHosts = (mesh: Mesh, pattern: string) =>
    pattern.includes("*")
      ? mesh.registry.services.filter((s) => hostMatches(pattern, s.hostname)).map((s) => s.hostname)
      : [pattern];
  for (const { old, next } of touched) {
    for (const object of [old, next]) {
      if (!object) continue;
      const key = configKey(object);
      const domain = after.options.domainSuffix;
      switch (object.kind) {
        case "Service":
        case "ServiceEntry": {
          for (const h of rebuiltHosts) tokens.add(`host:${h}`);
          tokens.add(`inbound:${object.metadata.namespace}`);
          if (!old || !next || hostsChanged(registryUpdate, key)) {
            tokens.add(`ns-services:${object.metadata.namespace}`);
            tokens.add("ns-services:*");
          }
          break;
        }
        case "Endpoints":
        case "EndpointSlice":
        case "Pod":
        case "WorkloadEntry":
        case "Deployment":
          for (const h of rebuiltHosts) tokens.add(`host:${h}`);
          if (object.kind !== "Endpoints" && object.kind !== "EndpointSlice") {
            tokens.add(`workload-name:${object.metadata.namespace}/${object.metadata.name}`);
            tokens.add(`workloads-in:${object.metadata.namespace}`);
          }
          break;
        case "VirtualService": {
          const spec = object.spec;
          if ((spec.hosts ?? []).length === 0 || (spec.gateways ?? []).some((g) => g !== "mesh"))
            tokens.add("gateways");
          if ((spec.hosts ?? []).length === 0) tokens.add("all"); // a delegate: its roots are anywhere
          for (const raw of spec.hosts ?? []) {
            const host = resolveHost(raw, object.metadata.namespace, domain);
            const known = matchingHosts(after, host).filter((h) => after.registry.byHostname.has(h));
            if (known.length === 0) tokens.add("all"); // a host that is no service shows up as a virtual host anywhere
            for (const h of known) tokens.add(`host:${h}`);
          }
          break;
        }
        case "DestinationRule": {
          const host = resolveHost(object.spec.host ?? "", object.metadata.namespace, domain);
          for (const h of matchingHosts(after, host)) tokens.add(`host:${h}`);
          break;
        }
        case "Sidecar":
          tokens.add(
            object.metadata.namespace === after.options.rootNamespace ? "all" : `ns:${object.metadata.namespace}`,
          );
          break;
        case "Gateway":
          tokens.add("gateways");
          break;
        case "PeerAuthentication": {
          // A selecting policy changes its namespace's inbound chains only; a namespace or mesh policy also
          // changes how every client reaches that namespace's services (auto mTLS).
          const selecting = Object.keys(object.spec.selector?.matchLabels ?? {}).length > 0;
          const root = object.metadata.namespace === after.options.rootNamespace;
          tokens.add(selecting && !root ? `ns:${object.metadata.namespace}` : "all");
          break;
        }
        default:
          break; // Namespaces, ServiceAccounts, AuthorizationPolicies and RequestAuthentications change nothing generated
      }
    }
  }
  return tokens;
}

/** Whether the services of a Service or ServiceEntry changed who sees them: hosts or exportTo. */
function hostsChanged(update: RegistryUpdate, key: ConfigKey): boolean {
  const rebuilt = update.rebuilt.get(key);
  if (!rebuilt) return false;
  const hosts = (services: readonly MeshService[]) =>
    services
      .map((s) => `${s.hostname}/${s.exportTo.join()}`)
      .sort()
      .join(",");
  return hosts(rebuilt.before) !== hosts(rebuilt.after);
}

/**
 * Structural equality of two generated messages, undefined fields read as absent. Generation reuses the
 * objects of whatever did not change, so a shared reference ends the comparison of a subtree at once and
 * comparing a regenerated route configuration costs its changed virtual hosts, not its size.
 */
export function sameMessage(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameMessage(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let count = 0;
  for (const key in x) {
    if (x[key] === undefined) continue;
    count++;
    if (!sameMessage(x[key], y[key])) return false;
  }
  for (const key in y) if (y[key] !== undefined) count--;
  return count === 0;
}

// Proxies that share a view share its before/after objects: their difference is computed once.
const diffs = new WeakMap<ProxyResources, WeakMap<ProxyResources, ResourceChanges>>();
function diffResources(before: ProxyResources, after: ProxyResources): ResourceChanges {
  let byAfter = diffs.get(before);
  if (!byAfter) {
    byAfter = new WeakMap();
    diffs.set(before, byAfter);
  }
  let diff = byAfter.get(after);
  if (!diff) {
    diff = computeDiff(before, after);
    byAfter.set(after, diff);
  }
  return diff;
}

/** Names added or modified, and removed, per kind; compared as structures, never encoded. */
function computeDiff(before: ProxyResources, after: ProxyResources): ResourceChanges {
  const out: Record<string, { updated: string[]; removed: string[] }> = {};
  if (before === after) return out;
  for (const kind of PROXY_RESOURCE_KINDS) {
    const a = before[kind] as ReadonlyArray<{ name?: string; clusterName?: string }>;
    const b = after[kind] as ReadonlyArray<{ name?: string; clusterName?: string }>;
    if (a === b) continue;
    const nameOf = (r: { name?: string; clusterName?: string }) => r.name ?? r.clusterName ?? "";
    // A patched list keeps every name at its place: compare side by side, without indexing.
    if (a.length === b.length && a.every((r, i) => r === b[i] || nameOf(r) === nameOf(b[i] as typeof r))) {
      const updated: string[] = [];
      for (let i = 0; i < a.length; i++)
        if (a[i] !== b[i] && !sameMessage(a[i], b[i])) updated.push(nameOf(a[i] ?? {}));
      if (updated.length > 0) out[kind] = { updated, removed: [] };
      continue;
    }
    const old = new Map(a.map((r) => [nameOf(r), r]));
    const updated: string[] = [];
    const seen = new Set<string>();
    for (const r of b) {
      const name = nameOf(r);
      seen.add(name);
      const prev = old.get(name);
      if (prev === r) continue;
      if (!prev || !sameMessage(prev, r)) updated.push(name);
    }
    const removed = [...old.keys()].filter((n) => !seen.has(n));
    if (updated.length > 0 || removed.length > 0) out[kind] = { updated, removed };
  }
  return out as ResourceChanges;
}
