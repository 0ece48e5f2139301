// The xDS resources a simulation reads, from any source: plain messages by kind, a core Snapshot,
// snapshot-style resources ({ Listener: [...] }), or an Envoy admin /config_dump.
import {
  type Cluster,
  type ClusterLoadAssignment,
  type JsonValue,
  type Listener,
  type ResourceType,
  type RouteConfiguration,
  resourceFromJson,
  resourceTypes,
  type Snapshot,
  XdsKitError,
} from "@xdskit/core";
import { opaqueUnknownAnys } from "./opaque-any.js";

/** Resources to simulate over, as core's generated message objects. */
export interface SimulationResources {
  listeners?: readonly Listener[];
  /** RouteConfigurations (RDS), looked up by name from listeners. */
  routes?: readonly RouteConfiguration[];
  /** Clusters; when given, a route to a cluster not among them answers 503 as in Envoy. */
  clusters?: readonly Cluster[];
  endpoints?: readonly ClusterLoadAssignment[];
}

/** What {@link simulate} accepts as resources. */
export type SimulationInput =
  | SimulationResources
  | Snapshot
  | {
      Listener?: readonly unknown[];
      RouteConfiguration?: readonly unknown[];
      Cluster?: readonly unknown[];
      ClusterLoadAssignment?: readonly unknown[];
    };

/** Resources indexed for lookups. */
export interface ResourceIndex {
  readonly listeners: readonly Listener[];
  readonly routes: ReadonlyMap<string, RouteConfiguration>;
  /** Undefined when no clusters were given (then cluster existence is not checked). */
  readonly clusters: ReadonlyMap<string, Cluster> | undefined;
}

const isSnapshot = (value: object): value is Snapshot =>
  typeof (value as Snapshot).resourcesOf === "function" && (value as Snapshot).types instanceof Map;

/** A PreparedResource carries its message in `resource`; plain messages are themselves. */
function messageOf<T>(item: unknown): T {
  if (typeof item === "object" && item !== null && "resource" in item && "bytes" in item)
    return (item as { resource: T }).resource;
  return item as T;
}

function listOf<T>(value: unknown, field: string): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new XdsKitError("INVALID_ARGUMENT", `simulate: resources.${field} must be an array`);
  return value.map((item, i) => {
    if (typeof item !== "object" || item === null)
      throw new XdsKitError("INVALID_ARGUMENT", `simulate: resources.${field}[${i}] must be a message object`);
    return messageOf<T>(item);
  });
}

/** Normalises any {@link SimulationInput} to plain messages by kind. */
export function simulationResourcesOf(input: SimulationInput): SimulationResources {
  if (typeof input !== "object" || input === null)
    throw new XdsKitError("INVALID_ARGUMENT", "simulate: resources must be an object (resources, a Snapshot, ...)");
  if (isSnapshot(input)) {
    const of = <T>(typeUrl: string) => [...input.resourcesOf(typeUrl).values()].map((p) => p.resource as T);
    return {
      listeners: of<Listener>(resourceTypes.Listener.typeUrl),
      routes: of<RouteConfiguration>(resourceTypes.RouteConfiguration.typeUrl),
      clusters: input.types.has(resourceTypes.Cluster.typeUrl) ? of<Cluster>(resourceTypes.Cluster.typeUrl) : undefined,
      endpoints: of<ClusterLoadAssignment>(resourceTypes.ClusterLoadAssignment.typeUrl),
    };
  }
  const byKind = input as Record<string, unknown>;
  if ("Listener" in byKind || "RouteConfiguration" in byKind || "Cluster" in byKind) {
    return {
      listeners: listOf<Listener>(byKind.Listener, "Listener"),
      routes: listOf<RouteConfiguration>(byKind.RouteConfiguration, "RouteConfiguration"),
      clusters: byKind.Cluster === undefined ? undefined : listOf<Cluster>(byKind.Cluster, "Cluster"),
      endpoints: listOf<ClusterLoadAssignment>(byKind.ClusterLoadAssignment, "ClusterLoadAssignment"),
    };
  }
  const plain = input as SimulationResources;
  return {
    listeners: listOf<Listener>(plain.listeners, "listeners"),
    routes: listOf<RouteConfiguration>(plain.routes, "routes"),
    clusters: plain.clusters === undefined ? undefined : listOf<Cluster>(plain.clusters, "clusters"),
    endpoints: listOf<ClusterLoadAssignment>(plain.endpoints, "endpoints"),
  };
}

