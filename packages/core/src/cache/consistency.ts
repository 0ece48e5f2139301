// Reference checks between the resources of one snapshot: what a client would wait for forever
// (a listener's RDS name with no RouteConfiguration, an EDS cluster with no endpoints, ...).
import type { Diagnostic } from "../diagnostics.js";
import type { Cluster } from "../gen/envoy/config/cluster/v3/cluster.js";
import { Cluster_DiscoveryType } from "../gen/envoy/config/cluster/v3/cluster.js";
import type { TransportSocket } from "../gen/envoy/config/core/v3/base.js";
import type { ConfigSource } from "../gen/envoy/config/core/v3/config_source.js";
import type { ClusterLoadAssignment } from "../gen/envoy/config/endpoint/v3/endpoint.js";
import type { Listener } from "../gen/envoy/config/listener/v3/listener.js";
import type { FilterChain } from "../gen/envoy/config/listener/v3/listener_components.js";
import type { RouteConfiguration } from "../gen/envoy/config/route/v3/route.js";
import type { VirtualHost } from "../gen/envoy/config/route/v3/route_components.js";
import { HttpConnectionManager } from "../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js";
import type { SdsSecretConfig } from "../gen/envoy/extensions/transport_sockets/tls/v3/secret.js";
import {
  type CommonTlsContext,
  DownstreamTlsContext,
  UpstreamTlsContext,
} from "../gen/envoy/extensions/transport_sockets/tls/v3/tls.js";
import { resourceTypes, typeUrlOf } from "../resource-types.js";
import type { Snapshot } from "./snapshot.js";

const HCM_TYPE_URL = typeUrlOf("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
const DOWNSTREAM_TLS_TYPE_URL = typeUrlOf("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext");
const UPSTREAM_TLS_TYPE_URL = typeUrlOf("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext");

interface Reference {
  readonly from: { kind: string; name: string; path: string };
  readonly name: string;
}

/** What `checkSnapshotConsistency` also checks. */
export interface ConsistencyOptions {
  /**
   * The snapshot is (also) served to proxyless gRPC clients (`@grpc/grpc-js-xds`, grpc-go, grpc-java): warn
   * about endpoints gRPC rejects or ignores where Envoy does not. Default false.
   */
  readonly grpcClients?: boolean;
}

/**
 * Checks that every name a resource references is in the snapshot: RDS names of listeners, EDS names of
 * clusters, clusters of routes, SDS secrets of listeners and clusters (those fetched from this control plane:
 * ADS or no config source). Types the snapshot does not hold are not checked (they may come from elsewhere).
 * With `grpcClients`, also warns about ClusterLoadAssignment localities gRPC clients cannot use.
 */
export function checkSnapshotConsistency(snapshot: Snapshot, options: ConsistencyOptions = {}): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const routeRefs: Reference[] = [];
  const edsRefs: Reference[] = [];
  const clusterRefs: Reference[] = [];
  const secretRefs: Reference[] = [];

  for (const [name, prepared] of snapshot.resourcesOf(resourceTypes.Listener.typeUrl)) {
    collectListenerRefs(name, (prepared.resource ?? {}) as Listener, routeRefs, clusterRefs, secretRefs);
  }
  for (const [name, prepared] of snapshot.resourcesOf(resourceTypes.Cluster.typeUrl)) {
    collectClusterRefs(name, (prepared.resource ?? {}) as Cluster, edsRefs, secretRefs);
  }
  for (const [name, prepared] of snapshot.resourcesOf(resourceTypes.RouteConfiguration.typeUrl)) {
    const route = (prepared.resource ?? {}) as RouteConfiguration;
    collectVirtualHostRefs("RouteConfiguration", name, "virtualHosts", route.virtualHosts ?? [], clusterRefs);
  }

  const check = (refs: Reference[], typeUrl: string, what: string) => {
    const entry = snapshot.entry(typeUrl);
    if (!entry) return;
    for (const ref of refs) {
      if (!entry.resources.has(ref.name))
        diagnostics.push({
          severity: "error",
          kind: ref.from.kind,
          name: ref.from.name,
          path: ref.from.path,
          message: `references ${what} "${ref.name}", which the snapshot does not contain`,
        });
    }
  };
  check(routeRefs, resourceTypes.RouteConfiguration.typeUrl, "RouteConfiguration");
  check(edsRefs, resourceTypes.ClusterLoadAssignment.typeUrl, "ClusterLoadAssignment");
  check(clusterRefs, resourceTypes.Cluster.typeUrl, "Cluster");
  check(secretRefs, resourceTypes.Secret.typeUrl, "Secret");
  if (options.grpcClients === true) {
    for (const [name, prepared] of snapshot.resourcesOf(resourceTypes.ClusterLoadAssignment.typeUrl))
      diagnostics.push(...grpcLocalityWarnings(name, prepared.resource as ClusterLoadAssignment));
  }
  return diagnostics;
}

/**
 * gRPC clients NACK a ClusterLoadAssignment with a locality-less entry in `endpoints` (grpc-js-xds:
 * "endpoints[0].locality unset") and skip a locality without `load_balancing_weight`; Envoy accepts both.
 */
