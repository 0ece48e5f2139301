// A sidecar's listeners: outbound listeners per port (virtual ones behind iptables, or bound to an
// address when the Sidecar resource says captureMode NONE), the workload's inbound listeners, and the
// virtualOutbound/virtualInbound listeners iptables redirects to.
import { type Cluster, type Listener, packAny, type RouteConfiguration } from "@xdskit/core";
import { OriginalDst, TlsInspector, TrafficDirection } from "@xdskit/core/extensions";
import type { Mesh, SidecarScope } from "../index/mesh.js";
import { resolveTargetPort } from "../registry/build.js";
import { isHttpProtocol, parseProtocol } from "../registry/protocol.js";
import { BLACKHOLE, fixedClusters, INBOUND_PASSTHROUGH, inboundCluster, PASSTHROUGH } from "./clusters.js";
import { FILTER, hcmFilter, socketAddress, TYPE, tcpProxyFilter } from "./envoy.js";
import { inboundChainMatches, inboundMtlsTransportSocket, type MtlsMode, workloadMtlsMode } from "./mtls.js";
import {
  egressFor,
  httpPorts,
  labelsKey,
  memoized,
  outboundClustersOf,
  routesDependOnLabels,
  sidecarRouteConfig,
  visibleServices,
} from "./outbound.js";
import type { MeshProxy } from "./proxy.js";
import type { ProxyResources } from "./resources.js";
import { defaultRoute, type RouteContext } from "./routes.js";
import { type L4Chain, l4FilterChains, mergeL4Chains, serviceL4Chains } from "./sidecar-l4.js";

/** True when the workload runs without iptables (a Sidecar listener says captureMode NONE). */
export function capturesNothing(scope: SidecarScope): boolean {
  return scope.egress.some((e) => e.captureMode === "NONE") || scope.ingress.some((i) => i.captureMode === "NONE");
}

export function sidecarResources(mesh: Mesh, proxy: MeshProxy): ProxyResources {
  const scope = mesh.sidecarScope(proxy.namespace, proxy.labels);
  const labels = routesDependOnLabels(mesh) ? labelsKey(proxy.labels) : "";
  const outboundKey = `sidecar|${proxy.namespace}|${scope.key}|${labels}`;
  const outbound = memoized(mesh, outboundKey, () => sidecarOutbound(mesh, proxy, scope));
  const inboundPorts = inboundPortsOf(mesh, proxy, scope);
  const inboundKey = `inbound|${proxy.namespace}|${scope.key}|${inboundPorts.map((p) => `${p.port}/${p.protocol}/${p.endpoint ?? ""}/${p.mtls}`).join(",")}`;
  const inbound = memoized(mesh, inboundKey, () => sidecarInbound(mesh, scope, inboundPorts));
  return memoized(mesh, `${outboundKey}#${inboundKey}`, () => ({
    Listener: sortByName([...outbound.Listener, ...inbound.Listener]),
    RouteConfiguration: outbound.RouteConfiguration,
    Cluster: mergeByName(outbound.Cluster, sortByName([...inbound.Cluster])), // outbound's are sorted
    ClusterLoadAssignment: outbound.ClusterLoadAssignment,
    Secret: [],
  }));
}

function sortByName<T extends { name?: string | undefined }>(list: T[]): T[] {
  return list.sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : (a.name ?? "") > (b.name ?? "") ? 1 : 0));
}

/** Two lists sorted by name as one, `first`'s before `second`'s on equal names (what a stable sort gives). */
function mergeByName<T extends { name?: string | undefined }>(first: readonly T[], second: readonly T[]): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < first.length && j < second.length) {
    const a = first[i] as T;
    const b = second[j] as T;
    if ((b.name ?? "") < (a.name ?? "")) {
      out.push(b);
      j++;
    } else {
      out.push(a);
      i++;
    }
  }
  while (i < first.length) out.push(first[i++] as T);
  while (j < second.length) out.push(second[j++] as T);
  return out;
}

// Outbound cluster lists are shared by the namespaces that see the same clusters: each is sorted once.
const sortedClusters = new WeakMap<readonly Cluster[], Cluster[]>();
function sortedOnce(clusters: readonly Cluster[]): Cluster[] {
  let sorted = sortedClusters.get(clusters);
  if (!sorted) {
    sorted = sortByName([...clusters]);
    sortedClusters.set(clusters, sorted);
  }
  return sorted;
}

