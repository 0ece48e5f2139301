// analyzeConfig: cross-object checks, as `istioctl analyze` makes them, with Istio's analyzer codes and texts.
import { XdsKitError } from "@xdskit/core";
import type { Destination, ServiceEntry, VirtualService } from "@xdskit/core/istio";
import type { ConfigDiagnostic } from "../config/diagnostics.js";
import type { AnyConfigObject, ConfigObject } from "../config/model.js";
import { parseProtocol } from "./names.js";
import { dict, list } from "./report.js";
import { diagnosticAt } from "./validate-config.js";

export const REFERENCED_RESOURCE_NOT_FOUND = "IST0101";
export const CONFLICTING_MESH_GATEWAY_VIRTUAL_SERVICE_HOSTS = "IST0109";
export const CONFLICTING_SIDECAR_WORKLOAD_SELECTORS = "IST0110";
export const MULTIPLE_SIDECARS_WITHOUT_WORKLOAD_SELECTORS = "IST0111";
export const VIRTUAL_SERVICE_DESTINATION_PORT_SELECTOR_REQUIRED = "IST0112";
export const PORT_NAME_IS_NOT_UNDER_NAMING_CONVENTION = "IST0118";
export const VIRTUAL_SERVICE_HOST_NOT_FOUND_IN_GATEWAY = "IST0132";
export const EXTERNAL_NAME_SERVICE_TYPE_INVALID_PORT_NAME = "IST0150";
export const DESTINATION_RULE_SUBSET_NOT_SELECT_PODS = "IST0173";
export const UNKNOWN_DESTINATION_RULE_HOST = "IST0174";

const CLUSTER_DOMAIN = "svc.cluster.local";

/** A short name (no dot, no wildcard) is relative to the namespace of the object that wrote it. */
export function toFqdn(namespace: string, host: string): string {
  return !host.startsWith("*") && !host.includes(".") ? `${host}.${namespace}.${CLUSTER_DOMAIN}` : host;
}

/** What a destination host can resolve to: a ServiceEntry or a Kubernetes Service seen as one. */
interface KnownService {
  readonly ports: ReadonlyArray<{ readonly number: number }>;
  readonly workloadSelector?: Readonly<Record<string, string>>;
}

/** Hosts by `scope/fqdn`, scope `*` for exported everywhere or the namespace it is visible in (Istio's map). */
function serviceHostMap(objects: readonly AnyConfigObject[]): Map<string, KnownService> {
  const out = new Map<string, KnownService>();
  for (const object of objects) {
    const ns = object.metadata.namespace;
    if (object.kind === "ServiceEntry") {
      const se: ServiceEntry = object.spec;
      const known = {
        ports: list(se.ports).map((p) => ({ number: p.number ?? 0 })),
        workloadSelector: se.workloadSelector?.labels,
      };
      const exportTo = list(se.exportTo);
      for (const host of list(se.hosts)) {
        if (exportTo.length === 0 || exportTo.includes("*")) {
          out.set(`*/${toFqdn(ns, host)}`, known);
          continue;
        }
        for (const scope of exportTo) out.set(`${scope === "." ? ns : scope}/${toFqdn(ns, host)}`, known);
      }
    } else if (object.kind === "Service") {
      const known = { ports: (object.spec.ports ?? []).map((p) => ({ number: p.port })) };
      const annotation = object.metadata.annotations["networking.istio.io/exportTo"];
      const scopes = annotation ? annotation.split(",").map((s) => (s.trim() === "." ? ns : s.trim())) : ["*"];
      for (const scope of scopes) out.set(`${scope}/${toFqdn(ns, object.metadata.name)}`, known);
    }
  }
  return out;
}

function lookupHost(
  hosts: Map<string, KnownService>,
  sourceNs: string,
  exportTo: readonly string[],
  host: string,
): KnownService | undefined {
  const fqdn = toFqdn(sourceNs, host);
  const everywhere = hosts.get(`*/${fqdn}`);
  if (everywhere) return everywhere;
  const scopes = exportTo.length === 0 ? [sourceNs] : exportTo.map((e) => (e === "." ? sourceNs : e));
  for (const scope of scopes) {
    const found = hosts.get(`${scope}/${fqdn}`);
    if (found) return found;
  }
  // Wildcard ServiceEntry hosts visible to the source namespace cover the names below them.
  for (const [key, known] of hosts) {
    const slash = key.indexOf("/");
    const [scope, seHost] = [key.slice(0, slash), key.slice(slash + 1)];
    if (!seHost.startsWith("*") || (scope !== "*" && scope !== sourceNs)) continue;
    if (host.replace(/^\*/, "").endsWith(seHost.slice(1))) return known;
  }
  return undefined;
}

