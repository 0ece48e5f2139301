// What a proxy needs to reach services: their clusters, endpoints and (per port) HTTP route
// configurations. Shared by sidecars, gateways and proxyless clients; every piece is memoized on the mesh
// by what decides it, so proxies with the same view get the same objects.
import type { Cluster, ClusterLoadAssignment, RouteConfiguration } from "@xdskit/core";
import { hostMatches } from "../index/hosts.js";
import type { MergedDestinationRule, Mesh, SidecarEgress, SidecarScope, VirtualServiceEntry } from "../index/mesh.js";
import { egressAllows } from "../index/mesh.js";
import type { MeshService, ServicePort } from "../registry/model.js";
import { isHttpProtocol } from "../registry/protocol.js";
import { loadAssignmentOf, matchesSubset, outboundClusters } from "./clusters.js";
import { serviceAccountsOf } from "./mtls.js";
import {
  catchAllVirtualHost,
  defaultRoute,
  type Route,
  type RouteContext,
  routesKey,
  virtualServiceRoutes,
} from "./routes.js";

type VirtualHost = NonNullable<RouteConfiguration["virtualHosts"]>[number];

/** Per-mesh memo tables (the mesh is immutable, so entries never go stale). */
/** The clusters and load assignments of one service port as seen with one DestinationRule, and what built them. */
interface ClusterEntry {
  /** Unique per entry: lists of entries are compared by these. */
  readonly id: number;
  readonly clusters: Cluster[];
  readonly endpoints: ClusterLoadAssignment[];
  readonly service: MeshService;
  readonly port: ServicePort;
  readonly rule: MergedDestinationRule | undefined;
  readonly proxyless: boolean;
}

interface Memo {
  clusters: Map<string, ClusterEntry>;
  routes: Map<string, RouteConfiguration>;
  /** Virtual hosts of services without a VirtualService: `<namespace>|<port>|<host>|<g>`. */
  defaultHosts: Map<string, VirtualHost>;
  /** A VirtualService's routes for one port, by routesKey: shared by every namespace that sees them alike. */
  vsRoutes: Map<string, Route[]>;
  views: Map<string, unknown>;
  /** outboundClustersOf's answers by a hash of their entries: namespaces that see the same entries share them. */
  clusterLists: Map<number, Array<{ entries: ClusterEntry[]; lists: OutboundClusters }>>;
  /**
   * The same entries by object (service, then its merged DestinationRule) for sidecars [0] and proxyless
   * clients [1]: every view looks up every service, and a key string per lookup costs more than the rest.
   */
  entriesByService: [EntriesByService, EntriesByService];
  /** Default virtual hosts by service, at defaultHostSlot: the same objects as defaultHosts holds. */
  defaultsByService: Map<MeshService, Array<VirtualHost | undefined>>;
  /** serviceDomains's answers by service, at defaultHostSlot. */
  domainsByService: Map<MeshService, Array<string[] | undefined>>;
  /** Domains more than one service can be reached by (from some namespace): only they need de-duplication. */
  contested?: ReadonlySet<string>;
  /** Domain lists none of whose domains is contested. */
  uncontested: WeakMap<readonly string[], boolean>;
  sourceLabels?: boolean;
}
type EntriesByService = Map<MeshService, Map<MergedDestinationRule | undefined, ClusterEntry[]>>;

/** The clusters and load assignments of a list of services (shared: never changed by whoever gets them). */
export interface OutboundClusters {
  readonly clusters: readonly Cluster[];
  readonly endpoints: readonly ClusterLoadAssignment[];
}
const memos = new WeakMap<Mesh, Memo>();

/**
 * What a mesh inherits from an older version, applied when its memo is first used: a change answered by
 * patching views alone never copies the tables, and a run of such changes inherits from the last mesh
 * that was used, with the stale hosts of every change in between.
 */
interface Inheritance {
  readonly from: Mesh;
  readonly staleHosts: ReadonlySet<string>;
  readonly endpointsOnly: boolean;
}
const pending = new WeakMap<Mesh, Inheritance>();

