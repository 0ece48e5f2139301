// Builds the registry of one configuration version from Kubernetes Services (endpoints from
// EndpointSlices, Endpoints, or the Pods and WorkloadEntries their selector picks) and from ServiceEntries
// (inline endpoints, selected WorkloadEntries/Pods, or DNS hosts).
import { ServiceEntry_Location, ServiceEntry_Resolution } from "@xdskit/core/istio";
import { type AnyConfigObject, type ConfigKey, type ConfigObject, configKey } from "../config/model.js";
import { LayeredMap } from "../index/layered-map.js";
import type { MeshService, Registry, Resolution, ServiceEndpoint, ServicePort, Workload } from "./model.js";
import { parseProtocol, protocolOfKubernetesPort } from "./protocol.js";

/** Code-unit order: deterministic and much cheaper than localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface RegistryOptions {
  /** The cluster's DNS suffix; default `cluster.local`. */
  readonly domainSuffix?: string;
}

/** True when every label of `selector` is on `labels`. An empty selector selects everything. */
export function selects(
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>>,
) {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return false;
  return true;
}

const byName = <T extends { metadata: { namespace: string; name: string } }>(a: T, b: T) =>
  compareStrings(a.metadata.namespace, b.metadata.namespace) || compareStrings(a.metadata.name, b.metadata.name);

interface Built {
  service: MeshService;
  endpoints: Map<number, ServiceEndpoint[]>;
  inputs: ConfigKey[];
}

export function buildRegistry(objects: readonly AnyConfigObject[], options: RegistryOptions = {}): Registry {
  return createRegistryState(objects, options).registry;
}

/** One changed object: its version before (absent when added) and after (absent when deleted). */
export interface RegistryChange {
  readonly old?: AnyConfigObject;
  readonly next?: AnyConfigObject;
}

/**
 * A registry kept up to date change by change: each service is built again only when one of the objects
 * it reads changed (its Service or ServiceEntry, its slices or Endpoints, a Pod or WorkloadEntry its
 * selector picks), so a change costs what it touches plus copying the snapshot's indexes. Every
 * `registry` it hands out is an immutable snapshot equal to buildRegistry of the same objects.
 */
export interface RegistryState {
  readonly registry: Registry;
  /** Applies changes (objects already replaced by the caller) and returns the new snapshot. */
  update(changes: readonly RegistryChange[]): Registry;
  /** What the last update built again, so that a caller need not compare whole snapshots. */
  readonly lastUpdate: RegistryUpdate;
}

const sourceObjects = new WeakMap<MeshService, AnyConfigObject>(); // the object each service was built from

/** The services of one source (Service or ServiceEntry key) before and after an update. */
export interface RebuiltSource {
  readonly before: readonly MeshService[];
  readonly after: readonly MeshService[];
}

export interface RegistryUpdate {
  /**
   * Every source whose services were built again, with its services before and after: a superset of
   * the sources whose services read a changed object (their `inputsOf` holds its key).
   */
  readonly rebuilt: ReadonlyMap<ConfigKey, RebuiltSource>;
  /** The same services in the same order (each rebuilt source kept its hostnames). */
  readonly sameOrder: boolean;
}

/** Kinds the registry reads; changes of any other kind keep the registry as it is. */
const REGISTRY_KINDS = new Set([
  "Service",
  "ServiceEntry",
  "Pod",
  "Deployment",
  "WorkloadEntry",
  "Endpoints",
  "EndpointSlice",
]);

/** Keyed objects of one kind, with their name order computed once per change of the set. */
class Group<T extends { metadata: { namespace: string; name: string } }> {
  readonly byKey = new Map<ConfigKey, T>();
  private sorted: T[] | undefined;
  set(key: ConfigKey, object: T | undefined): void {
    const old = this.byKey.get(key);
    if (object) this.byKey.set(key, object);
    else this.byKey.delete(key);
    // A list already handed out stays as it is; the next one is a copy with this object moved, not a sort.
    if (!this.sorted) return;
    const next = [...this.sorted];
    const at = old ? next.indexOf(old) : -1;
    if (at >= 0) next.splice(at, 1);
    if (object) {
      let low = 0;
      let high = next.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (byName(next[middle] as T, object) <= 0) low = middle + 1;
        else high = middle;
      }
      next.splice(low, 0, object);
    }
    this.sorted = next;
  }
  list(): readonly T[] {
    this.sorted ??= [...this.byKey.values()].sort(byName);
    return this.sorted;
  }
}