interface RouteDestination {
  readonly destination: Destination;
  readonly path: string;
  readonly mirror: boolean;
}

function destinationsOf(vs: VirtualService): RouteDestination[] {
  const out: RouteDestination[] = [];
  const add = (destination: Destination | undefined, path: string, mirror = false) => {
    if (destination) out.push({ destination, path, mirror });
  };
  for (const [i, http] of list(vs.http).entries()) {
    for (const [j, route] of list(http.route).entries())
      add(route.destination, `spec.http[${i}].route[${j}].destination`);
    add(http.mirror, `spec.http[${i}].mirror`, true);
    for (const [j, mirror] of list(http.mirrors).entries())
      add(mirror.destination, `spec.http[${i}].mirrors[${j}].destination`, true);
  }
  for (const [i, tcp] of list(vs.tcp).entries())
    for (const [j, route] of list(tcp.route).entries())
      add(route.destination, `spec.tcp[${i}].route[${j}].destination`);
  for (const [i, tls] of list(vs.tls).entries())
    for (const [j, route] of list(tls.route).entries())
      add(route.destination, `spec.tls[${i}].route[${j}].destination`);
  return out;
}

/** Istio's host.Name.Matches. */
function hostsMatch(a: string, b: string): boolean {
  if (a.startsWith("*"))
    return b.startsWith("*")
      ? a.length < b.length
        ? b.slice(1).endsWith(a.slice(1))
        : a.slice(1).endsWith(b.slice(1))
      : b.endsWith(a.slice(1));
  if (b.startsWith("*")) return a.endsWith(b.slice(1));
  return a === b;
}

const fullName = (object: AnyConfigObject) => `${object.metadata.namespace}/${object.metadata.name}`;

