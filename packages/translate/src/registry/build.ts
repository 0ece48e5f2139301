// Builds the registry of one configuration version from Kubernetes Services (endpoints from
// EndpointSlices, Endpoints, or the Pods and WorkloadEntries their selector picks) and from ServiceEntries
// (inline endpoints, selected WorkloadEntries/Pods, or DNS hosts).
import { ServiceEntry_Location, ServiceEntry_Resolution } from "@xdskit/core/istio";
import { type AnyConfigObject, type ConfigKey, type ConfigObject, configKey } from "../config/model.js";
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
  const domainSuffix = options.domainSuffix ?? "cluster.local";
  const of = <K extends AnyConfigObject["kind"]>(kind: K) =>
    (objects.filter((o) => o.kind === kind) as unknown as ConfigObject<K>[]).sort(byName);
  const pods = of("Pod");
  const deployments = of("Deployment");
  const workloadEntries = of("WorkloadEntry");
  const slices = of("EndpointSlice");
  const endpointsObjects = new Map(of("Endpoints").map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  const podsByKey = new Map(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));

  const workloads: Workload[] = [
    ...pods.map(
      (p): Workload => ({
        key: configKey(p),
        kind: "Pod",
        name: p.metadata.name,
        namespace: p.metadata.namespace,
        labels: p.metadata.labels,
        serviceAccount: p.spec.serviceAccountName ?? "default",
        addresses: p.spec.podIP ? [p.spec.podIP] : [],
        ports: containerPorts(p.spec.containers),
      }),
    ),
    ...deployments.map(
      (d): Workload => ({
        key: configKey(d),
        kind: "Deployment",
        name: d.metadata.name,
        namespace: d.metadata.namespace,
        labels: d.spec.template?.metadata?.labels ?? {},
        serviceAccount: d.spec.template?.spec?.serviceAccountName ?? "default",
        addresses: [],
        ports: containerPorts(d.spec.template?.spec?.containers),
      }),
    ),
    ...workloadEntries.map(
      (w): Workload => ({
        key: configKey(w),
        kind: "WorkloadEntry",
        name: w.metadata.name,
        namespace: w.metadata.namespace,
        labels: { ...w.metadata.labels, ...(w.spec.labels ?? {}) },
        serviceAccount: w.spec.serviceAccount || "default",
        addresses: w.spec.address ? [w.spec.address] : [],
        ports: Object.entries(w.spec.ports ?? {}).map(([name, port]) => ({ name, port })),
      }),
    ),
  ];

  const built: Built[] = [];
  // Selectors only pick workloads of their own namespace: index them by namespace once.
  const byNamespace = <T extends { metadata: { namespace: string } }>(list: readonly T[]) => {
    const map = new Map<string, T[]>();
    for (const item of list) {
      const group = map.get(item.metadata.namespace);
      if (group) group.push(item);
      else map.set(item.metadata.namespace, [item]);
    }
    return map;
  };
  const podsIn = byNamespace(pods);
  const entriesIn = byNamespace(workloadEntries);

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
      for (const pod of podsIn.get(namespace) ?? []) {
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
    for (const entry of entriesIn.get(namespace) ?? []) {
      const labels = { ...entry.metadata.labels, ...(entry.spec.labels ?? {}) };
      if (!entry.spec.address || !selects(selector, labels)) continue;
      inputs.push(configKey(entry));
      out.push({
        address: entry.spec.address,
        port: entry.spec.ports?.[port.name] ?? (typeof port.targetPort === "number" ? port.targetPort : port.port),
        servicePort: port.port,
        labels,
        serviceAccount: entry.spec.serviceAccount || "default",
        locality: entry.spec.locality ?? "",
        weight: entry.spec.weight || 1,
        workload: configKey(entry),
      });
    }
    return out;
  };

  for (const svc of of("Service")) {
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
    const mySlices = slices.filter(
      (s) => s.metadata.namespace === namespace && s.metadata.labels["kubernetes.io/service-name"] === name,
    );
    const endpointsObject = endpointsObjects.get(`${namespace}/${name}`);
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
            const pod = podOf(ep.targetRef, namespace);
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
            list.push(kubeEndpoint(address.ip, subsetPort.port, port.port, podOf(address.targetRef, namespace)));
        }
      } else if (spec.selector && Object.keys(spec.selector).length > 0) {
        list = selectedEndpoints(namespace, spec.selector, port, inputs, true);
      }
      // WorkloadEntries a Service selects join its endpoints (Istio's VM support), whatever the source above.
      if (!externalName && mySlices.length + (endpointsObject ? 1 : 0) > 0 && spec.selector)
        list.push(...selectedEndpoints(namespace, spec.selector, port, inputs, false));
      endpoints.set(port.port, sortEndpoints(list));
    }
    built.push({
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
        source: configKey(svc),
      },
      endpoints,
      inputs: [...new Set(inputs)],
    });
  }

  for (const entry of of("ServiceEntry")) {
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
            serviceAccount: we.serviceAccount || "default",
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
      built.push({
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
  }

  built.sort(
    (a, b) =>
      compareStrings(a.service.hostname, b.service.hostname) ||
      compareStrings(a.service.namespace, b.service.namespace) ||
      compareStrings(a.service.source, b.service.source),
  );
  const services = built.map((b) => b.service);
  const byHostname = new Map<string, MeshService[]>();
  for (const service of services) {
    const list = byHostname.get(service.hostname);
    if (list) list.push(service);
    else byHostname.set(service.hostname, [service]);
  }
  const endpointsByService = new Map(built.map((b) => [b.service, b.endpoints]));
  const inputsOf = new Map(built.map((b) => [b.service, b.inputs]));
  const workloadIndex = new Map<string, Workload>();
  for (const w of workloads) {
    const key = `${w.namespace}/${w.name}`;
    if (!workloadIndex.has(key)) workloadIndex.set(key, w);
  }
  const servicesOfCache = new Map<Workload, MeshService[]>();
  const servicesIn = new Map<string, MeshService[]>();
  for (const service of services) {
    const group = servicesIn.get(service.namespace);
    if (group) group.push(service);
    else servicesIn.set(service.namespace, [service]);
  }
  const sourceObjects = new Map<ConfigKey, AnyConfigObject>(
    objects.filter((o) => o.kind === "Service" || o.kind === "ServiceEntry").map((o) => [configKey(o), o]),
  );

  return {
    services,
    byHostname,
    endpointsOf: (service, port) => endpointsByService.get(service)?.get(port) ?? [],
    workloads,
    workload: (namespace, name) => workloadIndex.get(`${namespace}/${name}`),
    servicesOf(workload) {
      let found = servicesOfCache.get(workload);
      if (!found) {
        // Services select workloads of their own namespace (Kubernetes selectors, ServiceEntry workloadSelector).
        found = (servicesIn.get(workload.namespace) ?? []).filter((service) => {
          const svcObject = sourceObjects.get(service.source);
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

  function podOf(ref: { kind?: string; name?: string; namespace?: string } | undefined, namespace: string) {
    if (!ref || (ref.kind && ref.kind !== "Pod") || !ref.name) return undefined;
    return podsByKey.get(`${ref.namespace ?? namespace}/${ref.name}`);
  }
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
