// A sidecar's outbound TCP and TLS service ports, as istiod builds them: per listener (service VIP and port,
// or 0.0.0.0 and port for services without one) a list of filter chains from the VirtualServices' `tls`
// routes (TLS and HTTPS ports: one chain per SNI / destination-subnet match) or `tcp` routes (other ports),
// else one chain to the service's own cluster. Services sharing a listener add the chains whose matches
// differ from those already there. A listener without a match-all chain sends what no chain takes
// (an unknown SNI, say) to the outbound traffic policy's cluster through `PassthroughFilterChain`.
import type { Listener } from "@xdskit/core";
import { hostsOverlap, resolveHost } from "../index/hosts.js";
import { egressAllows, type Mesh, resolveGateway, type SidecarEgress, type SidecarScope } from "../index/mesh.js";
import type { MeshService, ServicePort } from "../registry/model.js";
import { BLACKHOLE, outboundClusterName, PASSTHROUGH } from "./clusters.js";
import { tcpProxyFilter } from "./envoy.js";

type FilterChain = NonNullable<Listener["filterChains"]>[number];
type Target = string | Array<{ name: string; weight: number }>;

/** One filter chain before it becomes Envoy's: what it matches at connection time and where it goes. */
export interface L4Chain {
  readonly sniHosts: readonly string[];
  readonly destinationCidrs: readonly string[];
  readonly target: Target;
  readonly statPrefix: string;
}

interface StaticMatch {
  readonly port?: number | undefined;
  readonly sourceLabels?: Readonly<Record<string, string>> | undefined;
  readonly gateways?: readonly string[] | undefined;
  readonly sourceNamespace?: string | undefined;
}

/** The predicates istiod decides while generating (not at connection time): port, source labels, gateway, namespace. */
function staticMatch(
  match: StaticMatch,
  vsNamespace: string,
  proxy: { namespace: string; labels: Readonly<Record<string, string>> },
  port: number,
): boolean {
  return (
    (!match.port || match.port === port) &&
    Object.entries(match.sourceLabels ?? {}).every(([k, v]) => proxy.labels[k] === v) &&
    (!match.gateways?.length || match.gateways.some((g) => resolveGateway(g, vsNamespace) === "mesh")) &&
    (!match.sourceNamespace || match.sourceNamespace === proxy.namespace)
  );
}

interface Destination {
  readonly host?: string | undefined;
  readonly subset?: string | undefined;
  readonly port?: { readonly number?: number | undefined } | undefined;
}

/**
 * An L4 route's cluster: the destination's port, else the port of a single-port service, else the listener's
 * port; several destinations become weighted clusters (those with weight 0 left out).
 */
function routeTarget(
  mesh: Mesh,
  vsNamespace: string,
  routes: ReadonlyArray<{ destination?: Destination | undefined; weight?: number | undefined }>,
  listenerPort: number,
): Target {
  const clusterOf = (d: Destination | undefined) => {
    const host = resolveHost(d?.host ?? "", vsNamespace, mesh.options.domainSuffix);
    const service = mesh.registry.byHostname.get(host)?.[0];
    const port = d?.port?.number || (service?.ports.length === 1 ? service.ports[0]?.port : undefined) || listenerPort;
    return outboundClusterName(host, port, d?.subset ?? "");
  };
  if (routes.length === 1) return clusterOf(routes[0]?.destination);
  return routes
    .filter((r) => (r.weight ?? 0) > 0)
    .map((r) => ({ name: clusterOf(r.destination), weight: r.weight ?? 0 }));
}

const statPrefixOf = (target: Target, vs: { name: string; namespace: string }) =>
  typeof target === "string" ? target : `${vs.name}.${vs.namespace}`;

/**
 * The chains of one service port on a listener whose own destination match is `listenerCidrs` (empty for a
 * service with a VIP; the address when it is a CIDR).
 */