export function memoOf(mesh: Mesh): Memo {
  let memo = memos.get(mesh);
  if (!memo) {
    memo = {
      clusters: new Map(),
      routes: new Map(),
      defaultHosts: new Map(),
      vsRoutes: new Map(),
      views: new Map(),
      clusterLists: new Map(),
      entriesByService: [new Map(), new Map()],
      defaultsByService: new Map(),
      domainsByService: new Map(),
      uncontested: new WeakMap(),
    };
    memos.set(mesh, memo);
    const inheritance = pending.get(mesh);
    if (inheritance) {
      pending.delete(mesh);
      copyMemo(memo, inheritance);
    }
  }
  return memo;
}

function copyMemo(target: Memo, { from, staleHosts, endpointsOnly }: Inheritance): void {
  const source = memos.get(from);
  if (!source) return;
  for (const [key, entry] of source.clusters)
    if (!staleHosts.has(entry.service.hostname) && !target.clusters.has(key)) target.clusters.set(key, entry);
  for (const [key, vhost] of source.defaultHosts) {
    const hostname = key.split("|")[2] ?? "";
    if (!staleHosts.has(hostname) && !target.defaultHosts.has(key)) target.defaultHosts.set(key, vhost);
  }
  // Route configurations read services, VirtualServices and DestinationRules, never endpoints: a change of
  // endpoints alone keeps every one of them.
  if (endpointsOnly)
    for (const [key, config] of source.routes) if (!target.routes.has(key)) target.routes.set(key, config);
}

/**
 * Carries the clusters and endpoints built for `from` over to `to` (a newer version of the same mesh),
 * except those of `staleHosts`: what a change did not touch is not built again.
 */
export function inheritClusters(
  to: Mesh,
  from: Mesh,
  staleHosts: ReadonlySet<string> | "all",
  options: { endpointsOnly?: boolean } = {},
): void {
  if (staleHosts === "all" || memos.has(to)) return;
  const endpointsOnly = options.endpointsOnly ?? false;
  const earlier = memos.has(from) ? undefined : pending.get(from);
  if (earlier)
    pending.set(to, {
      from: earlier.from,
      staleHosts: new Set([...earlier.staleHosts, ...staleHosts]),
      endpointsOnly: earlier.endpointsOnly && endpointsOnly,
    });
  else if (memos.has(from)) pending.set(to, { from, staleHosts, endpointsOnly });
}

/** Memoizes `build()` under `key` on the mesh: the same view gets the same object. */
export function memoized<T>(mesh: Mesh, key: string, build: () => T): T {
  const views = memoOf(mesh).views;
  if (views.has(key)) return views.get(key) as T;
  const value = build();
  views.set(key, value);
  return value;
}

/** Whether any VirtualService routes by source labels (then a proxy's labels are part of its view). */
export function routesDependOnLabels(mesh: Mesh): boolean {
  const memo = memoOf(mesh);
  memo.sourceLabels ??= mesh.virtualServices.some((vs) =>
    [...(vs.spec.http ?? []), ...(vs.spec.tcp ?? []), ...(vs.spec.tls ?? [])].some((r) =>
      (r.match ?? []).some((m) => m.sourceLabels && Object.keys(m.sourceLabels).length > 0),
    ),
  );
  return memo.sourceLabels;
}

export const labelsKey = (labels: Readonly<Record<string, string>>) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");

/** Services a proxy in `namespace` sees under its Sidecar scope (exportTo and egress hosts), one per hostname. */
export function visibleServices(mesh: Mesh, namespace: string, scope: SidecarScope): MeshService[] {
  return memoized(mesh, `visible|${namespace}|${scope.key}`, () => {
    const seen = new Set<string>();
    const out: MeshService[] = [];
    for (const service of mesh.servicesVisibleTo(namespace)) {
      if (seen.has(service.hostname)) continue;
      if (!scope.egress.some((e) => egressAllows(e, service.namespace, service.hostname))) continue;
      seen.add(service.hostname);
      out.push(service);
    }
    return out;
  });
}

