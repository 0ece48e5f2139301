// simulate(): where Envoy sends a request, given xDS resources — listener, filter chain, HTTP
// connection manager, route configuration, virtual host, route, action — with the reasons for each step.
import {
  HttpConnectionManager,
  type Listener,
  protoJsonFromBinary,
  type RouteConfiguration,
  XdsKitError,
} from "@xdskit/core";
import { isAnyAddress } from "./ip.js";
import { findFilterChain, findListener, listenerAddresses } from "./listener.js";
import { type NormalizedRequest, normalizeRequest, type SimulationRequest } from "./request.js";
import { indexResources, type ResourceIndex, type SimulationInput, simulationResourcesOf } from "./resources.js";
import type { SimulatedAction, SimulationResult, TraceLine, WeightedClusterShare } from "./result.js";
import {
  describeMatch,
  findVirtualHost,
  matchRoute,
  pickWeighted,
  portStart,
  requireTlsRedirect,
  routeAction,
} from "./route-table.js";

const HCM_NAME = "envoy.filters.network.http_connection_manager";
const HCM_TYPE = ".http_connection_manager.v3.HttpConnectionManager";
const TCP_PROXY_NAME = "envoy.filters.network.tcp_proxy";
const TCP_PROXY_TYPE = ".tcp_proxy.v3.TcpProxy";
const quote = (value: string) => JSON.stringify(value);