/** Groups by a key derived from each object (namespace, or namespace/service for slices). */
class Grouped<T extends { metadata: { namespace: string; name: string } }> {
  private readonly groups = new Map<string, Group<T>>();
  set(group: string, key: ConfigKey, object: T | undefined): void {
    let g = this.groups.get(group);
    if (!g) {
      if (!object) return;
      g = new Group<T>();
      this.groups.set(group, g);
    }
    g.set(key, object);
    if (g.byKey.size === 0) this.groups.delete(group);
  }
  list(group: string): readonly T[] {
    return this.groups.get(group)?.list() ?? [];
  }
}

const workloadCache = new WeakMap<object, Workload>();
function workloadOf(object: AnyConfigObject): Workload {
  let workload = workloadCache.get(object);
  if (workload) return workload;
  if (object.kind === "Pod") {
    const p = object as ConfigObject<"Pod">;
    workload = {
      key: configKey(p),
      kind: "Pod",
      name: p.metadata.name,
      namespace: p.metadata.namespace,
      labels: p.metadata.labels,
      serviceAccount: p.spec.serviceAccountName ?? "default",
      addresses: p.spec.podIP ? [p.spec.podIP] : [],
      ports: containerPorts(p.spec.containers),
    };
  } else if (object.kind === "Deployment") {
    const d = object as ConfigObject<"Deployment">;
    workload = {
      key: configKey(d),
      kind: "Deployment",
      name: d.metadata.name,
      namespace: d.metadata.namespace,
      labels: d.spec.template?.metadata?.labels ?? {},
      serviceAccount: d.spec.template?.spec?.serviceAccountName ?? "default",
      addresses: [],
      ports: containerPorts(d.spec.template?.spec?.containers),
    };
  } else {
    const w = object as ConfigObject<"WorkloadEntry">;
    workload = {
      key: configKey(w),
      kind: "WorkloadEntry",
      name: w.metadata.name,
      namespace: w.metadata.namespace,
      labels: { ...w.metadata.labels, ...(w.spec.labels ?? {}) },
      serviceAccount: w.spec.serviceAccount || "default",
      addresses: w.spec.address ? [w.spec.address] : [],
      ports: Object.entries(w.spec.ports ?? {}).map(([name, port]) => ({ name, port })),
    };
  }
  workloadCache.set(object, workload);
  return workload;
}

const sliceService = (slice: ConfigObject<"EndpointSlice">) =>
  `${slice.metadata.namespace}/${slice.metadata.labels["kubernetes.io/service-name"] ?? ""}`;