/** Clusters and EDS load assignments of every port of `services`, as seen from `namespace`. */
export function outboundClustersOf(
  mesh: Mesh,
  namespace: string,
  services: readonly MeshService[],
  options: { proxyless?: boolean } = {},
): OutboundClusters {
  const memo = memoOf(mesh);
  const proxyless = options.proxyless ?? false;
  const byService = memo.entriesByService[proxyless ? 1 : 0];
  const entries: ClusterEntry[] = [];
  let hash = 0;
  for (const service of services) {
    const rule = mesh.destinationRule(namespace, service);
    let byRule = byService.get(service);
    if (!byRule) {
      byRule = new Map();
      byService.set(service, byRule);
    }
    let ofService = byRule.get(rule);
    if (!ofService) {
      ofService = service.ports.map((port) => {
        const key = clusterEntryKey(service, port, rule, proxyless);
        let entry = memo.clusters.get(key); // built here, or inherited from the previous version
        if (!entry) {
          entry = clusterEntry(mesh, service, port, rule, proxyless);
          memo.clusters.set(key, entry);
        }
        return entry;
      });
      byRule.set(rule, ofService);
    }
    for (const entry of ofService) {
      entries.push(entry);
      hash = (Math.imul(hash, 31) + entry.id) | 0;
    }
  }
  // Another namespace that sees the same entries (no DestinationRule or Sidecar of its own changes them)
  // already has these lists: share them.
  const seen = memo.clusterLists.get(hash);
  for (const candidate of seen ?? [])
    if (candidate.entries.length === entries.length && candidate.entries.every((e, i) => e === entries[i]))
      return candidate.lists;
  const clusters: Cluster[] = [];
  const endpoints: ClusterLoadAssignment[] = [];
  for (const entry of entries) {
    clusters.push(...entry.clusters);
    endpoints.push(...entry.endpoints);
  }
  const lists: OutboundClusters = { clusters, endpoints };
  if (seen) seen.push({ entries, lists });
  else memo.clusterLists.set(hash, [{ entries, lists }]);
  return lists;
}

/** What a cluster entry is built from: `source|hostname|port|rule|proxyless` (inheritClusters reads the hostname). */
function clusterEntryKey(
  service: MeshService,
  port: ServicePort,
  rule: MergedDestinationRule | undefined,
  proxyless: boolean,
): string {
  return `${serviceKeyOf(service)}${port.port}|${rule ? ruleKeyOf(rule) : ""}|${proxyless ? "g" : ""}`;
}

// The parts of a cluster entry's key are made once per object: every view asks for them per service port.
const serviceKeys = new WeakMap<MeshService, string>();
const serviceKeyOf = (service: MeshService) => {
  let key = serviceKeys.get(service);
  if (key === undefined) {
    key = `${service.source}|${service.hostname}|`;
    serviceKeys.set(service, key);
  }
  return key;
};
const ruleKeys = new WeakMap<MergedDestinationRule, string>();
/** What identifies a merged DestinationRule across mesh versions: its namespace and the rules merged. */
export const ruleKeyOf = (rule: MergedDestinationRule) => {
  let key = ruleKeys.get(rule);
  if (key === undefined) {
    key = `${rule.namespace}:${rule.keys.join(",")}`;
    ruleKeys.set(rule, key);
  }
  return key;
};

let nextEntryId = 1;
function clusterEntry(
  mesh: Mesh,
  service: MeshService,
  port: ServicePort,
  rule: MergedDestinationRule | undefined,
  proxyless: boolean,
): ClusterEntry {
  const all = mesh.registry.endpointsOf(service, port.port);
  // Proxyless clients get no mesh mTLS (their TLS comes from the gRPC bootstrap's certificate providers).
  const mtls = proxyless ? undefined : { mesh, serviceAccounts: serviceAccountsOf(mesh, service) };
  const built = outboundClusters(service, port, rule, all, mtls);
  if (proxyless) for (const c of built) if (c.lbPolicy === 1 /* LEAST_REQUEST */) c.lbPolicy = 0; /* ROUND_ROBIN */
  const assignments: ClusterLoadAssignment[] = [];
  for (const cluster of built) {
    if (!cluster.edsClusterConfig) continue;
    const subsetName = (cluster.name ?? "").split("|")[2] ?? "";
    const subset = rule?.subsets.find((s) => s.name === subsetName);
    const selected = subset ? all.filter((e) => matchesSubset(subset, e)) : all;
    assignments.push(loadAssignmentOf(cluster.name ?? "", selected));
  }
  return { id: nextEntryId++, clusters: built, endpoints: assignments, service, port, rule, proxyless };
}

/**
 * The clusters and load assignments of `hosts` as a sidecar in `namespace` sees them in `mesh`, by name
 * (built once per mesh and key, like outboundClustersOf does); null when a host names several services.
 */