/** What the HTTP connection manager does to the request before routing (ports, trailing dot, slashes). */
function applyConnectionManager(request: NormalizedRequest, hcm: HttpConnectionManager, trace: TraceLine[]) {
  let authority = request.authority;
  if (hcm.stripTrailingHostDot) {
    const port = portStart(authority);
    const host = port >= 0 ? authority.slice(0, port) : authority;
    if (host.endsWith(".")) authority = host.slice(0, -1) + (port >= 0 ? authority.slice(port) : "");
  }
  const port = portStart(authority);
  if (port >= 0) {
    const value = Number(authority.slice(port + 1));
    if (hcm.stripAnyHostPort || (hcm.stripMatchingHostPort && value === request.destination.port))
      authority = authority.slice(0, port);
  }
  let path = request.path;
  if (hcm.mergeSlashes) {
    const q = path.search(/[?#]/);
    const head = q < 0 ? path : path.slice(0, q);
    path = head.replace(/\/{2,}/g, "/") + (q < 0 ? "" : path.slice(q));
  }
  if (authority === request.authority && path === request.path) return request;
  trace.push({
    stage: "filter-chain",
    text: `the connection manager rewrote the request to ${quote(authority)} ${quote(path)} before routing`,
  });
  const headers = new Map(request.headers);
  headers.set(":authority", [authority]);
  headers.set(":path", [path]);
  return { ...request, authority, path, headers };
}

/** The route configuration an HCM uses: RDS by name, or inline. */
function routeConfigurationOf(
  hcm: HttpConnectionManager,
  index: ResourceIndex,
): { config: RouteConfiguration | undefined; name: string; inline: boolean; problem?: string } {
  if (hcm.routeConfig) return { config: hcm.routeConfig, name: hcm.routeConfig.name ?? "", inline: true };
  if (hcm.rds) {
    const name = hcm.rds.routeConfigName ?? "";
    const config = index.routes.get(name);
    return config
      ? { config, name, inline: false }
      : {
          config: undefined,
          name,
          inline: false,
          problem: `RDS route configuration ${quote(name)} is not among the resources`,
        };
  }
  if (hcm.scopedRoutes)
    return { config: undefined, name: "", inline: false, problem: "scoped routes (SRDS) are not simulated" };
  return { config: undefined, name: "", inline: false, problem: "the connection manager has no route configuration" };
}

/** Routes `request` through one RouteConfiguration (the part after the listener). */
function routeThrough(
  config: RouteConfiguration,
  request: NormalizedRequest,
  index: ResourceIndex,
  hcm: HttpConnectionManager | undefined,
  result: SimulationResult,
): void {
  const { trace, warnings } = result;
  if (request.path.includes("#")) {
    // Envoy's connection manager refuses a :path with a fragment before any routing.
    trace.push({ stage: "route-configuration", text: `the path ${quote(request.path)} has a fragment: 400` });
    result.action = { kind: "local-reply", status: 400, reason: "path with a fragment" };
    return;
  }
  const choice = findVirtualHost(config, request.authority);
  if (!choice) {
    trace.push({ stage: "virtual-host", text: `no virtual host matches host ${quote(request.authority)}: 404` });
    result.action = { kind: "local-reply", status: 404, reason: `no virtual host for ${quote(request.authority)}` };
    return;
  }
  result.virtualHost = {
    name: choice.vhost.name ?? "",
    index: choice.index,
    domain: choice.domain,
    config: choice.vhost,
  };
  trace.push({
    stage: "virtual-host",
    text: `virtual host #${choice.index} ${quote(choice.vhost.name ?? "")} via domain ${quote(choice.domain)} (${choice.why})`,
  });
  const tls = requireTlsRedirect(choice.vhost, request);
  if (tls) {
    trace.push({ stage: "action", text: "the virtual host requires TLS: redirect to https" });
    result.action = tls;
    return;
  }
  if (choice.vhost.matcher) {
    trace.push({ stage: "route", text: "the virtual host routes with a matcher tree, which is not simulated" });
    result.action = { kind: "unsupported", reason: "virtual host matcher (unified matcher API)" };
    return;
  }
  const routes = choice.vhost.routes ?? [];
  for (const [i, route] of routes.entries()) {
    const verdict = matchRoute(route, request, config, warnings);
    const label = `route #${i}${route.name ? ` ${quote(route.name)}` : ""} (${describeMatch(route.match)})`;
    trace.push({
      stage: "route",
      matched: verdict.matched,
      text: `${label}: ${verdict.matched ? "matches" : "no"} — ${verdict.reason}`,
    });
    if (!verdict.matched) continue;
    result.route = { name: route.name ?? "", index: i, config: route };
    result.action = routeAction({
      config,
      vhost: choice.vhost,
      route,
      request,
      matchedLength: verdict.matchedLength,
      hcm,
      clusterExists: index.clusters ? (name) => index.clusters?.has(name) === true : undefined,
      warnings,
      trace,
    });
    return;
  }
  trace.push({ stage: "route", text: `no route of ${quote(choice.vhost.name ?? "")} matches: 404` });
  result.action = { kind: "local-reply", status: 404, reason: "no route matched" };
}

/** A TCP proxy's destination: cluster or weighted clusters. */
function tcpProxyAction(typedConfig: { value?: Uint8Array }, request: NormalizedRequest): SimulatedAction {
  const json = protoJsonFromBinary(
    "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
    typedConfig.value ?? new Uint8Array(),
  ) as { cluster?: string; weightedClusters?: { clusters?: Array<{ name?: string; weight?: number }> } };
  if (json.cluster !== undefined) return { kind: "tcp-proxy", cluster: json.cluster };
  const shares: WeightedClusterShare[] = (json.weightedClusters?.clusters ?? []).map((c) => ({
    name: c.name ?? "",
    weight: c.weight ?? 0,
  }));
  return { kind: "tcp-proxy", cluster: pickWeighted(shares, request.randomValue).name, weightedClusters: shares };
}

function pickListener(
  index: ResourceIndex,
  request: NormalizedRequest,
  result: SimulationResult,
): Listener | undefined {
  if (request.listener !== undefined) {
    const listener = index.listeners.find((l) => l.name === request.listener);
    if (!listener)
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `simulate: no listener named ${quote(request.listener)} among the resources`,
      );
    result.trace.push({ stage: "listener", text: `listener ${quote(request.listener)} (named in the request)` });
    return listener;
  }
  const found = findListener(index.listeners, request.destination);
  const target = `${request.destination.address}:${request.destination.port}`;
  if (!found) {
    result.trace.push({ stage: "listener", text: `no listener takes connections to ${target}` });
    return undefined;
  }
  result.trace.push({
    stage: "listener",
    text: `listener ${quote(found.listener.name ?? "")} for ${target} (${found.reason})`,
  });
  return found.listener;
}

/**
 * Where Envoy sends `request`, given xDS `resources` (core messages by kind, a Snapshot, or
 * resourcesFromConfigDump()). The listener is chosen by `request.listener`, else by destination address
 * and port; `request.routeConfiguration` (or resources with route configurations and no listener) skips
 * the listener. Bad arguments throw XdsKitError INVALID_ARGUMENT; configurations Envoy would reject are
 * not diagnosed (validate them first).
 */
export function simulate(resources: SimulationInput, request: SimulationRequest): SimulationResult {
  const index = indexResources(simulationResourcesOf(resources));
  const normalized = normalizeRequest(request);
  const result: SimulationResult = { action: { kind: "unsupported", reason: "not routed" }, trace: [], warnings: [] };

  const direct =
    normalized.routeConfiguration ??
    (normalized.listener === undefined && index.listeners.length === 0 && index.routes.size === 1
      ? [...index.routes.keys()][0]
      : undefined);
  if (direct !== undefined) {
    const config = index.routes.get(direct);
    if (!config)
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `simulate: no route configuration named ${quote(direct)} among the resources`,
      );
    result.routeConfiguration = { name: direct, inline: false };
    result.trace.push({ stage: "route-configuration", text: `route configuration ${quote(direct)}` });
    routeThrough(config, normalized, index, undefined, result);
    return result;
  }

  const listener = pickListener(index, normalized, result);
  if (!listener) {
    result.action = { kind: "connection-closed", reason: "no listener" };
    return result;
  }
  const bound = listenerAddresses(listener)[0];
  let connection = normalized;
  if (normalized.listener !== undefined && bound) {
    // A listener named in the request: the connection goes to its address unless the request says otherwise.
    const { address, port } = normalized.destinationGiven;
    const destination = {
      address:
        address || isAnyAddress(bound.address) || bound.address === "" ? normalized.destination.address : bound.address,
      port: port || bound.port === 0 ? normalized.destination.port : bound.port,
    };
    connection = { ...normalized, destination };
  }
  result.listener = { name: listener.name ?? "", ...(bound ? { address: bound.address, port: bound.port } : {}) };
  if (listener.filterChainMatcher) {
    result.trace.push({
      stage: "filter-chain",
      text: "the listener selects filter chains with a matcher tree, which is not simulated",
    });
    result.action = { kind: "unsupported", reason: "listener filter_chain_matcher" };
    return result;
  }
  const choice = findFilterChain(listener, connection);
  for (const step of choice.steps)
    result.trace.push({
      stage: "filter-chain",
      text: `${step.criterion} (${step.note}): chains [${step.remaining.join(", ")}] remain`,
    });
  if (!choice.chain || choice.index === undefined) {
    result.trace.push({ stage: "filter-chain", text: "no filter chain matches and there is no default filter chain" });
    result.action = { kind: "connection-closed", reason: "no filter chain" };
    return result;
  }
  result.filterChain = { index: choice.index, ...(choice.chain.name ? { name: choice.chain.name } : {}) };
  result.trace.push({
    stage: "filter-chain",
    text: `filter chain ${choice.index === "default" ? "default" : `#${choice.index}`}${choice.chain.name ? ` ${quote(choice.chain.name)}` : ""}`,
  });

  for (const filter of choice.chain.filters ?? []) {
    const typeUrl = filter.typedConfig?.typeUrl ?? "";
    if (filter.name === TCP_PROXY_NAME || typeUrl.endsWith(TCP_PROXY_TYPE)) {
      result.action = tcpProxyAction(filter.typedConfig ?? {}, connection);
      result.trace.push({
        stage: "action",
        text: `TCP proxy to ${result.action.kind === "tcp-proxy" ? quote(result.action.cluster ?? "a random cluster") : ""}`,
      });
      return result;
    }
    if (filter.name === HCM_NAME || typeUrl.endsWith(HCM_TYPE)) {
      const hcm = HttpConnectionManager.decode(filter.typedConfig?.value ?? new Uint8Array());
      const routed = applyConnectionManager(connection, hcm, result.trace);
      const route = routeConfigurationOf(hcm, index);
      if (!route.config) {
        result.trace.push({ stage: "route-configuration", text: route.problem ?? "no route configuration" });
        result.action = { kind: "unsupported", reason: route.problem ?? "no route configuration" };
        return result;
      }
      result.routeConfiguration = { name: route.name, inline: route.inline };
      result.trace.push({
        stage: "route-configuration",
        text: `route configuration ${quote(route.name)} (${route.inline ? "inline" : "RDS"})`,
      });
      routeThrough(route.config, routed, index, hcm, result);
      return result;
    }
  }
  result.trace.push({
    stage: "filter-chain",
    text: "the chain has neither an HTTP connection manager nor a TCP proxy",
  });
  result.action = { kind: "unsupported", reason: "no HTTP connection manager or TCP proxy in the filter chain" };
  return result;
}

