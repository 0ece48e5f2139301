// The mesh of one configuration version: the registry plus every routing object indexed the way the
// generators ask for it — VirtualServices by gateway and host (short names resolved, exportTo applied),
// DestinationRules merged and looked up with Istio's namespace order, Sidecar scopes per workload.
// Immutable; lookups are memoized on it (Istio: pilot/pkg/model.PushContext and SidecarScope).
import { XdsKitError } from "@xdskit/core";
import {
  CaptureMode,
  type Gateway,
  OutboundTrafficPolicy_Mode,
  type Subset,
  type TrafficPolicy,
  type VirtualService,
} from "@xdskit/core/istio";
import type { LoadResult } from "../config/loader.js";
import { type AnyConfigObject, type ConfigKey, type ConfigObject, configKey } from "../config/model.js";
import { buildRegistry, compareStrings, selects } from "../registry/build.js";
import type { MeshService, Registry } from "../registry/model.js";
import { hostMatches, isVisible, mostSpecificMatch, resolveHost } from "./hosts.js";

/** Options of {@link buildMesh}; every field has a default. */
export interface MeshOptions {
  /** DNS suffix of Kubernetes services; default `cluster.local`. */
  readonly domainSuffix?: string;
  /** Istio's root namespace (mesh-wide Sidecar and DestinationRules); default `istio-system`. */
  readonly rootNamespace?: string;
  /** Mesh-wide outbound traffic policy when no Sidecar says otherwise; default `ALLOW_ANY`. */
  readonly outboundTrafficPolicy?: "ALLOW_ANY" | "REGISTRY_ONLY";
  /** Trust domain of workload identities (`spiffe://<trustDomain>/ns/<ns>/sa/<sa>`); default `cluster.local`. */
  readonly trustDomain?: string;
  /** istiod's enableAutoMtls: mTLS to endpoints that have a sidecar when no DestinationRule sets TLS; default true. */
  readonly enableAutoMtls?: boolean;
  /**
   * Where proxies fetch the mesh certificates (`default`, `ROOTCA`): `ads` (default) over the proxy's ADS
   * stream from the control plane, or `sds-grpc`, istiod's form: the local agent's `sds-grpc` cluster.
   */
  readonly sdsConfig?: "ads" | "sds-grpc";
}

export interface ResolvedMeshOptions {
  readonly domainSuffix: string;
  readonly rootNamespace: string;
  readonly outboundTrafficPolicy: "ALLOW_ANY" | "REGISTRY_ONLY";
  readonly trustDomain: string;
  readonly enableAutoMtls: boolean;
  readonly sdsConfig: "ads" | "sds-grpc";
}

/** A VirtualService with its names resolved. */
export interface VirtualServiceEntry {
  readonly key: ConfigKey;
  readonly object: ConfigObject<"VirtualService">;
  readonly namespace: string;
  readonly name: string;
  /** Fully qualified hosts (short names resolved against the VirtualService's namespace). */
  readonly hosts: readonly string[];
  /** `mesh` or `namespace/name` of each gateway it binds to (default: `mesh` only). */
  readonly gateways: readonly string[];
  readonly exportTo: readonly string[];
  readonly spec: VirtualService;
}

/** The DestinationRules for one host as one rule: subsets concatenated, the first traffic policy. */
export interface MergedDestinationRule {
  /** The host written in the rule (resolved), possibly a wildcard. */
  readonly host: string;
  readonly namespace: string;
  readonly keys: readonly ConfigKey[];
  readonly trafficPolicy?: TrafficPolicy;
  readonly subsets: readonly Subset[];
}

export interface SidecarEgress {
  readonly port?: { readonly number: number; readonly protocol: string; readonly name: string };
  readonly bind?: string;
  readonly captureMode: "DEFAULT" | "IPTABLES" | "NONE";
  /** `namespace/host` pairs: namespace `*`, `.` (already resolved to the Sidecar's), `~`; host may be a wildcard. */
  readonly hosts: ReadonlyArray<{ readonly namespace: string; readonly host: string }>;
}

