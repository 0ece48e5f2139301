// Gateway proxies (`router~...`): the Gateways selecting the proxy's labels, their servers merged per
// port into listeners — HTTP (RDS `http.<port>`), HTTPS SIMPLE/MUTUAL (a filter chain per server, SDS
// `kubernetes://<credentialName>`, RDS `https.<port>.<portName>.<gateway>.<namespace>`), TLS PASSTHROUGH
// (SNI routes of VirtualServices), AUTO_PASSTHROUGH (SNI `outbound_.<port>_.<subset>_.<host>`) and TCP.
import { DownstreamTlsContext, type Listener, packAny, type RouteConfiguration } from "@xdskit/core";
import { TlsInspector, TrafficDirection } from "@xdskit/core/extensions";
import { type Server, ServerTLSSettings_TLSmode } from "@xdskit/core/istio";
import type { ConfigObject } from "../config/model.js";
import { hostMatches, resolveHost } from "../index/hosts.js";
import type { Mesh } from "../index/mesh.js";
import { parseProtocol } from "../registry/protocol.js";
import { outboundClusterName } from "./clusters.js";
import { adsSource, FILTER, hcmFilter, socketAddress, TYPE, tcpProxyFilter } from "./envoy.js";
import { SDS_CERTIFICATE, SDS_ROOT_CA, sdsConfigSource } from "./mtls.js";
import { labelsKey, memoized, outboundClustersOf, routesDependOnLabels } from "./outbound.js";
import type { MeshProxy } from "./proxy.js";
import type { ProxyResources } from "./resources.js";
import { isCatchAll, type RouteContext, virtualServiceRoutes } from "./routes.js";

type VirtualHost = NonNullable<RouteConfiguration["virtualHosts"]>[number];
type FilterChain = NonNullable<Listener["filterChains"]>[number];

interface BoundServer {
  readonly server: Server;
  readonly gateway: string; // namespace/name
  readonly object: ConfigObject<"Gateway">;
  readonly index: number;
}

export function gatewayResources(mesh: Mesh, proxy: MeshProxy): ProxyResources {
  const gateways = mesh.gatewaysFor(proxy.labels);
  const labels = routesDependOnLabels(mesh) ? labelsKey(proxy.labels) : "";
  const key = `router|${proxy.namespace}|${gateways.map((g) => `${g.metadata.namespace}/${g.metadata.name}`).join(",")}|${labels}|${targetPortsKey(mesh, proxy)}`;
  return memoized(mesh, key, () => buildGateway(mesh, proxy, gateways));
}

/** Gateway server port → the listener port: a Service's targetPort when a Service of the gateway has that port. */
function targetPortOf(mesh: Mesh, proxy: MeshProxy, port: number): number {
  if (!proxy.workload) return port;
  for (const service of mesh.registry.servicesOf(proxy.workload)) {
    const p = service.ports.find((sp) => sp.port === port);
    if (p && typeof p.targetPort === "number") return p.targetPort;
  }
  return port;
}

function targetPortsKey(mesh: Mesh, proxy: MeshProxy): string {
  if (!proxy.workload) return "";
  return mesh.registry
    .servicesOf(proxy.workload)
    .map((s) => s.ports.map((p) => `${p.port}>${p.targetPort ?? ""}`).join("+"))
    .join(",");
}