function grpcLocalityWarnings(name: string, assignment: ClusterLoadAssignment): Diagnostic[] {
  const warnings: Diagnostic[] = [];
  const warn = (path: string, message: string) =>
    warnings.push({ severity: "warning", kind: "ClusterLoadAssignment", name, path, message });
  (assignment.endpoints ?? []).forEach((endpoints, i) => {
    if (!endpoints.locality)
      warn(
        `endpoints[${i}].locality`,
        'has no locality: gRPC clients reject the whole ClusterLoadAssignment (Envoy accepts it); set one, e.g. { region: "default" }',
      );
    else if (endpoints.loadBalancingWeight === undefined)
      warn(
        `endpoints[${i}].loadBalancingWeight`,
        "has no load balancing weight: gRPC clients ignore this locality's endpoints (Envoy uses them); set one, e.g. 1",
      );
  });
  return warnings;
}

function collectListenerRefs(
  name: string,
  listener: Listener,
  routeRefs: Reference[],
  clusterRefs: Reference[],
  secretRefs: Reference[],
): void {
  const chains: [FilterChain, string][] = (listener.filterChains ?? []).map((c, i) => [c, `filterChains[${i}]`]);
  if (listener.defaultFilterChain) chains.push([listener.defaultFilterChain, "defaultFilterChain"]);
  const apiHcm = listener.apiListener?.apiListener;
  if (apiHcm?.typeUrl === HCM_TYPE_URL && apiHcm.value)
    collectHcmRefs(name, "apiListener.apiListener", HttpConnectionManager.decode(apiHcm.value), routeRefs, clusterRefs);
  for (const [chain, chainPath] of chains) {
    (chain.filters ?? []).forEach((filter, i) => {
      const typed = filter.typedConfig;
      if (typed?.typeUrl === HCM_TYPE_URL && typed.value) {
        const hcm = HttpConnectionManager.decode(typed.value);
        collectHcmRefs(name, `${chainPath}.filters[${i}].typedConfig`, hcm, routeRefs, clusterRefs);
      }
    });
    collectTlsRefs("Listener", name, `${chainPath}.transportSocket`, chain.transportSocket, secretRefs);
  }
}

function collectHcmRefs(
  listener: string,
  path: string,
  hcm: HttpConnectionManager,
  routeRefs: Reference[],
  clusterRefs: Reference[],
): void {
  if (hcm.rds?.routeConfigName && isFromControlPlane(hcm.rds.configSource))
    routeRefs.push({
      from: { kind: "Listener", name: listener, path: `${path}.rds.routeConfigName` },
      name: hcm.rds.routeConfigName,
    });
  if (hcm.routeConfig)
    collectVirtualHostRefs(
      "Listener",
      listener,
      `${path}.routeConfig.virtualHosts`,
      hcm.routeConfig.virtualHosts ?? [],
      clusterRefs,
    );
}

function collectVirtualHostRefs(
  kind: string,
  name: string,
  basePath: string,
  virtualHosts: readonly VirtualHost[],
  clusterRefs: Reference[],
): void {
  virtualHosts.forEach((vh, v) => {
    (vh.routes ?? []).forEach((route, r) => {
      const path = `${basePath}[${v}].routes[${r}].route`;
      const action = route.route;
      if (!action) return;
      if (action.cluster) clusterRefs.push({ from: { kind, name, path: `${path}.cluster` }, name: action.cluster });
      (action.weightedClusters?.clusters ?? []).forEach((wc, w) => {
        if (wc.name)
          clusterRefs.push({
            from: { kind, name, path: `${path}.weightedClusters.clusters[${w}].name` },
            name: wc.name,
          });
      });
    });
  });
}

function collectClusterRefs(name: string, cluster: Cluster, edsRefs: Reference[], secretRefs: Reference[]): void {
  if (cluster.type === Cluster_DiscoveryType.EDS && isFromControlPlane(cluster.edsClusterConfig?.edsConfig)) {
    const serviceName = cluster.edsClusterConfig?.serviceName || name;
    edsRefs.push({ from: { kind: "Cluster", name, path: "edsClusterConfig.serviceName" }, name: serviceName });
  }
  collectTlsRefs("Cluster", name, "transportSocket", cluster.transportSocket, secretRefs);
  (cluster.transportSocketMatches ?? []).forEach((match, i) => {
    collectTlsRefs("Cluster", name, `transportSocketMatches[${i}].transportSocket`, match.transportSocket, secretRefs);
  });
}

function collectTlsRefs(
  kind: string,
  name: string,
  path: string,
  socket: TransportSocket | undefined,
  secretRefs: Reference[],
): void {
  const typed = socket?.typedConfig;
  if (!typed?.value) return;
  let common: CommonTlsContext | undefined;
  if (typed.typeUrl === DOWNSTREAM_TLS_TYPE_URL) common = DownstreamTlsContext.decode(typed.value).commonTlsContext;
  else if (typed.typeUrl === UPSTREAM_TLS_TYPE_URL) common = UpstreamTlsContext.decode(typed.value).commonTlsContext;
  if (!common) return;
  const base = `${path}.typedConfig.commonTlsContext`;
  const add = (config: SdsSecretConfig | undefined, at: string) => {
    if (config?.name && isFromControlPlane(config.sdsConfig))
      secretRefs.push({ from: { kind, name, path: `${base}.${at}` }, name: config.name });
  };
  (common.tlsCertificateSdsSecretConfigs ?? []).forEach((c, i) => {
    add(c, `tlsCertificateSdsSecretConfigs[${i}]`);
  });
  add(common.validationContextSdsSecretConfig, "validationContextSdsSecretConfig");
  add(
    common.combinedValidationContext?.validationContextSdsSecretConfig,
    "combinedValidationContext.validationContextSdsSecretConfig",
  );
}

/** A reference is served by this control plane when its config source is ADS or not given. */
function isFromControlPlane(source: ConfigSource | undefined): boolean {
  return source === undefined || source.ads !== undefined;
}