export function createRegistryState(initial: readonly AnyConfigObject[], options: RegistryOptions = {}): RegistryState {
  const domainSuffix = options.domainSuffix ?? "cluster.local";
  const pods = new Group<ConfigObject<"Pod">>();
  const deployments = new Group<ConfigObject<"Deployment">>();
  const workloadEntries = new Group<ConfigObject<"WorkloadEntry">>();
  const podsIn = new Grouped<ConfigObject<"Pod">>();
  const entriesIn = new Grouped<ConfigObject<"WorkloadEntry">>();
  const slicesOf = new Grouped<ConfigObject<"EndpointSlice">>(); // by namespace/service-name
  const endpointsObjects = new Map<string, ConfigObject<"Endpoints">>(); // by namespace/name
  const podsByKey = new Map<string, ConfigObject<"Pod">>(); // by namespace/name
  const sources = new Map<ConfigKey, ConfigObject<"Service"> | ConfigObject<"ServiceEntry">>();
  const builtBySource = new Map<ConfigKey, Built[]>();
  /** Pods a service's endpoints name (slices and Endpoints target them): their labels are read. */
  const podReaders = new Map<string, Set<ConfigKey>>();

  const place = (
    key: ConfigKey,
    object: AnyConfigObject | undefined,
    kind: string,
    namespace: string,
    name: string,
  ) => {
    switch (kind) {
      case "Pod":
        pods.set(key, object as ConfigObject<"Pod"> | undefined);
        podsIn.set(namespace, key, object as ConfigObject<"Pod"> | undefined);
        if (object) podsByKey.set(`${namespace}/${name}`, object as ConfigObject<"Pod">);
        else podsByKey.delete(`${namespace}/${name}`);
        break;
      case "Deployment":
        deployments.set(key, object as ConfigObject<"Deployment"> | undefined);
        break;
      case "WorkloadEntry":
        workloadEntries.set(key, object as ConfigObject<"WorkloadEntry"> | undefined);
        entriesIn.set(namespace, key, object as ConfigObject<"WorkloadEntry"> | undefined);
        break;
      case "EndpointSlice":
        break; // placed by the caller (its group comes from a label that may change)
      case "Endpoints":
        if (object) endpointsObjects.set(`${namespace}/${name}`, object as ConfigObject<"Endpoints">);
        else endpointsObjects.delete(`${namespace}/${name}`);
        break;
      case "Service":
      case "ServiceEntry":
        if (object) sources.set(key, object as ConfigObject<"Service">);
        else sources.delete(key);
        break;
    }
  };

  // WorkloadEntries (and Pods) a selector picks in a namespace, as endpoints of one service port.
  const selectedEndpoints = (
    namespace: string,
    selector: Readonly<Record<string, string>>,
    port: ServicePort,
    inputs: ConfigKey[],
    includePods: boolean,
  ): ServiceEndpoint[] => {
    const out: ServiceEndpoint[] = [];
    if (includePods)
      for (const pod of podsIn.list(namespace)) {
        if (!pod.spec.podIP || !selects(selector, pod.metadata.labels)) continue;
        const target = resolveTargetPort(port, containerPorts(pod.spec.containers));
        if (target === undefined) continue;
        inputs.push(configKey(pod));
        out.push({
          address: pod.spec.podIP,
          port: target,
          servicePort: port.port,
          labels: pod.metadata.labels,
          serviceAccount: pod.spec.serviceAccountName ?? "default",
          locality: "",
          weight: 1,
          workload: configKey(pod),
        });
      }
    for (const entry of entriesIn.list(namespace)) {
      const labels = { ...entry.metadata.labels, ...(entry.spec.labels ?? {}) };
      if (!entry.spec.address || !selects(selector, labels)) continue;
      inputs.push(configKey(entry));
      out.push({
        address: entry.spec.address,
        port: entry.spec.ports?.[port.name] ?? (typeof port.targetPort === "number" ? port.targetPort : port.port),
        servicePort: port.port,
        labels,
        // As istiod: a WorkloadEntry without a service account gives its endpoint none (no SAN to verify).
        serviceAccount: entry.spec.serviceAccount ?? "",
        locality: entry.spec.locality ?? "",
        weight: entry.spec.weight || 1,
        workload: configKey(entry),
      });
    }
    return out;
  };

  const buildService = (svc: ConfigObject<"Service">): Built => {
    const { name, namespace } = svc.metadata;
    const spec = svc.spec;
    const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
      name: p.name ?? "",
      port: p.port,
      protocol: protocolOfKubernetesPort(p.name, p.appProtocol),
      ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    }));
    const headless = spec.clusterIP === "None";
    const externalName = spec.type === "ExternalName" ? spec.externalName : undefined;
    const resolution: Resolution = externalName ? "DNS" : headless ? "Passthrough" : "ClientSideLB";
    const addresses = headless
      ? []
      : (spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])).filter((a) => a && a !== "None");
    const inputs: ConfigKey[] = [configKey(svc)];
    const endpoints = new Map<number, ServiceEndpoint[]>();
    const mySlices = slicesOf.list(`${namespace}/${name}`);
    const endpointsObject = endpointsObjects.get(`${namespace}/${name}`);
    const readPods = new Set<string>();
    const podOf = (ref: { kind?: string; name?: string; namespace?: string } | undefined) => {
      if (!ref || (ref.kind && ref.kind !== "Pod") || !ref.name) return undefined;
      const podKey = `${ref.namespace ?? namespace}/${ref.name}`;
      readPods.add(podKey);
      return podsByKey.get(podKey);
    };
    for (const port of ports) {
      let list: ServiceEndpoint[] = [];
      if (externalName) {
        list.push(dnsEndpoint(externalName, port));
      } else if (mySlices.length > 0) {
        for (const slice of mySlices) {
          inputs.push(configKey(slice));
          const slicePort = (slice.spec.ports ?? []).find((p) => (p.name ?? "") === port.name);
          if (slicePort?.port === undefined) continue;
          for (const ep of slice.spec.endpoints ?? []) {
            if (ep.conditions?.ready === false) continue;
            const pod = podOf(ep.targetRef);
            for (const address of ep.addresses)
              list.push(kubeEndpoint(address, slicePort.port, port.port, pod, ep.zone));
          }
        }
      } else if (endpointsObject) {
        inputs.push(configKey(endpointsObject));
        for (const subset of endpointsObject.spec.subsets ?? []) {
          const subsetPort = (subset.ports ?? []).find((p) => (p.name ?? "") === port.name);
          if (!subsetPort) continue;
          for (const address of subset.addresses ?? [])
            list.push(kubeEndpoint(address.ip, subsetPort.port, port.port, podOf(address.targetRef)));
        }
      } else if (spec.selector && Object.keys(spec.selector).length > 0) {
        list = selectedEndpoints(namespace, spec.selector, port, inputs, true);
      }
      // WorkloadEntries a Service selects join its endpoints (Istio's VM support), whatever the source above.
      if (!externalName && mySlices.length + (endpointsObject ? 1 : 0) > 0 && spec.selector)
        list.push(...selectedEndpoints(namespace, spec.selector, port, inputs, false));
      endpoints.set(port.port, sortEndpoints(list));
    }
    const key = configKey(svc);
    for (const podKey of readPods) {
      let readers = podReaders.get(podKey);
      if (!readers) {
        readers = new Set();
        podReaders.set(podKey, readers);
      }
      readers.add(key);
    }
    return {
      service: {
        hostname: `${name}.${namespace}.svc.${domainSuffix}`,
        namespace,
        name,
        addresses,
        ports,
        resolution,
        meshExternal: false,
        exportTo: exportToOf(svc.metadata.annotations["networking.istio.io/exportTo"]),
        registry: "Kubernetes",
        source: key,
      },
      endpoints,
      inputs: [...new Set(inputs)],
    };
  };

  const buildServiceEntry = (entry: ConfigObject<"ServiceEntry">): Built[] => {
    const out: Built[] = [];
    const spec = entry.spec;
    const namespace = entry.metadata.namespace;
    const ports: ServicePort[] = (spec.ports ?? []).map((p) => ({
      name: p.name ?? "",
      port: p.number ?? 0,
      protocol: parseProtocol(p.protocol),
      ...(p.targetPort ? { targetPort: p.targetPort } : {}),
    }));
    const resolution = resolutionOf(spec.resolution);
    for (const host of spec.hosts ?? []) {
      const inputs: ConfigKey[] = [configKey(entry)];
      const endpoints = new Map<number, ServiceEndpoint[]>();
      for (const port of ports) {
        let list: ServiceEndpoint[];
        if (spec.workloadSelector) {
          list = selectedEndpoints(namespace, spec.workloadSelector.labels ?? {}, port, inputs, true);
        } else if ((spec.endpoints ?? []).length > 0) {
          list = (spec.endpoints ?? []).map((we) => ({
            address: we.address ?? "",
            port: we.ports?.[port.name] ?? (typeof port.targetPort === "number" ? port.targetPort : port.port),
            servicePort: port.port,
            labels: we.labels ?? {},
            serviceAccount: we.serviceAccount ?? "",
            locality: we.locality ?? "",
            weight: we.weight || 1,
          }));
        } else if (resolution === "DNS" || resolution === "DNSRoundRobin") {
          list = [dnsEndpoint(host, port)];
        } else {
          list = [];
        }
        endpoints.set(port.port, sortEndpoints(list));
      }
      out.push({
        service: {
          hostname: host,
          namespace,
          name: host,
          addresses: spec.addresses ?? [],
          ports,
          resolution,
          meshExternal: (spec.location ?? ServiceEntry_Location.MESH_EXTERNAL) === ServiceEntry_Location.MESH_EXTERNAL,
          exportTo: spec.exportTo && spec.exportTo.length > 0 ? spec.exportTo : ["*"],
          registry: "ServiceEntry",
          source: configKey(entry),
        },
        endpoints,
        inputs: [...new Set(inputs)],
      });
    }
    return out;
  };

  const build = (key: ConfigKey) => {
    const source = sources.get(key);
    if (!source) builtBySource.delete(key);
    else {
      const built =
        source.kind === "Service"
          ? [buildService(source as ConfigObject<"Service">)]
          : buildServiceEntry(source as ConfigObject<"ServiceEntry">);
      for (const b of built) sourceObjects.set(b.service, source);
      builtBySource.set(key, built);
    }
  };

  // Services (by source) that select workloads in a namespace, for finding who reads a Pod or WorkloadEntry.
  const selectorsIn = new Map<string, Set<ConfigKey>>();
  const trackSelector = (key: ConfigKey, source: AnyConfigObject | undefined, add: boolean) => {
    if (!source) return;
    const namespace = source.metadata.namespace;
    let set = selectorsIn.get(namespace);
    if (!set) {
      set = new Set();
      selectorsIn.set(namespace, set);
    }
    if (add) set.add(key);
    else set.delete(key);
  };
  const selectorOf = (source: AnyConfigObject): Readonly<Record<string, string>> | undefined => {
    // Even an empty Service selector picks WorkloadEntries next to slices or Endpoints.
    if (source.kind === "Service") return (source as ConfigObject<"Service">).spec.selector;
    if (source.kind === "ServiceEntry") {
      const ws = (source as ConfigObject<"ServiceEntry">).spec.workloadSelector;
      return ws ? (ws.labels ?? {}) : undefined;
    }
    return undefined;
  };
  const workloadLabels = (object: AnyConfigObject) =>
    object.kind === "WorkloadEntry" ? workloadOf(object).labels : object.metadata.labels;

  /** Sources whose services read `object` (one version of a changed object). */
  const readersOf = (object: AnyConfigObject, into: Set<ConfigKey>) => {
    const { namespace, name } = object.metadata;
    switch (object.kind) {
      case "Service":
      case "ServiceEntry":
        into.add(configKey(object));
        break;
      case "Pod":
      case "WorkloadEntry": {
        const labels = workloadLabels(object);
        for (const key of selectorsIn.get(namespace) ?? []) {
          const source = sources.get(key);
          const selector = source && selectorOf(source);
          if (selector && selects(selector, labels)) into.add(key);
        }
        if (object.kind === "Pod") for (const key of podReaders.get(`${namespace}/${name}`) ?? []) into.add(key);
        break;
      }
      case "EndpointSlice": {
        const service = sliceService(object as ConfigObject<"EndpointSlice">);
        into.add(`Service/${service}` as ConfigKey);
        break;
      }
      case "Endpoints":
        into.add(`Service/${namespace}/${name}` as ConfigKey);
        break;
    }
  };

  for (const object of initial) {
    if (!REGISTRY_KINDS.has(object.kind)) continue;
    const key = configKey(object);
    const { namespace, name } = object.metadata;
    if (object.kind === "EndpointSlice")
      slicesOf.set(sliceService(object as ConfigObject<"EndpointSlice">), key, object as ConfigObject<"EndpointSlice">);
    else place(key, object, object.kind, namespace, name);
  }
  for (const [key, source] of sources) {
    trackSelector(key, source, selectorOf(source) !== undefined);
    build(key);
  }

  let order: Built[] = [];
  const sortAll = () => {
    order = [...builtBySource.values()].flat();
    order.sort(
      (a, b) =>
        compareStrings(a.service.hostname, b.service.hostname) ||
        compareStrings(a.service.namespace, b.service.namespace) ||
        compareStrings(a.service.source, b.service.source),
    );
  };
  sortAll();
  // Sort ties (a ServiceEntry repeating a host) keep the entry's own order: build order is insertion order.

  let replacedInPlace: ReadonlyMap<Built, Built> | undefined; // the last update's services, when the set stayed
  const snapshot = (previous: Registry | undefined, rebuiltNamespaces: ReadonlySet<string>): Registry =>
    registrySnapshot(
      order,
      pods.list(),
      deployments.list(),
      workloadEntries.list(),
      previous,
      rebuiltNamespaces,
      replacedInPlace,
    );

  let registry = snapshot(undefined, new Set());
  const unchanged: RegistryUpdate = { rebuilt: new Map(), sameOrder: true };
  let lastUpdate = unchanged;
  return {
    get registry() {
      return registry;
    },
    get lastUpdate() {
      return lastUpdate;
    },
    update(changes) {
      const relevant = changes.filter(
        (c) => (c.old && REGISTRY_KINDS.has(c.old.kind)) || (c.next && REGISTRY_KINDS.has(c.next.kind)),
      );
      lastUpdate = unchanged;
      if (relevant.length === 0) return registry;
      const stale = new Set<ConfigKey>();
      // Readers of the old versions are found with the old indexes, readers of the new ones with the new.
      for (const { old } of relevant) if (old) readersOf(old, stale);
      for (const { old, next } of relevant) {
        const object = next ?? old;
        if (!object) continue;
        const key = configKey(object);
        const { namespace, name } = object.metadata;
        if (object.kind === "Service" || object.kind === "ServiceEntry") {
          trackSelector(key, old, false);
          place(key, next, object.kind, namespace, name);
          if (next) trackSelector(key, next, selectorOf(next) !== undefined);
        } else if (object.kind === "EndpointSlice") {
          if (old) slicesOf.set(sliceService(old as ConfigObject<"EndpointSlice">), key, undefined);
          if (next)
            slicesOf.set(
              sliceService(next as ConfigObject<"EndpointSlice">),
              key,
              next as ConfigObject<"EndpointSlice">,
            );
        } else {
          place(key, next, object.kind, namespace, name);
        }
      }
      for (const { next } of relevant) if (next) readersOf(next, stale);
      const before = new Map<ConfigKey, Built[]>();
      for (const key of stale) {
        before.set(key, builtBySource.get(key) ?? []);
        build(key);
      }
      // The same services (hosts and sources) as before: replace them in place; otherwise sort again.
      const replaced = new Map<Built, Built>();
      let sameSet = true;
      for (const [key, old] of before) {
        const now = builtBySource.get(key) ?? [];
        if (now.length !== old.length) sameSet = false;
        for (let i = 0; sameSet && i < now.length; i++) {
          const a = old[i] as Built;
          const b = now[i] as Built;
          if (a.service.hostname !== b.service.hostname || a.service.namespace !== b.service.namespace) sameSet = false;
          else replaced.set(a, b);
        }
      }
      if (sameSet) order = order.map((b) => replaced.get(b) ?? b);
      else sortAll();
      replacedInPlace = sameSet ? replaced : undefined;
      const rebuiltNamespaces = new Set<string>();
      for (const built of before.values()) for (const b of built) rebuiltNamespaces.add(b.service.namespace);
      for (const key of stale) for (const b of builtBySource.get(key) ?? []) rebuiltNamespaces.add(b.service.namespace);
      registry = snapshot(registry, rebuiltNamespaces);
      const rebuilt = new Map<ConfigKey, RebuiltSource>();
      for (const [key, old] of before)
        rebuilt.set(key, {
          before: old.map((b) => b.service),
          after: (builtBySource.get(key) ?? []).map((b) => b.service),
        });
      lastUpdate = { rebuilt, sameOrder: sameSet };
      return registry;
    },
  };
}