function buildGateway(mesh: Mesh, proxy: MeshProxy, gateways: readonly ConfigObject<"Gateway">[]): ProxyResources {
  const byPort = new Map<number, BoundServer[]>();
  for (const object of gateways)
    (object.spec.servers ?? []).forEach((server, index) => {
      const number = server.port?.number;
      if (!number) return;
      const list = byPort.get(number) ?? [];
      list.push({ server, gateway: `${object.metadata.namespace}/${object.metadata.name}`, object, index });
      byPort.set(number, list);
    });
  const listeners: Listener[] = [];
  const routes: RouteConfiguration[] = [];
  for (const [port, servers] of [...byPort.entries()].sort((a, b) => a[0] - b[0])) {
    const chains: FilterChain[] = [];
    let tlsInspector = false;
    const plainHttp = servers.filter((b) => isPlainHttp(b.server));
    if (plainHttp.length > 0) {
      const name = `http.${port}`;
      routes.push(gatewayRouteConfig(mesh, proxy, name, port, plainHttp, false));
      chains.push({ filters: [hcmFilter({ statPrefix: `outbound_0.0.0.0_${port}`, rds: name })] });
    }
    for (const bound of servers) {
      const { server } = bound;
      const protocol = parseProtocol(server.port?.protocol);
      const mode = server.tls?.mode;
      const serverNames = sniHosts(server);
      if (
        (protocol === "HTTPS" || protocol === "HTTP" || protocol === "HTTP2" || protocol === "GRPC") &&
        server.tls &&
        terminatesTls(mode)
      ) {
        const name = `https.${port}.${server.port?.name ?? ""}.${bound.object.metadata.name}.${bound.object.metadata.namespace}`;
        routes.push(gatewayRouteConfig(mesh, proxy, name, port, [bound], true));
        tlsInspector = true;
        chains.push({
          filterChainMatch: serverNames.length > 0 ? { serverNames } : {},
          transportSocket: {
            name: FILTER.tls,
            typedConfig: packAny(TYPE.downstreamTls, DownstreamTlsContext, downstreamTls(mesh, bound)),
          },
          filters: [hcmFilter({ statPrefix: `outbound_0.0.0.0_${port}`, rds: name })],
        });
      } else if ((protocol === "TLS" || protocol === "HTTPS") && mode === ServerTLSSettings_TLSmode.AUTO_PASSTHROUGH) {
        tlsInspector = true;
        for (const service of mesh.servicesVisibleTo(proxy.namespace))
          for (const p of service.ports)
            for (const subset of [
              "",
              ...(mesh.destinationRule(proxy.namespace, service)?.subsets ?? []).map((s) => s.name ?? ""),
            ]) {
              if (serverNames.length > 0 && !serverNames.some((h) => hostMatches(h, service.hostname))) continue;
              const cluster = outboundClusterName(service.hostname, p.port, subset);
              chains.push({
                filterChainMatch: { serverNames: [`outbound_.${p.port}_.${subset || "_"}.${service.hostname}`] },
                filters: [tcpProxyFilter(cluster, cluster)],
              });
            }
      } else if (protocol === "TLS" || protocol === "HTTPS") {
        tlsInspector = true;
        chains.push(...tlsPassthroughChains(mesh, proxy, bound, port));
      } else if (protocol === "TCP" || protocol === "MONGO" || protocol === "REDIS" || protocol === "MYSQL") {
        const target = tcpGatewayTarget(mesh, proxy, bound, port);
        if (target) chains.push({ filters: [tcpProxyFilter(`outbound_0.0.0.0_${port}`, target)] });
      }
    }
    if (chains.length === 0) continue;
    const listenPort = targetPortOf(mesh, proxy, port);
    // Servers merged on one port share one listener; a server's `bind` picks its address.
    const bind = servers.find((b) => b.server.bind)?.server.bind ?? "0.0.0.0";
    listeners.push({
      name: `${bind}_${listenPort}`,
      address: socketAddress(bind, listenPort),
      trafficDirection: TrafficDirection.OUTBOUND,
      ...(tlsInspector
        ? {
            listenerFilters: [{ name: FILTER.tlsInspector, typedConfig: packAny(TYPE.tlsInspector, TlsInspector, {}) }],
          }
        : {}),
      filterChains: chains,
    });
  }
  const services = mesh
    .servicesVisibleTo(proxy.namespace)
    .filter((s, i, all) => all.findIndex((o) => o.hostname === s.hostname) === i);
  const { clusters, endpoints } = outboundClustersOf(mesh, proxy.namespace, services);
  return {
    Listener: listeners,
    RouteConfiguration: routes.sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : 1)),
    Cluster: [...clusters].sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : 1)),
    ClusterLoadAssignment: endpoints,
    Secret: [],
  };
}

function isPlainHttp(server: Server): boolean {
  const protocol = parseProtocol(server.port?.protocol);
  if (protocol !== "HTTP" && protocol !== "HTTP2" && protocol !== "GRPC") return false;
  return !server.tls || !terminatesTls(server.tls.mode);
}

