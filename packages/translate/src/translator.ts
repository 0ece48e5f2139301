// The incremental front of translate: configuration changes in; which connected proxies' resources changed
// (per kind, per name) out. An index from what each proxy's view depends on (service hosts, its namespace's
// Sidecar, its workload, gateways) to the proxies finds the affected ones; only their views are generated
// again, against a new Mesh that inherits every cluster the change did not touch.
import { type Node, prepareResource, type ResourceKind, resourceTypes, XdsKitError } from "@xdskit/core";
import type { AnyConfigObject, ConfigKey } from "./config/model.js";
import { configKey } from "./config/model.js";
import { generate } from "./generate/generate.js";
import { inheritClusters, visibleServices } from "./generate/outbound.js";
import { type MeshProxy, proxyOf } from "./generate/proxy.js";
import { PROXY_RESOURCE_KINDS, type ProxyResources } from "./generate/resources.js";
import { hostMatches, resolveHost } from "./index/hosts.js";
import { buildMesh, type Mesh, type MeshOptions } from "./index/mesh.js";

/** One configuration change. `delete` takes the object or its key (`kind/namespace/name`). */
export type ConfigChange =
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
  apply(changes: readonly ConfigChange[]): TranslationUpdate;
}

interface Connected {
  who: string | Node;
  proxy: MeshProxy;
  resources: ProxyResources;
  tokens: readonly string[];
}

const ALL = "all";

export function createTranslator(options: TranslatorOptions = {}): Translator {
  if (options === null || typeof options !== "object")
    throw new XdsKitError("INVALID_ARGUMENT", "createTranslator: options must be an object");
  const objects = new Map<ConfigKey, AnyConfigObject>();
  for (const object of options.objects ?? []) objects.set(configKey(object), object);
  let mesh = buildMesh([...objects.values()], options.mesh ?? {});
  const connected = new Map<string, Connected>();
  const proxies = new Map<string, MeshProxy>();
  /** dependency token → ids of proxies whose view depends on it */
  const dependents = new Map<string, Set<string>>();

  const index = (id: string, tokens: readonly string[]) => {
    for (const token of tokens) {
      let set = dependents.get(token);
      if (!set) {
        set = new Set();
        dependents.set(token, set);
      }
      set.add(id);
    }
  };
  const unindex = (id: string, tokens: readonly string[]) => {
    for (const token of tokens) dependents.get(token)?.delete(id);
  };

  const identify = (who: string | Node, previous?: MeshProxy): MeshProxy => {
    try {
      return proxyOf(mesh, who);
    } catch (error) {
      if (previous) return { ...previous, workload: undefined } as MeshProxy; // its workload is gone: keep the identity
      throw error;
    }
  };

  const tokensCache = new WeakMap<Mesh, Map<string, string[]>>();
  const tokensOf = (proxy: MeshProxy): string[] => {
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
        ...new Set(services.map((s) => `host:${s.hostname}`)),
        ...new Set(scope.egress.flatMap((e) => e.hosts.map((h) => `ns-services:${h.namespace}`))),
      ];
      if (proxy.type === "router") shared.push("gateways", "ns-services:*");
      perMesh.set(key, shared);
    }
    return proxy.workload ? [...shared, `workload:${proxy.workload.key}`] : shared;
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
      const tokens = tokensOf(proxy);
      connected.set(id, { who, proxy, resources, tokens });
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
        touched.push({ old, next: change.op === "delete" ? undefined : change.object });
      }
      mesh = buildMesh([...objects.values()], options.mesh ?? {});
      const tokens = affectedTokens(before, mesh, touched);
      const staleHosts = tokens.has(ALL)
        ? "all"
        : new Set([...tokens].filter((t) => t.startsWith("host:")).map((t) => t.slice(5)));
      inheritClusters(mesh, before, staleHosts);

      const affected = new Set<string>();
      for (const token of tokens) for (const id of dependents.get(token) ?? []) affected.add(id);
      const updates = new Map<string, ProxyUpdate>();
      const views = new Set<ProxyResources>();
      for (const id of affected) {
        const entry = connected.get(id);
        if (!entry) continue;
        unindex(id, entry.tokens);
        const proxy = identify(entry.who, entry.proxy);
        const resources = generate(mesh, proxy);
        views.add(resources);
        const nextTokens = tokensOf(proxy);
        index(id, nextTokens);
        const diff = diffResources(entry.resources, resources);
        connected.set(id, { who: entry.who, proxy, resources, tokens: nextTokens });
        proxies.set(id, proxy);
        if (Object.keys(diff).length > 0) updates.set(id, { resources, changes: diff });
      }
      return { proxies: updates, affectedProxies: affected.size, generatedViews: views.size };
    },
  };
}

/** The dependency tokens a set of changes touches, looked up in the mesh before and after. */
function affectedTokens(
  before: Mesh,
  after: Mesh,
  touched: ReadonlyArray<{ old?: AnyConfigObject; next?: AnyConfigObject }>,
): Set<string> {
  const tokens = new Set<string>();
  const hostsOfInput = (mesh: Mesh, key: ConfigKey) => {
    const out: string[] = [];
    for (const [service, inputs] of mesh.registry.inputsOf) if (inputs.includes(key)) out.push(service.hostname);
    return out;
  };
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
          const hosts = new Set([...hostsOfInput(before, key), ...hostsOfInput(after, key)]);
          for (const h of hosts) tokens.add(`host:${h}`);
          if (!old || !next || hostsChanged(before, after, key)) {
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
          for (const h of new Set([...hostsOfInput(before, key), ...hostsOfInput(after, key)])) tokens.add(`host:${h}`);
          tokens.add(`workload:${key}`);
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
        default:
          break; // Namespaces, ServiceAccounts and security kinds do not change what is generated yet
      }
    }
  }
  return tokens;
}

function hostsChanged(before: Mesh, after: Mesh, key: ConfigKey): boolean {
  const hosts = (mesh: Mesh) =>
    mesh.registry.services
      .filter((s) => s.source === key)
      .map((s) => s.hostname)
      .join(",");
  return hosts(before) !== hosts(after);
}

const versions = new WeakMap<object, string>();
function versionOf(kind: ResourceKind, resource: object): string {
  let version = versions.get(resource);
  if (version === undefined) {
    version = prepareResource(resourceTypes[kind] as never, resource as never).version;
    versions.set(resource, version);
  }
  return version;
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

/** Names added or modified, and removed, per kind; identical objects are skipped without encoding. */
function computeDiff(before: ProxyResources, after: ProxyResources): ResourceChanges {
  const out: Record<string, { updated: string[]; removed: string[] }> = {};
  if (before === after) return out;
  for (const kind of PROXY_RESOURCE_KINDS) {
    const a = before[kind] as ReadonlyArray<{ name?: string; clusterName?: string }>;
    const b = after[kind] as ReadonlyArray<{ name?: string; clusterName?: string }>;
    if (a === b) continue;
    const nameOf = (r: { name?: string; clusterName?: string }) => r.name ?? r.clusterName ?? "";
    const old = new Map(a.map((r) => [nameOf(r), r]));
    const updated: string[] = [];
    const seen = new Set<string>();
    for (const r of b) {
      const name = nameOf(r);
      seen.add(name);
      const prev = old.get(name);
      if (prev === r) continue;
      if (!prev || versionOf(kind, prev) !== versionOf(kind, r)) updated.push(name);
    }
    const removed = [...old.keys()].filter((n) => !seen.has(n));
    if (updated.length > 0 || removed.length > 0) out[kind] = { updated, removed };
  }
  return out as ResourceChanges;
}