/** Indexes resources by name. */
export function indexResources(resources: SimulationResources): ResourceIndex {
  const routes = new Map<string, RouteConfiguration>();
  for (const route of resources.routes ?? []) routes.set(route.name ?? "", route);
  const clusters = resources.clusters ? new Map<string, Cluster>() : undefined;
  for (const cluster of resources.clusters ?? []) clusters?.set(cluster.name ?? "", cluster);
  return { listeners: resources.listeners ?? [], routes, clusters };
}

type Json = { [key: string]: JsonValue };
const asObject = (value: JsonValue | undefined): Json =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
const asArray = (value: JsonValue | undefined): JsonValue[] => (Array.isArray(value) ? value : []);

/** Proto3 JSON with its "@type" dropped, decoded as `kind`; the error names where in the dump it was. */
function decode<T>(
  kind: "Listener" | "RouteConfiguration" | "Cluster" | "ClusterLoadAssignment",
  json: Json,
  at: string,
) {
  const { "@type": _type, ...fields } = json;
  try {
    return resourceFromJson(resourceTypes[kind] as ResourceType<unknown>, opaqueUnknownAnys(fields)) as T;
  } catch (cause) {
    throw new XdsKitError("INVALID_ARGUMENT", `config_dump ${at}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Resources from an Envoy admin `/config_dump` (parsed JSON; `?include_eds` adds endpoints): static and
 * dynamic listeners (active state), RDS route configurations, active clusters and endpoint configs.
 * Typed configs of types core has no schema for (Istio's own filters, say) are kept as opaque Structs,
 * so the rest of the dump still simulates.
 */
export function resourcesFromConfigDump(dump: unknown): SimulationResources {
  const root = asObject(dump as JsonValue);
  if (!Array.isArray(root.configs))
    throw new XdsKitError("INVALID_ARGUMENT", "config_dump: expected an object with a configs array");
  const listeners: Listener[] = [];
  const routes: RouteConfiguration[] = [];
  const clusters: Cluster[] = [];
  const endpoints: ClusterLoadAssignment[] = [];
  let sawClusters = false;
  for (const [i, entry] of asArray(root.configs).entries()) {
    const config = asObject(entry);
    const type = String(config["@type"] ?? "");
    if (type.endsWith(".ListenersConfigDump")) {
      for (const [j, l] of asArray(config.static_listeners ?? config.staticListeners).entries())
        listeners.push(decode(`Listener`, asObject(asObject(l).listener), `configs[${i}].static_listeners[${j}]`));
      for (const [j, l] of asArray(config.dynamic_listeners ?? config.dynamicListeners).entries()) {
        const active = asObject(asObject(l).active_state ?? asObject(l).activeState);
        if (active.listener)
          listeners.push(decode("Listener", asObject(active.listener), `configs[${i}].dynamic_listeners[${j}]`));
      }
    } else if (type.endsWith(".RoutesConfigDump")) {
      // Static route configurations in a dump are the inline ones, already inside their listeners.
      for (const key of ["dynamic_route_configs", "dynamicRouteConfigs"])
        for (const [j, r] of asArray(config[key]).entries()) {
          const route = asObject(asObject(r).route_config ?? asObject(r).routeConfig);
          routes.push(decode("RouteConfiguration", route, `configs[${i}].${key}[${j}]`));
        }
    } else if (type.endsWith(".ClustersConfigDump")) {
      sawClusters = true;
      for (const key of ["static_clusters", "dynamic_active_clusters", "staticClusters", "dynamicActiveClusters"])
        for (const [j, c] of asArray(config[key]).entries())
          clusters.push(decode("Cluster", asObject(asObject(c).cluster), `configs[${i}].${key}[${j}]`));
    } else if (type.endsWith(".EndpointsConfigDump")) {
      for (const key of ["static_endpoint_configs", "dynamic_endpoint_configs"])
        for (const [j, e] of asArray(config[key]).entries()) {
          const assignment = asObject(asObject(e).endpoint_config ?? asObject(e).endpointConfig);
          endpoints.push(decode("ClusterLoadAssignment", assignment, `configs[${i}].${key}[${j}]`));
        }
    }
  }
  return { listeners, routes, ...(sawClusters ? { clusters } : {}), endpoints };
}