/** SIMPLE and MUTUAL with the server's own certificate; ISTIO_MUTUAL with the mesh's (`default`, `ROOTCA`). */
function terminatesTls(mode: ServerTLSSettings_TLSmode | undefined): boolean {
  return (
    mode === ServerTLSSettings_TLSmode.SIMPLE ||
    mode === ServerTLSSettings_TLSmode.MUTUAL ||
    mode === ServerTLSSettings_TLSmode.ISTIO_MUTUAL
  );
}

/** Server hosts without their `namespace/` prefix; `*` means no SNI match. */
function sniHosts(server: Server): string[] {
  return (server.hosts ?? []).map((h) => (h.includes("/") ? h.slice(h.indexOf("/") + 1) : h)).filter((h) => h !== "*");
}

/** Server hosts that a VirtualService in `namespace` may bind to (`ns/host`, `./host`, `*\/host`). */
function serverHostsFor(server: Server, gatewayNamespace: string, vsNamespace: string): string[] {
  const out: string[] = [];
  for (const h of server.hosts ?? []) {
    const slash = h.indexOf("/");
    const ns = slash < 0 ? "*" : h.slice(0, slash);
    const host = (slash < 0 ? h : h.slice(slash + 1)).toLowerCase();
    if (ns === "*" || ns === vsNamespace || (ns === "." && vsNamespace === gatewayNamespace)) out.push(host);
  }
  return out;
}

/** Hosts in both sets: the more specific of each matching pair. */
function intersect(serverHosts: readonly string[], vsHosts: readonly string[]): string[] {
  const out = new Set<string>();
  for (const s of serverHosts)
    for (const v of vsHosts) {
      if (hostMatches(s, v)) out.add(v);
      else if (hostMatches(v, s)) out.add(s);
    }
  return [...out];
}

function gatewayRouteConfig(
  mesh: Mesh,
  proxy: MeshProxy,
  name: string,
  port: number,
  servers: readonly BoundServer[],
  tls: boolean,
): RouteConfiguration {
  const vhosts = new Map<string, VirtualHost>();
  for (const bound of servers) {
    const ctx: RouteContext = {
      mesh,
      namespace: proxy.namespace,
      labels: proxy.labels,
      gateways: new Set([bound.gateway]),
      tls,
    };
    for (const vs of mesh.virtualServicesFor(bound.gateway, proxy.namespace)) {
      const hosts = intersect(serverHostsFor(bound.server, bound.object.metadata.namespace, vs.namespace), vs.hosts);
      if (hosts.length === 0) continue;
      const routes = virtualServiceRoutes(ctx, vs, port);
      if (routes.length === 0) continue;
      for (const host of hosts) {
        const existing = vhosts.get(host);
        if (existing) existing.routes = [...(existing.routes ?? []), ...routes];
        else vhosts.set(host, { name: `${host}:${port}`, domains: [host], routes: [...routes] });
        if (bound.server.tls?.httpsRedirect) (vhosts.get(host) as VirtualHost).requireTls = 2; // ALL
      }
    }
    if (bound.server.tls?.httpsRedirect)
      for (const h of bound.server.hosts ?? []) {
        const host = (h.includes("/") ? h.slice(h.indexOf("/") + 1) : h).toLowerCase();
        const existing = vhosts.get(host);
        if (existing) existing.requireTls = 2;
        else vhosts.set(host, { name: `${host}:${port}`, domains: [host], requireTls: 2 });
      }
  }
  let virtualHosts = [...vhosts.values()];
  for (const vh of virtualHosts) {
    // Concatenated routes keep their order, catch-alls last (istiod's SortVHostRoutes).
    const routes = vh.routes ?? [];
    vh.routes = [...routes.filter((r) => !isCatchAll(r)), ...routes.filter((r) => isCatchAll(r))];
  }
  if (virtualHosts.length === 0) virtualHosts = [{ name: `blackhole:${port}`, domains: ["*"], routes: [] }];
  virtualHosts.sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : (a.name ?? "") > (b.name ?? "") ? 1 : 0));
  return { name, virtualHosts, validateClusters: false, ignorePortInHostMatching: true };
}

