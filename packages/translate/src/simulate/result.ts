// What a simulation reports: where the request went at each stage and what Envoy does with it.
import type { JsonValue } from "@xdskit/core";
import type { RouteConfig, VirtualHostConfig } from "./matchers.js";

/** A cluster of a weighted_clusters action. */
export interface WeightedClusterShare {
  name: string;
  weight: number;
}

/** The effect of a route that forwards to a cluster. */
export interface ForwardAction {
  kind: "cluster";
  /**
   * The cluster the request goes to: the route's cluster, the value of its cluster_header, or the weighted
   * cluster that `randomValue` (or a split with a single non-zero weight) picks. Undefined when the pick
   * is random.
   */
  cluster: string | undefined;
  /** weighted_clusters in order, with their weights. */
  weightedClusters?: WeightedClusterShare[];
  /** :path sent upstream (after prefix_rewrite / regex_rewrite), query included. */
  path: string;
  /** :authority sent upstream (after host_rewrite_literal / host_rewrite_header / host_rewrite_path_regex). */
  host: string;
  /** The route's timeout in milliseconds: 15,000 when unset, 0 = no timeout. */
  timeoutMs: number;
  /** The retry policy in force (the route's, else the virtual host's), as proto3 JSON ("1s" durations). */
  retryPolicy?: JsonValue;
  /** The fault filter's per-route config in force (envoy.filters.http.fault), as proto3 JSON. */
  fault?: JsonValue;
  /** Request mirror policies in force (route, else virtual host, else route configuration). */
  mirrors?: Array<{ cluster: string; percent?: number }>;
  /** The CORS policy in force (route action, per-filter config, else virtual host), as proto3 JSON. */
  cors?: JsonValue;
}

/** What Envoy answers, or what happens to the connection. */
export type SimulatedAction =
  | ForwardAction
  | { kind: "redirect"; status: number; location: string }
  | { kind: "direct-response"; status: number; body?: string }
  | { kind: "tcp-proxy"; cluster: string | undefined; weightedClusters?: WeightedClusterShare[] }
  | { kind: "non-forwarding" }
  /** Envoy answers with a local reply: 404 no virtual host / no route, 503 unknown cluster. */
  | { kind: "local-reply"; status: number; reason: string }
  /** No listener or filter chain takes the connection: it is closed. */
  | { kind: "connection-closed"; reason: string }
  /** The configuration uses something the simulator does not model; `reason` says what. */
  | { kind: "unsupported"; reason: string };

/** One line of the trace explain() prints. */
export interface TraceLine {
  stage: "listener" | "filter-chain" | "route-configuration" | "virtual-host" | "route" | "action";
  /** For routes: whether this route matched. */
  matched?: boolean;
  text: string;
}

/** The outcome of {@link simulate}. */
export interface SimulationResult {
  listener?: { name: string; address?: string; port?: number };
  filterChain?: { index: number | "default"; name?: string };
  routeConfiguration?: { name: string; inline: boolean };
  virtualHost?: { name: string; index: number; domain: string; config: VirtualHostConfig };
  route?: { name: string; index: number; config: RouteConfig };
  action: SimulatedAction;
  /** Every decision in order, with the reasons (see explain()). */
  trace: TraceLine[];
  /** Things the result depends on that the simulator cannot know (random picks, runtime, metadata). */
  warnings: string[];
}