export interface SidecarIngress {
  readonly port: { readonly number: number; readonly protocol: string; readonly name: string };
  readonly bind?: string;
  readonly captureMode: "DEFAULT" | "IPTABLES" | "NONE";
  /** `127.0.0.1:8080`, `0.0.0.0:8080` or `unix://...`; default 127.0.0.1:<port>. */
  readonly defaultEndpoint?: string;
}

/** What one proxy sees, from its Sidecar resource (or the default: everything). */
export interface SidecarScope {
  /** Config key of the Sidecar object, or `default`. */
  readonly key: string;
  readonly namespace: string;
  readonly egress: readonly SidecarEgress[];
  readonly ingress: readonly SidecarIngress[];
  readonly outboundTrafficPolicy: "ALLOW_ANY" | "REGISTRY_ONLY";
}

/** The mesh of one configuration version. */
export interface Mesh {
  readonly options: ResolvedMeshOptions;
  readonly objects: readonly AnyConfigObject[];
  readonly objectsByKey: ReadonlyMap<ConfigKey, AnyConfigObject>;
  readonly registry: Registry;
  /** Non-delegate VirtualServices, oldest first (Istio's order: creation time, then name, then namespace). */
  readonly virtualServices: readonly VirtualServiceEntry[];
  /** A delegate VirtualService (one without hosts), by namespace and name. */
  delegate(namespace: string, name: string): VirtualServiceEntry | undefined;
  readonly gateways: readonly ConfigObject<"Gateway">[];
  /** PeerAuthentications, oldest first (creation time, then name, then namespace). */
  readonly peerAuthentications: readonly ConfigObject<"PeerAuthentication">[];
  /** Services visible from `namespace` (exportTo), every port. */
  servicesVisibleTo(namespace: string): readonly MeshService[];
  /** VirtualServices bound to `gateway` (`mesh` or `ns/name`) and visible from `namespace`, oldest first. */
  virtualServicesFor(gateway: string, namespace: string): readonly VirtualServiceEntry[];
  /** The DestinationRule a proxy in `proxyNamespace` applies to `service` (Istio's lookup order). */
  destinationRule(proxyNamespace: string, service: MeshService): MergedDestinationRule | undefined;
  /** The Sidecar scope of a workload: a selecting Sidecar in its namespace, the namespace's, the root's, or the default. */
  sidecarScope(namespace: string, labels: Readonly<Record<string, string>>): SidecarScope;
  /** Gateways whose selector matches a gateway workload's labels. */
  gatewaysFor(labels: Readonly<Record<string, string>>): readonly ConfigObject<"Gateway">[];
}

/** Istio's order of routing objects: creation time, then namespace/name. */
export const olderFirst = (a: { metadata: ConfigObject["metadata"] }, b: { metadata: ConfigObject["metadata"] }) => {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  // Istio's tie-break (sortConfigByCreationTime): the name first, then the namespace.
  return compareStrings(a.metadata.name, b.metadata.name) || compareStrings(a.metadata.namespace, b.metadata.namespace);
};

const meshCache = new WeakMap<object, Mesh>();
/** A VirtualService's resolved entry, per object (objects are immutable), for the suffix it was resolved with. */
const vsEntries = new WeakMap<object, { domainSuffix: string; entry: VirtualServiceEntry }>();

/** A mesh from loaded config (`loadConfig`'s result or a list of objects). The same input gives the same Mesh. */
export function buildMesh(input: LoadResult | readonly AnyConfigObject[], options: MeshOptions = {}): Mesh {
  if (input === null || typeof input !== "object")
    throw new XdsKitError("INVALID_ARGUMENT", "buildMesh: expected loadConfig's result or an array of config objects");
  const objects = Array.isArray(input) ? (input as readonly AnyConfigObject[]) : (input as LoadResult).objects;
  if (!Array.isArray(objects))
    throw new XdsKitError("INVALID_ARGUMENT", "buildMesh: input.objects must be an array of config objects");
  const cacheable = Object.keys(options).length === 0;
  if (cacheable) {
    const cached = meshCache.get(objects);
    if (cached) return cached;
  }
  const mesh = createMesh(objects, options);
  if (cacheable) meshCache.set(objects, mesh);
  return mesh;
}

