import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration, Secret } from "@xdskit/core";

/**
 * What one proxy gets, by resource kind: exactly the `resources` argument `createSnapshot` takes. Proxies
 * with the same view get the same objects (arrays and messages), so a cache encodes them once.
 */
export type ProxyResources = {
  readonly Listener: readonly Listener[];
  readonly RouteConfiguration: readonly RouteConfiguration[];
  readonly Cluster: readonly Cluster[];
  readonly ClusterLoadAssignment: readonly ClusterLoadAssignment[];
  readonly Secret: readonly Secret[];
};

/** The resource kinds a proxy gets, in the order istiod pushes them. */
export const PROXY_RESOURCE_KINDS = [
  "Cluster",
  "ClusterLoadAssignment",
  "Listener",
  "RouteConfiguration",
  "Secret",
] as const;