interface WorkloadLabels {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Workloads by each `key=value` label they carry, so a selector only looks at workloads with its rarest label. */
interface Workloads {
  readonly all: readonly WorkloadLabels[];
  readonly byLabel: ReadonlyMap<string, readonly WorkloadLabels[]>;
}

/** Every workload with its labels: Pods, Deployment pod templates and WorkloadEntries. */
function workloadsOf(objects: readonly AnyConfigObject[]): Workloads {
  const all: WorkloadLabels[] = [];
  for (const object of objects) {
    const { namespace, name } = object.metadata;
    if (object.kind === "Pod") all.push({ namespace, name, labels: object.metadata.labels });
    else if (object.kind === "Deployment")
      all.push({ namespace, name, labels: object.spec.template?.metadata?.labels ?? {} });
    else if (object.kind === "WorkloadEntry") all.push({ namespace, name, labels: dict(object.spec.labels) });
  }
  const byLabel = new Map<string, WorkloadLabels[]>();
  for (const workload of all)
    for (const [k, v] of Object.entries(workload.labels)) {
      const label = `${k}=${v}`;
      const same = byLabel.get(label);
      if (same) same.push(workload);
      else byLabel.set(label, [workload]);
    }
  return { all, byLabel };
}

/** The workloads that may carry every label of the selector: those with its rarest label (all, when empty). */
function candidatesFor(workloads: Workloads, selector: Readonly<Record<string, string>>): readonly WorkloadLabels[] {
  let candidates = workloads.all;
  for (const [k, v] of Object.entries(selector)) {
    const carrying = workloads.byLabel.get(`${k}=${v}`) ?? [];
    if (carrying.length < candidates.length) candidates = carrying;
  }
  return candidates;
}

/** Sidecars: a selector no workload matches, several Sidecars for one workload or for one namespace. */
function analyzeSidecars(objects: readonly AnyConfigObject[], workloads: Workloads, out: ConfigDiagnostic[]) {
  const sidecars = objects.filter((o): o is ConfigObject<"Sidecar"> & AnyConfigObject => o.kind === "Sidecar");
  const byWorkload = new Map<string, Array<(typeof sidecars)[number]>>();
  const withoutSelector = new Map<string, Array<(typeof sidecars)[number]>>();
  for (const sidecar of sidecars) {
    const ns = sidecar.metadata.namespace;
    const selector = dict(sidecar.spec.workloadSelector?.labels);
    if (Object.keys(selector).length === 0) {
      withoutSelector.set(ns, [...(withoutSelector.get(ns) ?? []), sidecar]);
      continue;
    }
    const selected = candidatesFor(workloads, selector).filter(
      (w) => w.namespace === ns && selects(selector, w.labels),
    );
    if (selected.length === 0) {
      const text = Object.entries(selector)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      out.push(
        diagnosticAt(
          sidecar,
          "error",
          REFERENCED_RESOURCE_NOT_FOUND,
          "spec.workloadSelector",
          `Referenced selector not found: ${JSON.stringify(text)}`,
        ),
      );
    }
    for (const w of selected) {
      const key = `${w.namespace}/${w.name}`;
      byWorkload.set(key, [...(byWorkload.get(key) ?? []), sidecar]);
    }
  }
  for (const [key, list2] of [...byWorkload].sort(([a], [b]) => a.localeCompare(b))) {
    if (list2.length < 2) continue;
    const [ns, name] = [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)];
    const names = list2.map((s) => s.metadata.name).sort();
    for (const sidecar of list2)
      out.push(
        diagnosticAt(
          sidecar,
          "error",
          CONFLICTING_SIDECAR_WORKLOAD_SELECTORS,
          "metadata.name",
          `The Sidecars [${names.join(" ")}] in namespace ${JSON.stringify(ns)} select the same workload pod ${JSON.stringify(name)}, which can lead to undefined behavior.`,
        ),
      );
  }
  for (const [ns, list2] of [...withoutSelector].sort(([a], [b]) => a.localeCompare(b))) {
    if (list2.length < 2) continue;
    const names = list2.map((s) => s.metadata.name).sort();
    for (const sidecar of list2)
      out.push(
        diagnosticAt(
          sidecar,
          "error",
          MULTIPLE_SIDECARS_WITHOUT_WORKLOAD_SELECTORS,
          "metadata.name",
          `The Sidecars [${names.join(" ")}] in namespace ${JSON.stringify(ns)} have no workload selector, which can lead to undefined behavior.`,
        ),
      );
  }
}