/** `mesh` or a Mesh is accepted wherever a mesh is; plain loaded config is indexed (and remembered). */
export function asMesh(input: Mesh | LoadResult | readonly AnyConfigObject[]): Mesh {
  if (input && typeof input === "object" && "registry" in input && "sidecarScope" in input) return input as Mesh;
  return buildMesh(input as LoadResult | readonly AnyConfigObject[]);
}

/** What a caller that keeps its own indexes (the translator) already has for {@link createMesh}. */
export interface PrebuiltIndexes {
  readonly registry: Registry;
  readonly objectsByKey: ReadonlyMap<ConfigKey, AnyConfigObject>;
  /** The routing objects by kind (VirtualService, DestinationRule, Gateway, Sidecar), in any order. */
  readonly byKind: ReadonlyMap<string, Iterable<AnyConfigObject>>;
  /**
   * byKind's lists are arrays already in {@link olderFirst} order and never changed: what is derived from
   * a list (resolved VirtualServices, merged DestinationRules) is reused by every mesh given the same list.
   */
  readonly sorted?: boolean;
}

const EMPTY: readonly AnyConfigObject[] = Object.freeze([]);

/** VirtualServices resolved (hosts, gateways), per list of VirtualService objects in mesh order. */
interface VirtualServiceIndex {
  readonly domainSuffix: string;
  readonly virtualServices: readonly VirtualServiceEntry[];
  readonly delegates: ReadonlyMap<string, VirtualServiceEntry>;
}
const vsIndexes = new WeakMap<readonly object[], VirtualServiceIndex>();

/** DestinationRules merged per namespace and host, per list of DestinationRule objects in mesh order. */
interface DestinationRuleIndex {
  readonly domainSuffix: string;
  readonly byNamespace: ReadonlyMap<string, ReadonlyMap<string, MergedDestinationRule & { exportTo: string[] }>>;
  readonly wildcardHosts: ReadonlyMap<string, string[]>;
}
const drIndexes = new WeakMap<readonly object[], DestinationRuleIndex>();
// A merged rule without its exportTo, made once per rule (not per proxy namespace and service, nor per mesh).
const publicRules = new WeakMap<object, MergedDestinationRule>();

const ROUTING_KINDS = ["VirtualService", "DestinationRule", "Gateway", "Sidecar", "PeerAuthentication"];
/** The kinds createMesh reads beside the registry's. */
export const isRoutingKind = (kind: string) => ROUTING_KINDS.includes(kind);