function sidecarOutbound(mesh: Mesh, proxy: MeshProxy, scope: SidecarScope): ProxyResources {
  const services = visibleServices(mesh, proxy.namespace, scope);
  const { clusters, endpoints } = outboundClustersOf(mesh, proxy.namespace, services);
  const ctx: RouteContext = { mesh, namespace: proxy.namespace, labels: proxy.labels, gateways: new Set(["mesh"]) };
  const ports = httpPorts(services, scope);
  const routes = ports.map((port) => sidecarRouteConfig(mesh, ctx, scope, services, port));
  const listeners: Listener[] = [];
  const noCapture = capturesNothing(scope);
  const httpListenerPorts = new Set<number>();
  for (const port of ports) {
    const egress = egressFor(scope, port);
    if (!egress) continue;
    const bound = egress.port?.number === port && (egress.bind !== undefined || egress.captureMode === "NONE");
    if (noCapture && !bound) continue; // without iptables only explicitly bound ports receive traffic
    const bind = bound ? (egress.bind ?? "127.0.0.1") : "0.0.0.0";
    httpListenerPorts.add(port);
    listeners.push({
      name: `${bind}_${port}`,
      address: socketAddress(bind, port),
      trafficDirection: TrafficDirection.OUTBOUND,
      ...(bound ? {} : { bindToPort: false }),
      filterChains: [{ filters: [hcmFilter({ statPrefix: `outbound_${bind}_${port}`, rds: String(port) })] }],
    });
  }
  // TCP (and TLS) service ports: one listener per VIP and port (0.0.0.0 for services without a VIP, shared),
  // with filter chains from `tls` / `tcp` routes (see sidecar-l4.ts).
  const l4 = new Map<string, { address: string; port: number; bound: boolean; chains: L4Chain[] }>();
  for (const service of services)
    for (const port of service.ports) {
      if (isHttpProtocol(port.protocol) || httpListenerPorts.has(port.port)) continue;
      const egress = egressFor(scope, port.port);
      if (!egress) continue;
      const bound = egress.port?.number === port.port && (egress.bind !== undefined || egress.captureMode === "NONE");
      if (noCapture && !bound) continue;
      const vip = service.addresses[0];
      // A CIDR address listens on 0.0.0.0 and matches the range per filter chain.
      const cidrs = !bound && vip?.includes("/") ? [vip] : [];
      const address = bound ? (egress.bind ?? "127.0.0.1") : vip && cidrs.length === 0 ? vip : "0.0.0.0";
      const chains = serviceL4Chains(mesh, proxy, egress, service, port, {
        cidrs,
        wildcardBind: !bound && vip === undefined,
      });
      const name = `${address}_${port.port}`;
      const entry = l4.get(name);
      if (entry) mergeL4Chains(entry.chains, chains);
      else l4.set(name, { address, port: port.port, bound, chains });
    }
  for (const [name, { address, port, bound, chains }] of l4) {
    const { filterChains, defaultFilterChain, readsSni } = l4FilterChains(chains, scope);
    listeners.push({
      name,
      address: socketAddress(address, port),
      trafficDirection: TrafficDirection.OUTBOUND,
      ...(bound ? {} : { bindToPort: false }),
      ...(readsSni ? { listenerFilters: [tlsInspector()] } : {}),
      filterChains,
      ...(defaultFilterChain ? { defaultFilterChain } : {}),
    });
  }
  if (!noCapture) listeners.push(virtualOutbound(scope));
  return {
    Listener: listeners,
    RouteConfiguration: routes,
    Cluster: mergeByName(sortByName([...fixedClusters()]), sortedOnce(clusters)),
    ClusterLoadAssignment: endpoints,
    Secret: [],
  };
}

function virtualOutbound(scope: SidecarScope): Listener {
  const fallback = scope.outboundTrafficPolicy === "REGISTRY_ONLY" ? BLACKHOLE : PASSTHROUGH;
  return {
    name: "virtualOutbound",
    address: socketAddress("0.0.0.0", 15001),
    trafficDirection: TrafficDirection.OUTBOUND,
    useOriginalDst: true,
    listenerFilters: [{ name: FILTER.originalDst, typedConfig: packAny(TYPE.originalDst, OriginalDst, {}) }],
    // As istiod: connections straight to 15001 (not redirected from another port) go nowhere; everything
    // no other listener takes goes to the outbound traffic policy's cluster.
    filterChains: [
      {
        name: "virtualOutbound-blackhole",
        filterChainMatch: { destinationPort: 15001 },
        filters: [tcpProxyFilter(BLACKHOLE, BLACKHOLE)],
      },
      { name: "virtualOutbound-catchall-tcp", filters: [tcpProxyFilter(fallback, fallback)] },
    ],
  };
}

interface InboundPort {
  readonly port: number;
  readonly protocol: string;
  /** Sidecar ingress: where the application listens (`127.0.0.1:8080`), and the address to bind. */
  readonly endpoint?: string;
  readonly bind?: string;
  readonly explicit: boolean;
  /** The workload's PeerAuthentication mode on this port. */
  readonly mtls: MtlsMode;
}