/** The trace of a simulation as text a human can read: each stage, and why earlier routes did not match. */
export function explain(result: SimulationResult): string {
  const lines = result.trace.map((line) => {
    const mark = line.matched === undefined ? "  " : line.matched ? "✓ " : "✗ ";
    return `${line.stage.padEnd(19)} ${mark}${line.text}`;
  });
  lines.push(`${"result".padEnd(19)}   ${describeAction(result.action)}`);
  for (const warning of result.warnings) lines.push(`${"warning".padEnd(19)}   ${warning}`);
  return lines.join("\n");
}

/** An action in a few words ("cluster \"reviews-v2\"", "redirect 301 to https://..."). */
export function describeAction(action: SimulatedAction): string {
  switch (action.kind) {
    case "cluster":
      return `cluster ${action.cluster === undefined ? "(random pick)" : quote(action.cluster)}`;
    case "redirect":
      return `redirect ${action.status} to ${action.location}`;
    case "direct-response":
      return `direct response ${action.status}${action.body !== undefined ? ` ${quote(action.body)}` : ""}`;
    case "tcp-proxy":
      return `TCP proxy to ${action.cluster === undefined ? "(random pick)" : quote(action.cluster)}`;
    case "non-forwarding":
      return "non-forwarding";
    case "local-reply":
      return `local reply ${action.status} (${action.reason})`;
    case "connection-closed":
      return `connection closed (${action.reason})`;
    case "unsupported":
      return `not simulated: ${action.reason}`;
  }
}