/** A mesh over objects, reusing a registry (and key index) built for exactly those objects when given. */
export function createMesh(
  objectList: readonly AnyConfigObject[] | (() => readonly AnyConfigObject[]),
  options: MeshOptions,
  prebuilt?: PrebuiltIndexes,
): Mesh {
  let list = typeof objectList === "function" ? undefined : objectList;
  const allObjects = () => {
    list ??= (objectList as () => readonly AnyConfigObject[])();
    return list;
  };
  const resolved: ResolvedMeshOptions = {
    domainSuffix: options.domainSuffix ?? "cluster.local",
    rootNamespace: options.rootNamespace ?? "istio-system",
    outboundTrafficPolicy: options.outboundTrafficPolicy ?? "ALLOW_ANY",
    trustDomain: options.trustDomain ?? "cluster.local",
    enableAutoMtls: options.enableAutoMtls ?? true,
    sdsConfig: options.sdsConfig ?? "ads",
  };
  if (resolved.sdsConfig !== "ads" && resolved.sdsConfig !== "sds-grpc")
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `buildMesh: options.sdsConfig must be "ads" or "sds-grpc", got ${JSON.stringify(resolved.sdsConfig)}`,
    );
  const { domainSuffix, rootNamespace } = resolved;
  const registry = prebuilt?.registry ?? buildRegistry(allObjects(), { domainSuffix });
  const objectsByKey = prebuilt?.objectsByKey ?? new Map(allObjects().map((o) => [configKey(o), o]));
  const ofKind = <K extends AnyConfigObject["kind"]>(kind: K): readonly ConfigObject<K>[] => {
    if (prebuilt?.sorted) return (prebuilt.byKind.get(kind) ?? EMPTY) as unknown as readonly ConfigObject<K>[];
    return (
      prebuilt
        ? ([...(prebuilt.byKind.get(kind) ?? [])] as unknown as ConfigObject<K>[])
        : (allObjects().filter((o) => o.kind === kind) as unknown as ConfigObject<K>[])
    ).sort(olderFirst);
  };

  const vsObjects = ofKind("VirtualService");
  let vsIndex = vsIndexes.get(vsObjects);
  if (vsIndex?.domainSuffix !== domainSuffix) {
    vsIndex = indexVirtualServices(vsObjects, domainSuffix);
    vsIndexes.set(vsObjects, vsIndex);
  }
  const { virtualServices, delegates } = vsIndex;

  const gateways = ofKind("Gateway");
  const destinationRules = ofKind("DestinationRule");
  const sidecars = ofKind("Sidecar");
  const peerAuthentications = ofKind("PeerAuthentication");

  const visibleServices = new Map<string, MeshService[]>();
  const vsFor = new Map<string, VirtualServiceEntry[]>();
  // Per service object, then proxy namespace: no key strings on the path every view takes per service.
  const drCache = new WeakMap<MeshService, Map<string, MergedDestinationRule | undefined>>();
  const scopeCache = new Map<string, SidecarScope>();

  let drIndex = drIndexes.get(destinationRules);
  if (drIndex?.domainSuffix !== domainSuffix) {
    drIndex = indexDestinationRules(destinationRules, domainSuffix);
    drIndexes.set(destinationRules, drIndex);
  }
  const { byNamespace: drByNamespace, wildcardHosts } = drIndex;
  const lookupIn = (namespace: string, hostname: string, viewer: string, requireExport: boolean) => {
    const byHost = drByNamespace.get(namespace);
    if (!byHost) return undefined;
    const match = byHost.has(hostname) ? hostname : mostSpecificMatch(hostname, wildcardHosts.get(namespace) ?? []);
    if (match === undefined) return undefined;
    const rule = byHost.get(match);
    if (!rule) return undefined;
    if (requireExport ? !isVisible(rule.exportTo, namespace, viewer) : rule.exportTo.includes("~")) return undefined;
    return rule;
  };

  return {
    options: resolved,
    get objects() {
      return allObjects();
    },
    objectsByKey,
    registry,
    virtualServices,
    delegate: (namespace, name) => delegates.get(`${namespace}/${name}`),
    gateways,
    peerAuthentications,
    servicesVisibleTo(namespace) {
      let list = visibleServices.get(namespace);
      if (!list) {
        list = registry.services.filter((s) => isVisible(s.exportTo, s.namespace, namespace));
        visibleServices.set(namespace, list);
      }
      return list;
    },
    virtualServicesFor(gateway, namespace) {
      const key = `${gateway}|${namespace}`;
      let list = vsFor.get(key);
      if (!list) {
        list = virtualServices.filter(
          (vs) => vs.gateways.includes(gateway) && isVisible(vs.exportTo, vs.namespace, namespace),
        );
        vsFor.set(key, list);
      }
      return list;
    },
    destinationRule(proxyNamespace, service) {
      let byNamespace = drCache.get(service);
      if (!byNamespace) {
        byNamespace = new Map();
        drCache.set(service, byNamespace);
      } else if (byNamespace.has(proxyNamespace)) return byNamespace.get(proxyNamespace);
      const rule =
        (proxyNamespace !== rootNamespace
          ? lookupIn(proxyNamespace, service.hostname, proxyNamespace, false)
          : undefined) ??
        (service.namespace !== proxyNamespace
          ? lookupIn(service.namespace, service.hostname, proxyNamespace, true)
          : undefined) ??
        lookupIn(rootNamespace, service.hostname, proxyNamespace, true);
      let merged = rule ? publicRules.get(rule) : undefined;
      if (rule && !merged) {
        const { exportTo: _exportTo, ...withoutExport } = rule;
        merged = withoutExport;
        publicRules.set(rule, merged);
      }
      byNamespace.set(proxyNamespace, merged);
      return merged;
    },
    sidecarScope(namespace, labels) {
      const candidates = sidecars.filter((s) => s.metadata.namespace === namespace);
      const chosen =
        candidates.find((s) => s.spec.workloadSelector && selects(s.spec.workloadSelector.labels ?? {}, labels)) ??
        candidates.find((s) => !s.spec.workloadSelector) ??
        sidecars.find((s) => s.metadata.namespace === rootNamespace && !s.spec.workloadSelector);
      const key = chosen ? `${configKey(chosen)}|${namespace}` : `default|${namespace}`;
      let scope = scopeCache.get(key);
      if (!scope) {
        scope = chosen ? scopeOf(chosen, namespace, resolved) : defaultScope(namespace, resolved);
        scopeCache.set(key, scope);
      }
      return scope;
    },
    gatewaysFor(labels) {
      return gateways.filter((g) => {
        const selector = (g.spec as Gateway).selector;
        return selector !== undefined && Object.keys(selector).length > 0 && selects(selector, labels);
      });
    },
  };
}