/** The ports the workload serves: its Sidecar's ingress listeners, else its services' target ports. */
function inboundPortsOf(mesh: Mesh, proxy: MeshProxy, scope: SidecarScope): InboundPort[] {
  const mtls = (port: number) => workloadMtlsMode(mesh, proxy.namespace, proxy.labels, port);
  if (scope.ingress.length > 0)
    return scope.ingress.map((i) => ({
      port: i.port.number,
      protocol: parseProtocol(i.port.protocol),
      endpoint: i.defaultEndpoint ?? `127.0.0.1:${i.port.number}`,
      ...(i.bind !== undefined || i.captureMode === "NONE" ? { bind: i.bind ?? "0.0.0.0" } : {}),
      explicit: true,
      mtls: mtls(i.port.number),
    }));
  if (!proxy.workload) return [];
  const byPort = new Map<number, InboundPort>();
  for (const service of mesh.registry.servicesOf(proxy.workload))
    for (const port of service.ports) {
      const target =
        service.registry === "ServiceEntry"
          ? (proxy.workload.ports.find((p) => p.name === port.name)?.port ??
            (typeof port.targetPort === "number" ? port.targetPort : port.port))
          : resolveTargetPort(port, proxy.workload.ports);
      if (target !== undefined && !byPort.has(target))
        byPort.set(target, { port: target, protocol: port.protocol, explicit: false, mtls: mtls(target) });
    }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}

const tlsInspector = () => ({ name: FILTER.tlsInspector, typedConfig: packAny(TYPE.tlsInspector, TlsInspector, {}) });

/**
 * The inbound side: per port an inbound cluster and filter chains by the port's mTLS mode (a TLS chain that
 * requires a mesh client certificate, a plaintext chain, or both), on `virtualInbound` or on the port's own
 * listener (Sidecar ingress with bind / captureMode NONE).
 */
function sidecarInbound(
  mesh: Mesh,
  scope: SidecarScope,
  ports: readonly InboundPort[],
): { Listener: Listener[]; Cluster: Cluster[] } {
  const clusters: Cluster[] = [];
  const listeners: Listener[] = [];
  const chains: NonNullable<Listener["filterChains"]> = [];
  for (const p of ports) {
    const cluster = `inbound|${p.port}||`;
    const endpoint = p.endpoint ? parseEndpoint(p.endpoint) : undefined;
    clusters.push(inboundCluster(p.port, endpoint));
    const http = isHttpProtocol(p.protocol as never);
    const filters = http
      ? [
          hcmFilter({
            statPrefix: `inbound_0.0.0.0_${p.port}`,
            routeConfig: inboundRouteConfig(p.port, cluster),
            forwardClientCert: true,
          }),
        ]
      : [tcpProxyFilter(cluster, cluster)];
    const portChains = inboundChainMatches(p.mtls, http).map((m) => ({
      name: `0.0.0.0_${p.port}`,
      filterChainMatch: {
        ...(p.bind === undefined ? { destinationPort: p.port } : {}),
        transportProtocol: m.transportProtocol,
        ...(m.applicationProtocols ? { applicationProtocols: m.applicationProtocols } : {}),
      },
      // A TLS chain that does not terminate (TCP PERMISSIVE, plain TLS) hands the stream through unchanged.
      filters,
      ...(m.tls ? { transportSocket: inboundMtlsTransportSocket(mesh, http) } : {}),
    }));
    if (p.bind !== undefined) {
      listeners.push({
        name: `${p.bind}_${p.port}`,
        address: socketAddress(p.bind, p.port),
        trafficDirection: TrafficDirection.INBOUND,
        ...(p.mtls !== "DISABLE" ? { listenerFilters: [tlsInspector()] } : {}),
        filterChains: portChains,
      });
    } else {
      chains.push(...portChains);
    }
  }
  if (!capturesNothing(scope))
    listeners.push({
      name: "virtualInbound",
      address: socketAddress("0.0.0.0", 15006),
      trafficDirection: TrafficDirection.INBOUND,
      useOriginalDst: true,
      listenerFilters: [
        { name: FILTER.originalDst, typedConfig: packAny(TYPE.originalDst, OriginalDst, {}) },
        tlsInspector(),
      ],
      filterChains: chains,
      defaultFilterChain: {
        name: "InboundPassthroughFilterChain",
        filters: [tcpProxyFilter(INBOUND_PASSTHROUGH, INBOUND_PASSTHROUGH)],
      },
    });
  return { Listener: listeners, Cluster: clusters };
}

function parseEndpoint(endpoint: string): { address: string; port: number } | undefined {
  const colon = endpoint.lastIndexOf(":");
  if (colon < 0 || endpoint.startsWith("unix://")) return undefined;
  const address = endpoint.slice(0, colon);
  return { address: address === "0.0.0.0" ? "127.0.0.1" : address, port: Number(endpoint.slice(colon + 1)) };
}

/** Inbound routes are inline: everything to the local application's cluster. */
function inboundRouteConfig(port: number, cluster: string): RouteConfiguration {
  const route = defaultRoute(cluster);
  if (route.route) {
    delete route.route.retryPolicy;
    delete route.route.maxGrpcTimeout;
    route.route.maxStreamDuration = {
      maxStreamDuration: { seconds: 0, nanos: 0 },
      grpcTimeoutHeaderMax: { seconds: 0, nanos: 0 },
    };
  }
  route.decorator = { operation: `:${port}/*` };
  return {
    name: cluster,
    virtualHosts: [{ name: `inbound|http|${port}`, domains: ["*"], routes: [route] }],
    validateClusters: false,
  };
}