const selects = (selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

// Names in a Service port that carry no protocol but are still detected: Istio treats these as TCP.
const WELL_KNOWN_PORTS = new Set([25, 53, 3306, 27017]);

function servicePortProtocolKnown(port: {
  name?: string;
  port: number;
  protocol?: string;
  appProtocol?: string;
}): boolean {
  if (port.protocol === "UDP") return true;
  let name = port.appProtocol ?? port.name ?? "";
  if (port.appProtocol && ["kubernetes.io/h2c", "kubernetes.io/ws", "kubernetes.io/wss"].includes(port.appProtocol))
    return true;
  if (name.toLowerCase().startsWith("grpc-web")) return true;
  const dash = name.indexOf("-");
  if (dash >= 0) name = name.slice(0, dash);
  return parseProtocol(name) !== undefined || WELL_KNOWN_PORTS.has(port.port);
}

/**
 * Cross-object analysis of a whole configuration, like `istioctl analyze`: references to hosts, subsets and
 * gateways that do not exist (IST0101), VirtualServices fighting over a host on the mesh (IST0109), a route to a
 * multi-port service without a port (IST0112), Service port names Istio cannot read a protocol from (IST0118),
 * VirtualService hosts a bound Gateway does not serve (IST0132), subsets selecting no workload (IST0173),
 * DestinationRules for unknown hosts (IST0174), and Sidecars whose selector matches no workload (IST0101), that
 * share a workload (IST0110) or that share a namespace without selectors (IST0111).
 */
export function analyzeConfig(objects: readonly AnyConfigObject[]): ConfigDiagnostic[] {
  if (!Array.isArray(objects)) throw new XdsKitError("INVALID_ARGUMENT", "analyzeConfig: objects must be an array");
  const out: ConfigDiagnostic[] = [];
  const hosts = serviceHostMap(objects);
  const virtualServices = objects.filter(
    (o): o is ConfigObject<"VirtualService"> & AnyConfigObject => o.kind === "VirtualService",
  );
  const destinationRules = objects.filter(
    (o): o is ConfigObject<"DestinationRule"> & AnyConfigObject => o.kind === "DestinationRule",
  );
  const gateways = new Map(
    objects
      .filter((o): o is ConfigObject<"Gateway"> & AnyConfigObject => o.kind === "Gateway")
      .map((g) => [fullName(g), g]),
  );

  // host+subset pairs declared by DestinationRules, hosts resolved against the rule's namespace.
  const subsets = new Set<string>();
  for (const dr of destinationRules)
    for (const subset of list(dr.spec.subsets))
      subsets.add(`${toFqdn(dr.metadata.namespace, dr.spec.host ?? "")}+${subset.name}`);

  for (const vs of virtualServices) {
    const ns = vs.metadata.namespace;
    const spec = vs.spec;
    for (const { destination, path, mirror } of destinationsOf(spec)) {
      const host = destination.host ?? "";
      const known = lookupHost(hosts, ns, list(spec.exportTo), host);
      if (!known) {
        out.push(
          diagnosticAt(
            vs,
            "error",
            REFERENCED_RESOURCE_NOT_FOUND,
            `${path}.host`,
            `Referenced ${mirror ? "mirror host" : "host"} not found: ${JSON.stringify(host)}`,
          ),
        );
      } else if (!destination.port && known.ports.length > 1) {
        out.push(
          diagnosticAt(
            vs,
            "error",
            VIRTUAL_SERVICE_DESTINATION_PORT_SELECTOR_REQUIRED,
            `${path}.host`,
            `This VirtualService routes to a service ${JSON.stringify(host)} that exposes multiple ports [${known.ports.map((p) => p.number).join(" ")}]. Specifying a port in the destination is required to disambiguate.`,
          ),
        );
      }
      const subset = destination.subset ?? "";
      if (subset && !subsets.has(`${toFqdn(ns, host)}+${subset}`))
        out.push(
          diagnosticAt(
            vs,
            "error",
            REFERENCED_RESOURCE_NOT_FOUND,
            `${path}.subset`,
            `Referenced ${mirror ? "mirror+subset" : "host+subset"} in destinationrule not found: ${JSON.stringify(`${host}+${subset}`)}`,
          ),
        );
    }
    for (const [i, name] of list(spec.gateways).entries()) {
      if (name === "mesh") continue;
      const key = name.includes("/") ? name : `${ns}/${name}`;
      const gateway = gateways.get(key);
      const path = `spec.gateways[${i}]`;
      if (!gateway)
        out.push(
          diagnosticAt(
            vs,
            "error",
            REFERENCED_RESOURCE_NOT_FOUND,
            path,
            `Referenced gateway not found: ${JSON.stringify(name)}`,
          ),
        );
      // Gateway hosts `ns/host` count when ns is `*`, `.` (the gateway's) or the VirtualService's namespace.
      const gatewayNs = gateway?.metadata.namespace ?? "";
      const served = list(gateway?.spec.servers).flatMap((s) =>
        list(s.hosts).flatMap((h) => {
          const slash = h.indexOf("/");
          if (slash < 0) return [h];
          const hostNs = h.slice(0, slash) === "." ? gatewayNs : h.slice(0, slash);
          return hostNs === "*" || hostNs === ns ? [h.slice(slash + 1)] : [];
        }),
      );
      const vsHosts = list(spec.hosts);
      if (!served.some((g) => vsHosts.some((h) => hostsMatch(g, h))))
        out.push(
          diagnosticAt(
            vs,
            "warning",
            VIRTUAL_SERVICE_HOST_NOT_FOUND_IN_GATEWAY,
            path,
            `one or more host [${vsHosts.join(" ")}] defined in VirtualService ${fullName(vs)} not found in Gateway ${key}.`,
          ),
        );
    }
  }

  // Two VirtualServices for one host on the mesh: only one of them takes effect.
  const meshHosts = new Map<string, Array<(typeof virtualServices)[number]>>();
  for (const vs of virtualServices) {
    const gws = list(vs.spec.gateways);
    if (gws.length > 0 && !gws.includes("mesh")) continue;
    const exportTo = list(vs.spec.exportTo);
    const scopes =
      exportTo.length === 0 || exportTo.includes("*")
        ? ["*"]
        : [...new Set(exportTo.map((e) => (e === "." ? vs.metadata.namespace : e)))];
    for (const scope of scopes)
      for (const host of list(vs.spec.hosts)) {
        const key = `${scope}/${toFqdn(vs.metadata.namespace, host)}`;
        meshHosts.set(key, [...(meshHosts.get(key) ?? []), vs]);
      }
  }
  const reported = new Set<string>();
  for (const [scoped, own] of [...meshHosts].sort(([a], [b]) => a.localeCompare(b))) {
    const [scope, host] = [scoped.slice(0, scoped.indexOf("/")), scoped.slice(scoped.indexOf("/") + 1)];
    const conflicting = [...own];
    if (scope !== "*")
      for (const [other, list2] of meshHosts) {
        const [otherScope, otherHost] = [other.slice(0, other.indexOf("/")), other.slice(other.indexOf("/") + 1)];
        if (otherScope === "*" && hostsMatch(host, otherHost)) conflicting.push(...list2);
      }
    if (conflicting.length < 2) continue;
    const names = conflicting.map(fullName).sort().join(",");
    for (const vs of conflicting) {
      if (reported.has(fullName(vs))) continue;
      reported.add(fullName(vs));
      out.push(
        diagnosticAt(
          vs,
          "error",
          CONFLICTING_MESH_GATEWAY_VIRTUAL_SERVICE_HOSTS,
          "metadata.name",
          `The VirtualServices ${names} associated with mesh gateway define the same host ${scoped} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
        ),
      );
    }
  }

  // DestinationRules: a host nothing serves, and subsets no workload carries the labels of.
  const workloads = workloadsOf(objects);
  analyzeSidecars(objects, workloads, out);
  for (const dr of destinationRules) {
    const host = dr.spec.host ?? "";
    const known = lookupHost(hosts, dr.metadata.namespace, list(dr.spec.exportTo), host);
    if (!known) {
      out.push(
        diagnosticAt(
          dr,
          "warning",
          UNKNOWN_DESTINATION_RULE_HOST,
          "spec.host",
          `The host ${host} defined in the DestinationRule does not match any services in the mesh.`,
        ),
      );
      continue;
    }
    for (const [i, subset] of list(dr.spec.subsets).entries()) {
      const selector = { ...dict(known.workloadSelector), ...dict(subset.labels) };
      if (!candidatesFor(workloads, selector).some((w) => selects(selector, w.labels)))
        out.push(
          diagnosticAt(
            dr,
            "error",
            DESTINATION_RULE_SUBSET_NOT_SELECT_PODS,
            `spec.subsets[${i}]`,
            `The Subset ${subset.name} defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).`,
          ),
        );
    }
  }

  // Service ports whose name (or appProtocol) says no protocol Istio knows: it falls back to detection.
  for (const object of objects) {
    if (object.kind !== "Service") continue;
    const labels = object.metadata.labels;
    if ("istio" in labels || labels.release === "istio") continue; // Istio's own control plane services
    for (const [i, port] of (object.spec.ports ?? []).entries()) {
      if (servicePortProtocolKnown(port) && !(port.name === "tcp" && object.spec.type === "ExternalName")) continue;
      out.push(
        diagnosticAt(
          object,
          "warning",
          object.spec.type === "ExternalName"
            ? EXTERNAL_NAME_SERVICE_TYPE_INVALID_PORT_NAME
            : PORT_NAME_IS_NOT_UNDER_NAMING_CONVENTION,
          `spec.ports[${i}]`,
          object.spec.type === "ExternalName"
            ? "Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being forwarded correctly"
            : `Port name ${port.name ?? ""} (port: ${port.port}, targetPort: ${port.targetPort ?? 0}) doesn't follow the naming convention of Istio port.`,
        ),
      );
    }
  }
  return out;
}