/** Each VirtualService resolved (once per object and suffix); delegates (no hosts) apart, by namespace/name. */
function indexVirtualServices(
  objects: readonly ConfigObject<"VirtualService">[],
  domainSuffix: string,
): VirtualServiceIndex {
  const allVs: VirtualServiceEntry[] = objects.map((object) => {
    const cached = vsEntries.get(object);
    if (cached?.domainSuffix === domainSuffix) return cached.entry;
    const { namespace, name } = object.metadata;
    const spec = object.spec;
    const gateways = (spec.gateways ?? []).map((g) => resolveGateway(g, namespace));
    const entry: VirtualServiceEntry = {
      key: configKey(object),
      object,
      namespace,
      name,
      hosts: (spec.hosts ?? []).map((h) => resolveHost(h, namespace, domainSuffix)),
      gateways: gateways.length > 0 ? gateways : ["mesh"],
      exportTo: spec.exportTo ?? [],
      spec,
    };
    vsEntries.set(object, { domainSuffix, entry });
    return entry;
  });
  const virtualServices = allVs.filter((vs) => vs.hosts.length > 0);
  const delegates = new Map(
    allVs.filter((vs) => vs.hosts.length === 0).map((vs) => [`${vs.namespace}/${vs.name}`, vs]),
  );
  return { domainSuffix, virtualServices, delegates };
}

/** DestinationRules merged per namespace and resolved host (oldest first), and each namespace's wildcard hosts. */
function indexDestinationRules(
  destinationRules: readonly ConfigObject<"DestinationRule">[],
  domainSuffix: string,
): DestinationRuleIndex {
  // DestinationRules per namespace and resolved host, merged (oldest first).
  const drByNamespace = new Map<string, Map<string, MergedDestinationRule & { exportTo: string[] }>>();
  for (const dr of destinationRules) {
    const namespace = dr.metadata.namespace;
    const host = resolveHost(dr.spec.host ?? "", namespace, domainSuffix);
    let byHost = drByNamespace.get(namespace);
    if (!byHost) {
      byHost = new Map();
      drByNamespace.set(namespace, byHost);
    }
    const existing = byHost.get(host);
    const exportTo = dr.spec.exportTo && dr.spec.exportTo.length > 0 ? dr.spec.exportTo : ["*"];
    if (!existing) {
      byHost.set(host, {
        host,
        namespace,
        keys: [configKey(dr)],
        ...(dr.spec.trafficPolicy ? { trafficPolicy: dr.spec.trafficPolicy } : {}),
        subsets: dr.spec.subsets ?? [],
        exportTo,
      });
    } else {
      const names = new Set(existing.subsets.map((s) => s.name));
      byHost.set(host, {
        ...existing,
        keys: [...existing.keys, configKey(dr)],
        trafficPolicy: existing.trafficPolicy ?? dr.spec.trafficPolicy,
        subsets: [...existing.subsets, ...(dr.spec.subsets ?? []).filter((s) => !names.has(s.name))],
        exportTo: [...new Set([...existing.exportTo, ...exportTo])],
      });
    }
  }
  // Wildcard hosts per namespace: an exact host is a map lookup, only wildcards are scanned.
  const wildcardHosts = new Map<string, string[]>();
  for (const [namespace, byHost] of drByNamespace)
    wildcardHosts.set(
      namespace,
      [...byHost.keys()].filter((h) => h.startsWith("*")),
    );
  return { domainSuffix, byNamespace: drByNamespace, wildcardHosts };
}