const patchEntries = new WeakMap<Mesh, Map<string, ClusterEntry>>();
export function sidecarEntriesOf(
  mesh: Mesh,
  namespace: string,
  hosts: ReadonlySet<string>,
): Map<string, Cluster | ClusterLoadAssignment> | null {
  // Kept apart from the memo, so that patching does not make the mesh inherit the memo of its predecessor.
  let entries = patchEntries.get(mesh);
  if (!entries) {
    entries = new Map();
    patchEntries.set(mesh, entries);
  }
  const byName = new Map<string, Cluster | ClusterLoadAssignment>();
  for (const hostname of hosts) {
    const services = mesh.registry.byHostname.get(hostname) ?? [];
    if (services.length > 1) return null;
    const service = services[0];
    if (!service) continue;
    const rule = mesh.destinationRule(namespace, service);
    for (const port of service.ports) {
      const key = clusterEntryKey(service, port, rule, false);
      let entry = entries.get(key);
      if (!entry) {
        entry = clusterEntry(mesh, service, port, rule, false);
        entries.set(key, entry);
      }
      // A cluster with inline endpoints (DNS) is not built without endpoints, so endpoints may add or
      // remove such clusters: the view's cluster names change, which swapping by name cannot do.
      if (entry.clusters.some((c) => c.loadAssignment)) return null;
      if (entry.clusters.length !== 1 + (rule?.subsets ?? []).filter((s) => s.name).length) return null;
      for (const cluster of entry.clusters) byName.set(`c:${cluster.name}`, cluster);
      for (const assignment of entry.endpoints) byName.set(`e:${assignment.clusterName}`, assignment);
    }
  }
  return byName;
}

/** The egress listener that decides port `port`: the one declaring the port, else the catch-all one. */
export function egressFor(scope: SidecarScope, port: number): SidecarEgress | undefined {
  return scope.egress.find((e) => e.port?.number === port) ?? scope.egress.find((e) => !e.port);
}

/** HTTP ports that get a route configuration: every HTTP-ish service port, plus declared HTTP egress ports. */
export function httpPorts(services: readonly MeshService[], scope: SidecarScope): number[] {
  const ports = new Set<number>();
  for (const service of services)
    for (const port of service.ports) {
      if (!isHttpProtocol(port.protocol)) continue;
      const egress = egressFor(scope, port.port);
      if (egress && egressAllows(egress, service.namespace, service.hostname)) ports.add(port.port);
    }
  for (const e of scope.egress)
    if (e.port && (e.port.protocol === "" || isHttpProtocol(e.port.protocol.toUpperCase() as never)))
      ports.add(e.port.number);
  return [...ports].sort((a, b) => a - b);
}

/**
 * The sidecar's route configuration for one port (RDS name = the port): a virtual host per service on the
 * port (VirtualService routes, or the default route), VirtualService hosts that are no service, sorted by
 * name, then the catch-all (`allow_any` or `block_all`).
 */
export function sidecarRouteConfig(
  mesh: Mesh,
  ctx: RouteContext,
  scope: SidecarScope,
  services: readonly MeshService[],
  port: number,
): RouteConfiguration {
  const labels = routesDependOnLabels(mesh) ? labelsKey(ctx.labels) : "";
  const key = `rds|${ctx.namespace}|${scope.key}|${port}|${labels}|${ctx.proxyless ? "g" : ""}`;
  const memo = memoOf(mesh);
  const cached = memo.routes.get(key);
  if (cached) return cached;
  const egress = egressFor(scope, port);
  const onPort = services.filter(
    (s) =>
      s.ports.some((p) => p.port === port) && egress !== undefined && egressAllows(egress, s.namespace, s.hostname),
  );
  const vsList = mesh
    .virtualServicesFor("mesh", ctx.namespace)
    .filter((vs) => egress !== undefined && vs.hosts.some((h) => egressAllows(egress, vs.namespace, h)));
  const destinationServices = new Map(onPort.map((s) => [s.hostname, s]));
  const virtualHosts = sidecarVirtualHosts(mesh, { ...ctx, destinationServices }, onPort, vsList, port);
  const config: RouteConfiguration = {
    name: String(port),
    virtualHosts: [...virtualHosts, catchAllVirtualHost(scope.outboundTrafficPolicy)],
    validateClusters: false,
    ignorePortInHostMatching: true,
  };
  memo.routes.set(key, config);
  return config;
}

