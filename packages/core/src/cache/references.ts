// Names one resource makes a client subscribe to: used for warming (XDS-RULES R17).
import { type Cluster, Cluster_DiscoveryType } from "../gen/envoy/config/cluster/v3/cluster.js";
import type { Listener } from "../gen/envoy/config/listener/v3/listener.js";
import type { RouteConfiguration } from "../gen/envoy/config/route/v3/route.js";
import { HttpConnectionManager } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import { typeUrlOf } from "../resource-types.js";

const HCM_TYPE_URL = typeUrlOf("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");

// A raw resource this build cannot decode reads as undefined (PreparedResource.resource): it refers to nothing.

/** The ClusterLoadAssignment name an EDS cluster asks for, or undefined for other cluster types. */
export function edsNameOf(cluster: Cluster | undefined): string | undefined {
  if (!cluster || cluster.type !== Cluster_DiscoveryType.EDS) return undefined;
  return cluster.edsClusterConfig?.serviceName || cluster.name;
}

/** The RouteConfiguration names a listener's HTTP connection managers ask for over RDS. */
export function rdsNamesOf(listener: Listener | undefined): string[] {
  const names = new Set<string>();
  if (!listener) return [];
  const add = (value: Uint8Array | undefined, typeUrl: string | undefined) => {
    if (typeUrl !== HCM_TYPE_URL || !value) return;
    const name = HttpConnectionManager.decode(value).rds?.routeConfigName;
    if (name) names.add(name);
  };
  add(listener.apiListener?.apiListener?.value, listener.apiListener?.apiListener?.typeUrl);
  const chains = [
    ...(listener.filterChains ?? []),
    ...(listener.defaultFilterChain ? [listener.defaultFilterChain] : []),
  ];
  for (const chain of chains)
    for (const filter of chain.filters ?? []) add(filter.typedConfig?.value, filter.typedConfig?.typeUrl);
  return [...names];
}

/** The clusters a route configuration sends traffic to (single and weighted cluster actions). */
export function clusterNamesOf(route: RouteConfiguration | undefined): string[] {
  const names = new Set<string>();
  for (const vh of route?.virtualHosts ?? [])
    for (const r of vh.routes ?? []) {
      if (r.route?.cluster) names.add(r.route.cluster);
      for (const wc of r.route?.weightedClusters?.clusters ?? []) if (wc.name) names.add(wc.name);
    }
  return [...names];
}