/** `my-gateway` in namespace `default` is `default/my-gateway`; `mesh` stays. */
export function resolveGateway(name: string, namespace: string): string {
  if (name === "mesh") return name;
  const slash = name.indexOf("/");
  if (slash >= 0) return name;
  // `name.namespace.svc.cluster.local` names a gateway in another namespace (the older form).
  const dot = name.indexOf(".");
  if (dot > 0) return `${name.slice(dot + 1).split(".")[0]}/${name.slice(0, dot)}`;
  return `${namespace}/${name}`;
}

function captureModeOf(mode: CaptureMode | undefined): "DEFAULT" | "IPTABLES" | "NONE" {
  return mode === CaptureMode.NONE ? "NONE" : mode === CaptureMode.IPTABLES ? "IPTABLES" : "DEFAULT";
}

function parseEgressHosts(hosts: readonly string[], sidecarNamespace: string) {
  return hosts.map((h) => {
    const slash = h.indexOf("/");
    const namespace = slash < 0 ? "*" : h.slice(0, slash);
    const host = slash < 0 ? h : h.slice(slash + 1);
    return { namespace: namespace === "." ? sidecarNamespace : namespace, host: host.toLowerCase() };
  });
}

function defaultScope(namespace: string, options: ResolvedMeshOptions): SidecarScope {
  return {
    key: "default",
    namespace,
    egress: [{ captureMode: "DEFAULT", hosts: [{ namespace: "*", host: "*" }] }],
    ingress: [],
    outboundTrafficPolicy: options.outboundTrafficPolicy,
  };
}

function scopeOf(sidecar: ConfigObject<"Sidecar">, namespace: string, options: ResolvedMeshOptions): SidecarScope {
  const spec = sidecar.spec;
  const port = (p: { number?: number; protocol?: string; name?: string } | undefined) =>
    p?.number ? { number: p.number, protocol: p.protocol ?? "", name: p.name ?? "" } : undefined;
  const egress: SidecarEgress[] = (spec.egress ?? []).map((e) => {
    const p = port(e.port);
    return {
      ...(p ? { port: p } : {}),
      ...(e.bind ? { bind: e.bind } : {}),
      captureMode: captureModeOf(e.captureMode),
      hosts: parseEgressHosts(e.hosts ?? [], sidecar.metadata.namespace),
    };
  });
  const ingress: SidecarIngress[] = [];
  for (const i of spec.ingress ?? []) {
    const p = port(i.port);
    if (!p) continue;
    ingress.push({
      port: p,
      ...(i.bind ? { bind: i.bind } : {}),
      captureMode: captureModeOf(i.captureMode),
      ...(i.defaultEndpoint ? { defaultEndpoint: i.defaultEndpoint } : {}),
    });
  }
  const mode = spec.outboundTrafficPolicy?.mode;
  return {
    key: configKey(sidecar),
    namespace,
    egress: egress.length > 0 ? egress : defaultScope(namespace, options).egress,
    ingress,
    outboundTrafficPolicy:
      mode === undefined || spec.outboundTrafficPolicy === undefined
        ? options.outboundTrafficPolicy
        : mode === OutboundTrafficPolicy_Mode.REGISTRY_ONLY
          ? "REGISTRY_ONLY"
          : "ALLOW_ANY",
  };
}

/** Whether an egress listener's hosts let a proxy see `host` declared in `namespace`. */
export function egressAllows(egress: SidecarEgress, namespace: string, host: string): boolean {
  return egress.hosts.some(
    (h) => h.namespace !== "~" && (h.namespace === "*" || h.namespace === namespace) && hostMatches(h.host, host),
  );
}