/** Virtual hosts for services on a port: the oldest VirtualService of a host wins; others get the default route. */
export function sidecarVirtualHosts(
  mesh: Mesh,
  ctx: RouteContext,
  services: readonly MeshService[],
  virtualServices: readonly VirtualServiceEntry[],
  port: number,
): VirtualHost[] {
  const claimed = new Set<MeshService>();
  const hosts: VirtualHost[] = [];
  const names = new Set<string>();
  const usedDomains = new Set<string>();
  const serviceHosts = new Set(services.map((s) => s.hostname));
  const add = (name: string, domains: string[], routes: VirtualHost["routes"]) => {
    if (names.has(name)) return;
    names.add(name);
    const fresh = domains.filter((d) => !usedDomains.has(d));
    for (const d of fresh) usedDomains.add(d);
    if (fresh.length > 0) hosts.push({ name, domains: fresh, routes: routes ?? [] });
  };
  const byHostname = new Map(services.map((s) => [s.hostname, s]));
  const memo = memoOf(mesh);
  // A virtual host none of whose domains another service can have needs no de-duplication, unless a
  // VirtualService host that is no service took a domain first.
  let extras = 0;
  const unique = (domains: readonly string[]) => extras === 0 && !ctx.proxyless && uncontested(mesh, memo, domains);
  const domainsOf = (service: MeshService) => {
    const local = hostNamespaceOf(service) === ctx.namespace;
    const slot = defaultHostSlot(service, port, local, ctx.proxyless ?? false);
    let slots = memo.domainsByService.get(service);
    if (!slots) {
      slots = [];
      memo.domainsByService.set(service, slots);
    }
    let domains = slots[slot];
    if (!domains) {
      domains = serviceDomains(mesh, service, ctx.namespace, port, ctx.proxyless);
      slots[slot] = domains;
    }
    return domains;
  };
  for (const vs of virtualServices) {
    // Exact hosts are looked up; only wildcard hosts scan the services.
    const matched = vs.hosts.some((h) => h.includes("*"))
      ? services.filter((s) => !claimed.has(s) && vs.hosts.some((h) => hostMatches(h, s.hostname)))
      : vs.hosts.map((h) => byHostname.get(h)).filter((s): s is MeshService => s !== undefined && !claimed.has(s));
    const extraHosts = vs.hosts.filter((h) => !serviceHosts.has(h));
    // Off port 80, only VirtualServices that match a service on the port contribute (istiod does the same).
    if (matched.length === 0 && (port !== 80 || extraHosts.length === 0)) continue;
    // A VirtualService without HTTP routes here (only tcp/tls ones, or none for this port) leaves its
    // services their default virtual hosts, as in istiod.
    const routesKeyOfVs = routesKey(ctx, vs, port);
    let routes = memo.vsRoutes.get(routesKeyOfVs);
    if (!routes) {
      routes = virtualServiceRoutes(ctx, vs, port);
      memo.vsRoutes.set(routesKeyOfVs, routes);
    }
    if (routes.length === 0) continue;
    for (const s of matched) claimed.add(s);
    for (const h of extraHosts) {
      extras++;
      add(`${h}:${port}`, ctx.proxyless ? [h, `${h}:${port}`] : [h], routes);
    }
    for (const s of matched) {
      const domains = domainsOf(s);
      if (unique(domains)) hosts.push({ name: `${s.hostname}:${port}`, domains, routes });
      else add(`${s.hostname}:${port}`, [...domains], routes);
    }
  }
  const defaults = memo.defaultHosts;
  for (const s of services) {
    if (claimed.has(s)) continue;
    // The same object for every namespace that sees the service alike (only its own namespace uses its short
    // names), and across versions while the service is unchanged.
    const local = hostNamespaceOf(s) === ctx.namespace;
    const slot = defaultHostSlot(s, port, local, ctx.proxyless ?? false);
    let slots = memo.defaultsByService.get(s);
    if (!slots) {
      slots = [];
      memo.defaultsByService.set(s, slots);
    }
    let vhost = slots[slot];
    if (!vhost) {
      const key = `${local ? ctx.namespace : "*"}|${port}|${s.hostname}|${ctx.proxyless ? "g" : ""}`;
      vhost = defaults.get(key); // inherited from the previous version
      if (!vhost) {
        vhost = {
          name: `${s.hostname}:${port}`,
          domains: domainsOf(s),
          routes: [defaultRoute(`outbound|${port}||${s.hostname}`, ctx.proxyless)],
        };
        defaults.set(key, vhost);
      }
      slots[slot] = vhost;
    }
    if (unique(vhost.domains ?? [])) {
      hosts.push(vhost);
      continue;
    }
    const name = vhost.name ?? "";
    if (names.has(name)) continue;
    if ((vhost.domains ?? []).some((d) => usedDomains.has(d))) {
      add(name, [...(vhost.domains ?? [])], vhost.routes);
      continue;
    }
    names.add(name);
    for (const d of vhost.domains ?? []) usedDomains.add(d);
    hosts.push(vhost);
  }
  return hosts.sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : (a.name ?? "") > (b.name ?? "") ? 1 : 0));
}