/** An immutable registry over the built services (in order) and the workloads. */
function registrySnapshot(
  built: readonly Built[],
  pods: readonly ConfigObject<"Pod">[],
  deployments: readonly ConfigObject<"Deployment">[],
  workloadEntries: readonly ConfigObject<"WorkloadEntry">[],
  previous: Registry | undefined,
  rebuiltNamespaces: ReadonlySet<string>,
  replaced?: ReadonlyMap<Built, Built>,
): Registry {
  const services = built.map((b) => b.service);
  const earlier = previous ? snapshotIndexes.get(previous) : undefined;
  const indexes = earlier && replaced ? patchIndexes(earlier, replaced) : indexesOf(built, services);
  const { byHostname, endpointsByService, inputsOf, position, servicesIn } = indexes;
  let workloads: Workload[] | undefined;
  const allWorkloads = () => {
    workloads ??= [...pods.map(workloadOf), ...deployments.map(workloadOf), ...workloadEntries.map(workloadOf)];
    return workloads;
  };
  let workloadIndex: Map<string, Workload> | undefined;
  // A workload's services change only when a service of its namespace was built again: the previous
  // snapshot's answers for other namespaces are taken over when asked for (one level: no chain of versions).
  const servicesOfCache = indexes.servicesOf;
  const inherited = earlier?.servicesOf;
  const inheritedFor = (workload: Workload) =>
    inherited && !rebuiltNamespaces.has(workload.namespace) ? inherited.get(workload) : undefined;
  // Per namespace: Services with a selector by one `key=value` of it; everything else is always a candidate.
  const selectorIndex = new Map<string, { byLabel: Map<string, MeshService[]>; others: MeshService[] }>();
  const candidatesFor = (workload: Workload): MeshService[] => {
    let index = selectorIndex.get(workload.namespace);
    if (!index) {
      index = { byLabel: new Map(), others: [] };
      for (const service of servicesIn.get(workload.namespace) ?? []) {
        const source = sourceObjects.get(service);
        const selector = source?.kind === "Service" ? source.spec.selector : undefined;
        const first = selector ? Object.keys(selector)[0] : undefined;
        if (!selector || first === undefined) {
          index.others.push(service);
          continue;
        }
        const label = `${first}=${selector[first]}`;
        const list = index.byLabel.get(label);
        if (list) list.push(service);
        else index.byLabel.set(label, [service]);
      }
      selectorIndex.set(workload.namespace, index);
    }
    const out = [...index.others];
    for (const label of labelKeysOf(workload)) {
      const selecting = index.byLabel.get(label);
      if (selecting) out.push(...selecting);
    }
    return out.length > 1 ? out.sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0)) : out;
  };
  const registry: Registry = {
    services,
    byHostname,
    endpointsOf: (service, port) => endpointsByService.get(service)?.get(port) ?? [],
    get workloads() {
      return allWorkloads();
    },
    workload(namespace, name) {
      if (!workloadIndex) {
        workloadIndex = new Map();
        for (const w of allWorkloads()) {
          const key = `${w.namespace}/${w.name}`;
          if (!workloadIndex.has(key)) workloadIndex.set(key, w);
        }
      }
      return workloadIndex.get(`${namespace}/${name}`);
    },
    servicesOf(workload) {
      let found = servicesOfCache.get(workload) ?? inheritedFor(workload);
      if (found) servicesOfCache.set(workload, found);
      else {
        // Services select workloads of their own namespace (Kubernetes selectors, ServiceEntry workloadSelector);
        // a Service whose selector needs a label the workload has another value of is not looked at.
        found = candidatesFor(workload).filter((service) => {
          const svcObject = sourceObjects.get(service);
          if (svcObject?.kind === "Service") {
            const selector = svcObject.spec.selector;
            if (selector && Object.keys(selector).length > 0) return selects(selector, workload.labels);
          } else if (svcObject?.kind === "ServiceEntry" && svcObject.spec.workloadSelector) {
            return (
              service.namespace === workload.namespace &&
              selects(svcObject.spec.workloadSelector.labels, workload.labels)
            );
          }
          const endpoints = service.ports.flatMap((p) => endpointsByService.get(service)?.get(p.port) ?? []);
          return endpoints.some((e) => e.workload === workload.key || workload.addresses.includes(e.address));
        });
        servicesOfCache.set(workload, found);
      }
      return found;
    },
    inputsOf,
  };
  snapshotIndexes.set(registry, indexes);
  return registry;
}