function downstreamTls(mesh: Mesh, bound: BoundServer): DownstreamTlsContext {
  const tls = bound.server.tls;
  const mutual = tls?.mode === ServerTLSSettings_TLSmode.MUTUAL;
  const sds = (name: string) => ({ name, sdsConfig: adsSource() });
  const common: NonNullable<DownstreamTlsContext["commonTlsContext"]> = {
    alpnProtocols: ["h2", "http/1.1"],
  };
  if (tls?.mode === ServerTLSSettings_TLSmode.ISTIO_MUTUAL) {
    // The gateway's own mesh identity; clients must present a mesh certificate (and one of the SANs, if listed).
    const meshSds = sdsConfigSource(mesh);
    common.tlsCertificateSdsSecretConfigs = [{ name: SDS_CERTIFICATE, sdsConfig: meshSds }];
    common.combinedValidationContext = {
      defaultValidationContext: { matchSubjectAltNames: (tls.subjectAltNames ?? []).map((san) => ({ exact: san })) },
      validationContextSdsSecretConfig: { name: SDS_ROOT_CA, sdsConfig: meshSds },
    };
    return { commonTlsContext: common, requireClientCertificate: true };
  }
  if (tls?.credentialName) {
    common.tlsCertificateSdsSecretConfigs = [sds(`kubernetes://${tls.credentialName}`)];
    if (mutual)
      common.combinedValidationContext = {
        defaultValidationContext: {},
        validationContextSdsSecretConfig: sds(`kubernetes://${tls.credentialName}-cacert`),
      };
  } else if (tls?.serverCertificate && tls.privateKey) {
    common.tlsCertificates = [
      { certificateChain: { filename: tls.serverCertificate }, privateKey: { filename: tls.privateKey } },
    ];
    if (mutual && tls.caCertificates) common.validationContext = { trustedCa: { filename: tls.caCertificates } };
  }
  return { commonTlsContext: common, ...(mutual ? { requireClientCertificate: true } : {}) };
}

/** PASSTHROUGH servers: a filter chain per SNI match of the VirtualServices' `tls` routes. */
function tlsPassthroughChains(mesh: Mesh, proxy: MeshProxy, bound: BoundServer, port: number): FilterChain[] {
  const chains: FilterChain[] = [];
  for (const vs of mesh.virtualServicesFor(bound.gateway, proxy.namespace)) {
    const hosts = intersect(serverHostsFor(bound.server, bound.object.metadata.namespace, vs.namespace), vs.hosts);
    if (hosts.length === 0) continue;
    for (const tls of vs.spec.tls ?? []) {
      const match = (tls.match ?? []).find((m) => !m.port || m.port === port);
      if (!match) continue;
      const sni = (match.sniHosts ?? hosts).filter((h) => h !== "*");
      const targets = (tls.route ?? []).map((r) => ({
        name: outboundClusterName(
          resolveHost(r.destination?.host ?? "", vs.namespace, mesh.options.domainSuffix),
          r.destination?.port?.number || port,
          r.destination?.subset ?? "",
        ),
        weight: r.weight ?? 0,
      }));
      if (targets.length === 0) continue;
      chains.push({
        filterChainMatch: sni.length > 0 ? { serverNames: sni } : {},
        filters: [
          tcpProxyFilter(
            `outbound_0.0.0.0_${port}`,
            targets.length === 1 ? (targets[0]?.name ?? "") : targets.filter((t) => t.weight > 0),
          ),
        ],
      });
    }
  }
  return chains;
}

function tcpGatewayTarget(mesh: Mesh, proxy: MeshProxy, bound: BoundServer, port: number) {
  for (const vs of mesh.virtualServicesFor(bound.gateway, proxy.namespace)) {
    if (intersect(serverHostsFor(bound.server, bound.object.metadata.namespace, vs.namespace), vs.hosts).length === 0)
      continue;
    for (const tcp of vs.spec.tcp ?? []) {
      if ((tcp.match ?? []).length > 0 && !(tcp.match ?? []).some((m) => !m.port || m.port === port)) continue;
      const targets = (tcp.route ?? []).map((r) => ({
        name: outboundClusterName(
          resolveHost(r.destination?.host ?? "", vs.namespace, mesh.options.domainSuffix),
          r.destination?.port?.number || port,
          r.destination?.subset ?? "",
        ),
        weight: r.weight ?? 0,
      }));
      if (targets.length === 1) return targets[0]?.name;
      if (targets.length > 1) return targets.filter((t) => t.weight > 0);
    }
  }
  return undefined;
}