/** The namespace a Kubernetes-style hostname names (`name.<namespace>.svc.…`), or "" for other hostnames. */
const hostNamespaces = new WeakMap<MeshService, string>();
function hostNamespaceOf(service: MeshService): string {
  let ns = hostNamespaces.get(service);
  if (ns === undefined) {
    const fqdn = service.hostname;
    const svcIndex = fqdn.indexOf(".svc.");
    const first = fqdn.indexOf(".");
    ns = svcIndex > 0 && first > 0 && first < svcIndex ? fqdn.slice(first + 1, svcIndex) : "";
    hostNamespaces.set(service, ns);
  }
  return ns;
}

/** Whether no domain of `domains` is one another service can also be reached by (memoized per mesh). */
function uncontested(mesh: Mesh, memo: Memo, domains: readonly string[]): boolean {
  let answer = memo.uncontested.get(domains);
  if (answer === undefined) {
    const contested = contestedDomains(mesh, memo);
    answer = !domains.some((d) => contested.has(d));
    memo.uncontested.set(domains, answer);
  }
  return answer;
}

function contestedDomains(mesh: Mesh, memo: Memo): ReadonlySet<string> {
  if (!memo.contested) {
    const seen = new Set<string>();
    const contested = new Set<string>();
    // The namespace the hostname names sees every domain any namespace does (its short names too).
    for (const service of mesh.registry.services)
      for (const d of new Set(serviceDomains(mesh, service, hostNamespaceOf(service), 0))) {
        if (seen.has(d)) contested.add(d);
        else seen.add(d);
      }
    memo.contested = contested;
  }
  return memo.contested;
}

/**
 * Where a default virtual host sits in memo.defaultsByService: per port of the service, whether the proxy is
 * in the namespace the hostname names (serviceDomains then adds the short names), and proxyless or not.
 */
function defaultHostSlot(service: MeshService, port: number, local: boolean, proxyless: boolean): number {
  let index = 0;
  while (index < service.ports.length && service.ports[index]?.port !== port) index++;
  return index * 4 + (local ? 2 : 0) + (proxyless ? 1 : 0);
}

/**
 * The Host headers that reach a service: its FQDN (and absolute form with a trailing dot), the shorter
 * Kubernetes forms a caller in `namespace` may use, and its VIPs. Proxyless clients match the port too.
 */
export function serviceDomains(
  mesh: Mesh,
  service: MeshService,
  namespace: string,
  port: number,
  withPort = false,
): string[] {
  const fqdn = service.hostname;
  const names = [fqdn];
  if (!fqdn.includes("*") && !/^[\d.]+$/.test(fqdn)) names.push(`${fqdn}.`);
  const suffix = `.svc.${mesh.options.domainSuffix}`;
  if (service.registry === "Kubernetes" || fqdn.endsWith(suffix)) {
    const svcIndex = fqdn.indexOf(".svc.");
    const first = fqdn.indexOf(".");
    if (svcIndex > 0 && first > 0 && first < svcIndex) {
      const short = fqdn.slice(0, first);
      const withNs = fqdn.slice(0, svcIndex);
      const ns = fqdn.slice(first + 1, svcIndex);
      if (ns === namespace) names.push(short, `${withNs}.svc`, withNs);
      else names.push(withNs, `${withNs}.svc`);
    }
  }
  const out: string[] = [];
  for (const n of names) {
    out.push(n);
    if (withPort) out.push(`${n}:${port}`);
  }
  for (const address of service.addresses) {
    out.push(address);
    if (withPort) out.push(`${address}:${port}`);
  }
  return out;
}