// A workload's labels as `key=value` strings, made once per workload (a new string would be hashed per lookup).
const labelKeys = new WeakMap<Workload, string[]>();
function labelKeysOf(workload: Workload): string[] {
  let keys = labelKeys.get(workload);
  if (!keys) {
    keys = Object.entries(workload.labels).map(([key, value]) => `${key}=${value}`);
    labelKeys.set(workload, keys);
  }
  return keys;
}

/** A snapshot's indexes over its services; the next snapshot of the same services changes only what was rebuilt. */
interface SnapshotIndexes {
  readonly byHostname: LayeredMap<string, MeshService[]>;
  readonly endpointsByService: LayeredMap<MeshService, Map<number, ServiceEndpoint[]>>;
  readonly inputsOf: LayeredMap<MeshService, ConfigKey[]>;
  readonly position: LayeredMap<MeshService, number>;
  readonly servicesIn: ReadonlyMap<string, MeshService[]>;
  /** servicesOf's answers of this snapshot (filled as asked). */
  readonly servicesOf: Map<Workload, MeshService[]>;
}
const snapshotIndexes = new WeakMap<Registry, SnapshotIndexes>();

function indexesOf(built: readonly Built[], services: readonly MeshService[]): SnapshotIndexes {
  const byHostname = new Map<string, MeshService[]>();
  const servicesIn = new Map<string, MeshService[]>();
  for (const service of services) {
    const list = byHostname.get(service.hostname);
    if (list) list.push(service);
    else byHostname.set(service.hostname, [service]);
    const group = servicesIn.get(service.namespace);
    if (group) group.push(service);
    else servicesIn.set(service.namespace, [service]);
  }
  return {
    byHostname: LayeredMap.of(byHostname),
    endpointsByService: LayeredMap.of(new Map(built.map((b) => [b.service, b.endpoints]))),
    inputsOf: LayeredMap.of(new Map(built.map((b) => [b.service, b.inputs]))),
    position: LayeredMap.of(new Map(services.map((service, i) => [service, i]))),
    servicesIn,
    servicesOf: new Map(),
  };
}