export function serviceL4Chains(
  mesh: Mesh,
  proxy: { namespace: string; labels: Readonly<Record<string, string>> },
  egress: SidecarEgress,
  service: MeshService,
  port: ServicePort,
  listener: { cidrs: readonly string[]; wildcardBind: boolean },
): L4Chain[] {
  // Every VirtualService the proxy sees for the host, not only the oldest (istiod does not merge them here).
  const configs = mesh
    .virtualServicesFor("mesh", proxy.namespace)
    .filter(
      (vs) =>
        vs.hosts.some((h) => egressAllows(egress, vs.namespace, h)) &&
        vs.hosts.some((h) => hostsOverlap(h, service.hostname)),
    );
  const ownPort = service.ports.length === 1 ? (service.ports[0]?.port ?? port.port) : port.port;
  const ownCluster = outboundClusterName(service.hostname, ownPort);
  const tls = port.protocol === "TLS" || port.protocol === "HTTPS";
  const out: L4Chain[] = [];
  if (tls) {
    const handled = new Set<string>();
    // As in istiod, a match's destination subnets replace the listener's for the matches after it too.
    let cidrs = listener.cidrs;
    for (const vs of configs)
      for (const route of vs.spec.tls ?? []) {
        if ((route.route ?? []).length === 0) continue;
        for (const match of route.match ?? []) {
          if (!staticMatch(match, vs.namespace, proxy, port.port)) continue;
          if ((match.destinationSubnets ?? []).length > 0) cidrs = match.destinationSubnets ?? [];
          const key = `${(match.sniHosts ?? []).join(",")}|${(match.destinationSubnets ?? []).join(",")}`;
          if (handled.has(key)) continue;
          handled.add(key);
          const target = routeTarget(mesh, vs.namespace, route.route ?? [], port.port);
          out.push({
            sniHosts: match.sniHosts ?? [],
            destinationCidrs: cidrs,
            target,
            statPrefix: statPrefixOf(target, vs),
          });
        }
      }
    if (out.length > 0) return out;
    // No tls route: the service's cluster; on a shared wildcard listener (no VIP, or a CIDR), by the hostname as SNI.
    const bySni = listener.cidrs.length > 0 || listener.wildcardBind;
    return [
      {
        sniHosts: bySni ? [service.hostname] : [],
        destinationCidrs: listener.cidrs,
        target: ownCluster,
        statPrefix: ownCluster,
      },
    ];
  }
  let coversListener = false;
  for (const vs of configs)
    for (const route of vs.spec.tcp ?? []) {
      if ((route.route ?? []).length === 0) continue;
      const target = routeTarget(mesh, vs.namespace, route.route ?? [], port.port);
      const chain = (destinationCidrs: readonly string[]): L4Chain => ({
        sniHosts: [],
        destinationCidrs,
        target,
        statPrefix: statPrefixOf(target, vs),
      });
      if ((route.match ?? []).length === 0) return [...out, chain(listener.cidrs)];
      const subnets: string[] = [];
      for (const match of route.match ?? []) {
        if (!staticMatch(match, vs.namespace, proxy, port.port)) continue;
        // A match without destination subnets takes everything left: it ends the list.
        if ((match.destinationSubnets ?? []).length === 0) return [...out, chain(listener.cidrs)];
        subnets.push(...(match.destinationSubnets ?? []));
      }
      if (subnets.length > 0) {
        out.push(chain(subnets));
        // The same destinations as the listener's own: the service's default chain would collide with it.
        if ([...subnets].sort().join(",") === [...listener.cidrs].sort().join(",")) coversListener = true;
      }
    }
  if (!coversListener)
    out.push({ sniHosts: [], destinationCidrs: listener.cidrs, target: ownCluster, statPrefix: ownCluster });
  return out;
}

const matchesAll = (c: L4Chain) =>
  (c.sniHosts.length === 0 || c.sniHosts.includes("*")) && c.destinationCidrs.length === 0;

/** Whether two chains match the same connections (SNI and destination sets, `*` and 0.0.0.0 ignored). */
function conflicts(a: L4Chain, b: L4Chain): boolean {
  const set = (values: readonly string[], ignore: string) =>
    [...new Set(values.filter((v) => v !== ignore && !v.startsWith(`${ignore}/`)))].sort().join(",");
  return (
    set(a.sniHosts, "*") === set(b.sniHosts, "*") &&
    set(a.destinationCidrs.map(canonicalCidr), "0.0.0.0") === set(b.destinationCidrs.map(canonicalCidr), "0.0.0.0")
  );
}

/** Adds `incoming` chains to a listener's, except those matching what a chain already there matches. */
export function mergeL4Chains(current: L4Chain[], incoming: readonly L4Chain[]): void {
  for (const chain of incoming) if (!current.some((c) => conflicts(c, chain))) current.push(chain);
}

function canonicalCidr(value: string): string {
  const [address = "", bits] = value.split("/");
  const length = bits === undefined ? (address.includes(":") ? 128 : 32) : Number(bits);
  if (address.includes(":")) return `${address}/${length}`;
  const octets = address.split(".").map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o))) return value;
  const n = octets.reduce((acc, o) => acc * 256 + o, 0);
  const masked = length === 0 ? 0 : n - (n % 2 ** (32 - length));
  return `${[24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join(".")}/${length}`;
}

function cidrRange(value: string) {
  const [address = "", bits] = value.split("/");
  return { addressPrefix: address, prefixLen: bits === undefined ? (address.includes(":") ? 128 : 32) : Number(bits) };
}

/**
 * Envoy's filter chains for a listener's L4 chains: a match-all chain becomes the default chain (or the only
 * chain); without one, the outbound traffic policy's cluster takes the rest. Also says whether SNI is read.
 */
export function l4FilterChains(
  chains: readonly L4Chain[],
  scope: SidecarScope,
): { filterChains: FilterChain[]; defaultFilterChain?: FilterChain; readsSni: boolean } {
  const filterChains: FilterChain[] = [];
  let defaultFilterChain: FilterChain | undefined;
  for (const c of chains) {
    const filters = [tcpProxyFilter(c.statPrefix, c.target)];
    if (matchesAll(c)) {
      defaultFilterChain = { filters };
      continue;
    }
    const serverNames = c.sniHosts.includes("*") ? [] : [...c.sniHosts].sort();
    const prefixRanges = [...c.destinationCidrs]
      .sort()
      .filter((d) => !d.startsWith("0.0.0.0"))
      .map(cidrRange);
    filterChains.push({
      filterChainMatch: {
        ...(serverNames.length > 0 ? { serverNames } : {}),
        ...(prefixRanges.length > 0 ? { prefixRanges } : {}),
      },
      filters,
    });
  }
  const readsSni = chains.some((c) => c.sniHosts.length > 0);
  if (defaultFilterChain && filterChains.length === 0) return { filterChains: [defaultFilterChain], readsSni };
  if (!defaultFilterChain) {
    const fallback = scope.outboundTrafficPolicy === "REGISTRY_ONLY" ? BLACKHOLE : PASSTHROUGH;
    defaultFilterChain = {
      name: "PassthroughFilterChain",
      filterChainMatch: {},
      filters: [tcpProxyFilter(fallback, fallback)],
    };
  }
  return { filterChains, defaultFilterChain, readsSni };
}
