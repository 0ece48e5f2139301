// Proxyless gRPC clients (node metadata GENERATOR=grpc): a client dialing `xds:///reviews:9080` asks LDS
// for `reviews:9080`; istiod answers with an api_listener whose HTTP connection manager takes its routes
// from RDS `outbound|9080||reviews.default.svc.cluster.local`, holding the virtual host of that service
// (VirtualService routes or the default route, domains with the port). Clusters and endpoints are the
// sidecar's, round robin where a sidecar would use least request.
import { HttpConnectionManager, type Listener, packAny, type RouteConfiguration, Router } from "@xdskit/core";
import { HTTPFault } from "@xdskit/core/extensions";
import type { Mesh } from "../index/mesh.js";
import { isHttpProtocol } from "../registry/protocol.js";
import { adsSource, FILTER, socketAddress, TYPE } from "./envoy.js";
import {
  labelsKey,
  memoized,
  outboundClustersOf,
  routesDependOnLabels,
  serviceDomains,
  sidecarVirtualHosts,
  visibleServices,
} from "./outbound.js";
import type { MeshProxy } from "./proxy.js";
import type { ProxyResources } from "./resources.js";
import type { RouteContext } from "./routes.js";

export function proxylessResources(mesh: Mesh, proxy: MeshProxy): ProxyResources {
  const scope = mesh.sidecarScope(proxy.namespace, proxy.labels);
  const labels = routesDependOnLabels(mesh) ? labelsKey(proxy.labels) : "";
  return memoized(mesh, `grpc|${proxy.namespace}|${scope.key}|${labels}`, () => {
    const services = visibleServices(mesh, proxy.namespace, scope);
    const { clusters, endpoints } = outboundClustersOf(mesh, proxy.namespace, services, { proxyless: true });
    const ctx: RouteContext = {
      mesh,
      namespace: proxy.namespace,
      labels: proxy.labels,
      gateways: new Set(["mesh"]),
      proxyless: true,
    };
    const listeners: Listener[] = [];
    const routes: RouteConfiguration[] = [];
    const virtualServices = mesh.virtualServicesFor("mesh", proxy.namespace);
    for (const service of services)
      for (const port of service.ports) {
        if (!isHttpProtocol(port.protocol)) continue;
        const routeName = `outbound|${port.port}||${service.hostname}`;
        const vsForService = virtualServices.filter((vs) =>
          vs.hosts.some(
            (h) => h === service.hostname || h === "*" || (h.startsWith("*") && service.hostname.endsWith(h.slice(1))),
          ),
        );
        routes.push({
          name: routeName,
          virtualHosts: sidecarVirtualHosts(mesh, ctx, [service], vsForService, port.port).filter(
            (vh) => vh.name === `${service.hostname}:${port.port}`,
          ),
        });
        const hcm = HttpConnectionManager.fromPartial({
          rds: { configSource: adsSource(), routeConfigName: routeName },
          httpFilters: [
            { name: FILTER.fault, typedConfig: packAny(TYPE.fault, HTTPFault, {}) },
            { name: FILTER.router, typedConfig: packAny(TYPE.router, Router, {}) },
          ],
        });
        // One listener per name a client may dial: host:port for every domain without the port.
        const names = serviceDomains(mesh, service, proxy.namespace, port.port).filter(
          (d) => !d.endsWith(".") && !service.addresses.includes(d),
        );
        for (const host of names)
          listeners.push({
            name: `${host}:${port.port}`,
            address: socketAddress(service.addresses[0] ?? "0.0.0.0", port.port),
            apiListener: { apiListener: packAny(TYPE.hcm, HttpConnectionManager, hcm) },
          });
      }
    return {
      Listener: listeners.sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : 1)),
      RouteConfiguration: routes,
      Cluster: clusters,
      ClusterLoadAssignment: endpoints,
      Secret: [],
    };
  });
}