/** The indexes of the previous snapshot with each rebuilt service in its predecessor's place (same order). */
function patchIndexes(previous: SnapshotIndexes, replaced: ReadonlyMap<Built, Built>): SnapshotIndexes {
  const swap = (list: readonly MeshService[]) => {
    let out: MeshService[] | undefined;
    for (const [old, now] of replaced) {
      const at = (out ?? list).indexOf(old.service);
      if (at < 0) continue;
      out ??= [...list];
      out[at] = now.service;
    }
    return out;
  };
  const hostnames: Array<[string, MeshService[] | undefined]> = [];
  const endpoints: Array<[MeshService, Map<number, ServiceEndpoint[]> | undefined]> = [];
  const inputs: Array<[MeshService, ConfigKey[] | undefined]> = [];
  const positions: Array<[MeshService, number | undefined]> = [];
  const servicesIn = new Map(previous.servicesIn);
  for (const [old, now] of replaced) {
    endpoints.push([old.service, undefined], [now.service, now.endpoints]);
    inputs.push([old.service, undefined], [now.service, now.inputs]);
    positions.push([old.service, undefined], [now.service, previous.position.get(old.service)]);
    const group = servicesIn.get(old.service.namespace);
    const swapped = group && swap(group);
    if (swapped) servicesIn.set(old.service.namespace, swapped);
  }
  for (const hostname of new Set([...replaced.keys()].map((b) => b.service.hostname))) {
    const list = previous.byHostname.get(hostname);
    const swapped = list && swap(list);
    if (swapped) hostnames.push([hostname, swapped]);
  }
  return {
    byHostname: previous.byHostname.with(hostnames),
    endpointsByService: previous.endpointsByService.with(endpoints),
    inputsOf: previous.inputsOf.with(inputs),
    position: previous.position.with(positions),
    servicesIn,
    servicesOf: new Map(),
  };
}

function kubeEndpoint(
  address: string,
  port: number,
  servicePort: number,
  pod: ConfigObject<"Pod"> | undefined,
  zone?: string,
): ServiceEndpoint {
  return {
    address,
    port,
    servicePort,
    labels: pod?.metadata.labels ?? {},
    serviceAccount: pod?.spec.serviceAccountName ?? "default",
    locality: zone ? `/${zone}` : "",
    weight: 1,
    ...(pod ? { workload: configKey(pod) } : {}),
  };
}

function dnsEndpoint(host: string, port: ServicePort): ServiceEndpoint {
  return {
    address: host,
    port: typeof port.targetPort === "number" ? port.targetPort : port.port,
    servicePort: port.port,
    labels: {},
    serviceAccount: "",
    locality: "",
    weight: 1,
  };
}

function containerPorts(
  containers: ReadonlyArray<{ ports?: ReadonlyArray<{ name?: string; containerPort: number }> }> | undefined,
) {
  return (containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => ({ name: p.name ?? "", port: p.containerPort })));
}

/** A Service port's targetPort on a workload: a number as is, a name through the container ports. */
export function resolveTargetPort(
  port: ServicePort,
  workloadPorts: ReadonlyArray<{ name: string; port: number }>,
): number | undefined {
  if (port.targetPort === undefined) return port.port;
  if (typeof port.targetPort === "number") return port.targetPort;
  if (/^\d+$/.test(port.targetPort)) return Number(port.targetPort);
  return workloadPorts.find((p) => p.name === port.targetPort)?.port;
}

function resolutionOf(value: ServiceEntry_Resolution | undefined): Resolution {
  switch (value) {
    case ServiceEntry_Resolution.STATIC:
      return "ClientSideLB";
    case ServiceEntry_Resolution.DNS:
    case ServiceEntry_Resolution.DYNAMIC_DNS:
      return "DNS";
    case ServiceEntry_Resolution.DNS_ROUND_ROBIN:
      return "DNSRoundRobin";
    default:
      return "Passthrough";
  }
}

function exportToOf(annotation: string | undefined): string[] {
  if (!annotation) return ["*"];
  const list = annotation
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length > 0 ? list : ["*"];
}

function sortEndpoints(list: ServiceEndpoint[]): ServiceEndpoint[] {
  const seen = new Set<string>();
  return list
    .filter((e) => {
      const key = `${e.address}:${e.port}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => compareStrings(a.address, b.address) || a.port - b.port);
}
