// Runs route test cases against one proxy's xDS resources with the simulator, and measures which routes
// the tests exercise.
import type { RouteConfiguration } from "@xdskit/core";
import {
  describeAction,
  expectRoute,
  explain,
  type SimulationRequest,
  type SimulationResources,
  type SimulationResult,
  simulationResourcesOf,
} from "@xdskit/translate";
import { type Mismatch, type Outcome, type RouteTestCase, RouteTestUnsupported } from "./model.js";

export interface RunOptions {
  /** The listener address requests arrive at (a Sidecar's egress bind); default: the listener on the port. */
  readonly address?: string;
  /** The listener port when the authority names none; default: the proxy's only HTTP port, else 80. */
  readonly port?: number;
}

export interface RequestReport {
  /** "GET http://host/path [header: value]". */
  readonly request: string;
  readonly passed: boolean;
  /** Set when the check could not run (something the simulator does not model). */
  readonly error?: string;
  readonly mismatches: readonly Mismatch[];
  readonly matched: { routeConfiguration?: string; virtualHost?: string; route?: string };
  /** Where the request went, in a few words. */
  readonly action: string;
  /** explain()'s trace: every step and why earlier routes did not match (failures only). */
  readonly trace?: string;
}

export interface CaseReport {
  readonly name: string;
  readonly file: string;
  readonly format: RouteTestCase["format"];
  readonly status: "passed" | "failed" | "error";
  readonly requests: readonly RequestReport[];
  readonly durationMs: number;
}

export interface RouteRef {
  readonly virtualHost: string;
  readonly index: number;
  readonly name: string;
}

export interface CoverageReport {
  readonly total: number;
  readonly covered: number;
  /** 100 when there is no route at all. */
  readonly percent: number;
  /** Per route configuration the tests routed through: its routes, and those no request matched. */
  readonly routeConfigurations: ReadonlyArray<{
    name: string;
    total: number;
    covered: number;
    uncovered: readonly RouteRef[];
  }>;
}

export interface RunReport {
  readonly cases: readonly CaseReport[];
  readonly coverage: CoverageReport;
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  readonly requests: number;
}

/** "GET http://host/path [name: value; ...]". */
export function describeRequest(request: SimulationRequest): string {
  const target = request.url ?? `${request.scheme ?? "http"}://${request.authority ?? ""}${request.path ?? "/"}`;
  const headers = Object.entries(request.headers ?? {})
    .filter(([name]) => name !== "x-forwarded-proto")
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(", ") : value}`)
    .join("; ");
  return `${request.method ?? "GET"} ${target}${headers ? ` [${headers}]` : ""}`;
}

/**
 * The route table as router_check_tool evaluates runtime fractions: only the routes of the test's runtime
 * key can match (a numerator of 0 made 1, so random_value 0 enables them); every other fraction is off.
 */
function withRouterCheckRuntime(resources: SimulationResources, runtime: string): SimulationResources {
  const routes = (resources.routes ?? []).map((config) => {
    const copy = structuredClone(config);
    for (const vhost of copy.virtualHosts ?? [])
      for (const route of vhost.routes ?? []) {
        const runtimeFraction = route.match?.runtimeFraction;
        if (!runtimeFraction) continue;
        runtimeFraction.defaultValue ??= { numerator: 0, denominator: 0 };
        const fraction = runtimeFraction.defaultValue;
        fraction.numerator =
          runtime !== "" && runtimeFraction.runtimeKey === runtime ? Math.max(fraction.numerator ?? 0, 1) : 0;
      }
    return copy;
  });
  return { ...resources, routes };
}

type HeaderOption = NonNullable<RouteConfiguration["requestHeadersToAdd"]>[number];
interface HeaderLevel {
  requestHeadersToAdd?: readonly HeaderOption[];
  requestHeadersToRemove?: readonly string[];
  responseHeadersToAdd?: readonly HeaderOption[];
  responseHeadersToRemove?: readonly string[];
}

/** A header value with Envoy's %% escape resolved; a %FORMATTER% cannot be simulated. */
const usesFormatter = (value: string) => /%[A-Z_]+(\(|%)/.test(value.replace(/%%/g, ""));

/** Headers some of which hold a %FORMATTER% value: reading one of those is a check the simulator cannot make. */
export class SimulatedHeaders extends Map<string, string[]> {
  readonly formatted = new Map<string, string>();
  override get(name: string): string[] | undefined {
    const value = this.formatted.get(name);
    if (value !== undefined)
      throw new RouteTestUnsupported(
        `header ${name}: ${JSON.stringify(value)} uses a formatter, which is not simulated`,
      );
    return super.get(name);
  }
}

/** Envoy's header operations of one level: removals, then additions by append action. */
function applyLevel(
  headers: SimulatedHeaders,
  add: readonly HeaderOption[] | undefined,
  remove: readonly string[] | undefined,
) {
  for (const name of remove ?? []) {
    headers.delete(name.toLowerCase());
    headers.formatted.delete(name.toLowerCase());
  }
  for (const option of add ?? []) {
    const name = (option.header?.key ?? "").toLowerCase();
    const raw = option.header?.value ?? "";
    if (usesFormatter(raw)) {
      headers.formatted.set(name, raw);
      continue;
    }
    const value = raw.replace(/%%/g, "%");
    if (value === "" && !option.keepEmptyValue) continue;
    const legacy = option.append as unknown;
    // The deprecated `append` (a BoolValue) wins when set: true appends, false overwrites.
    const action =
      legacy !== undefined && legacy !== null
        ? (typeof legacy === "object" ? (legacy as { value?: boolean }).value : legacy)
          ? 0
          : 2
        : (option.appendAction ?? 0);
    if (action === 2 || (action === 3 && headers.formatted.has(name))) headers.formatted.delete(name);
    if (headers.formatted.has(name)) continue; // appended to a value the simulator does not know
    const existing = headers.get(name);
    if (action === 0) headers.set(name, [...(existing ?? []), value]);
    else if (action === 1) {
      if (!existing) headers.set(name, [value]);
    } else if (action === 2) headers.set(name, [value]);
    else if (action === 3 && existing) headers.set(name, [value]);
  }
}

/** The header parsers of a matched route, in the order Envoy evaluates them (the last one wins). */
function levelsOf(result: SimulationResult, config: RouteConfiguration | undefined): HeaderLevel[] {
  const levels: HeaderLevel[] = [
    (result.route?.config ?? {}) as HeaderLevel,
    (result.virtualHost?.config ?? {}) as HeaderLevel,
    (config ?? {}) as HeaderLevel,
  ];
  return config?.mostSpecificHeaderMutationsWins ? levels.reverse() : levels;
}

function requestHeaderMap(request: SimulationRequest): SimulatedHeaders {
  const url = request.url ? new URL(request.url) : undefined;
  const scheme = request.scheme ?? (url ? url.protocol.slice(0, -1) : "http");
  const headers = new SimulatedHeaders([
    [":method", [request.method ?? "GET"]],
    [":scheme", [scheme]],
    [":authority", [request.authority ?? url?.host ?? ""]],
    [":path", [request.path ?? (url ? `${url.pathname}${url.search}` : "/")]],
  ]);
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower === "host") headers.set(":authority", [String(value)]);
    else headers.set(lower, [...(headers.get(lower) ?? []), ...(typeof value === "string" ? [value] : value)]);
  }
  if (!headers.has("x-forwarded-proto")) headers.set("x-forwarded-proto", [scheme]);
  return headers;
}

function outcomeOf(
  resources: SimulationResources,
  request: SimulationRequest,
  routes: ReadonlyMap<string, RouteConfiguration>,
): Outcome {
  const assertion = expectRoute(resources, request);
  const { result } = assertion;
  const config = result.routeConfiguration ? routes.get(result.routeConfiguration.name) : undefined;
  return {
    request,
    result,
    expectRoute: (fields) => void assertion.toGo(fields),
    requestHeaders() {
      const headers = requestHeaderMap(request);
      if (result.action.kind === "cluster") {
        headers.set(":path", [result.action.path]);
        headers.set(":authority", [result.action.host]);
      }
      // Envoy adds request headers only when it forwards (a route with a route action).
      if (result.route?.config.route)
        for (const level of levelsOf(result, config))
          applyLevel(headers, level.requestHeadersToAdd, level.requestHeadersToRemove);
      return headers;
    },
    responseHeaders(extra) {
      const headers = new SimulatedHeaders();
      for (const [name, value] of extra) headers.set(name.toLowerCase(), [...(headers.get(name) ?? []), value]);
      if (result.route)
        for (const level of levelsOf(result, config))
          applyLevel(headers, level.responseHeadersToAdd, level.responseHeadersToRemove);
      return headers;
    },
  };
}

// core.v3.TrafficDirection.
const INBOUND = 1;
const OUTBOUND = 2;

/** Ports of the listeners that route HTTP (they have a route configuration), for the default port. */
function httpPorts(resources: SimulationResources): number[] {
  const ports = new Set<number>();
  for (const listener of resources.listeners ?? []) {
    if (listener.trafficDirection === INBOUND) continue;
    const port = listener.address?.socketAddress?.portValue;
    if (!port || port === 15001 || port === 15006) continue;
    ports.add(port);
  }
  return [...ports];
}

/** Where a test request is sent: its port (URL's or authority's, else the default) and that port's listener. */
function targeted(
  request: SimulationRequest,
  resources: SimulationResources,
  options: RunOptions,
  fallbackPort: number,
): SimulationRequest {
  let port = request.port;
  let authority = request.authority ?? "";
  if (request.url !== undefined && URL.canParse(request.url)) authority = new URL(request.url).host;
  const colon = authority.lastIndexOf(":");
  if (port === undefined && colon >= 0 && colon > authority.lastIndexOf("]")) {
    const value = Number(authority.slice(colon + 1));
    if (Number.isInteger(value)) port = value;
  }
  port ??= fallbackPort;
  const address = request.address ?? options.address;
  if (address !== undefined) return { ...request, port, address };
  let onPort = (resources.listeners ?? []).filter((l) => l.address?.socketAddress?.portValue === port);
  // Requests leave the proxy: a sidecar's outbound listener, not its inbound one on the same port.
  if (onPort.length > 1) onPort = onPort.filter((l) => l.trafficDirection === OUTBOUND);
  return onPort.length === 1 ? { ...request, port, listener: onPort[0]?.name ?? "" } : { ...request, port };
}

/** The trace without the filter chain matcher's every step (the chain chosen is kept). */
function withShortTrace(result: SimulationResult): SimulationResult {
  const chains = result.trace.filter((line) => line.stage === "filter-chain");
  const last = chains[chains.length - 1];
  return { ...result, trace: result.trace.filter((line) => line.stage !== "filter-chain" || line === last) };
}

function routeLabel(result: SimulationResult): string | undefined {
  if (!result.route) return undefined;
  return result.route.name ? result.route.name : `#${result.route.index}`;
}

/** Runs every case against `input` (one proxy's resources). */
export function runRouteTests(
  cases: readonly RouteTestCase[],
  input: Parameters<typeof simulationResourcesOf>[0],
  options: RunOptions = {},
  onCase?: (report: CaseReport, index: number) => void,
): RunReport {
  const resources = simulationResourcesOf(input);
  const byRuntime = new Map<string, SimulationResources>();
  const routes = new Map((resources.routes ?? []).map((r) => [r.name ?? "", r]));
  const ports = httpPorts(resources);
  const fallbackPort = options.port ?? (ports.length === 1 ? (ports[0] as number) : 80);
  const covered = new Set<string>();
  const reached = new Set<string>();
  const reports: CaseReport[] = [];
  for (const [caseIndex, testCase] of cases.entries()) {
    const started = performance.now();
    const requests: RequestReport[] = [];
    for (const item of testCase.requests) {
      let use = resources;
      if (item.routerCheckRuntime !== undefined) {
        const runtime = item.routerCheckRuntime;
        use = byRuntime.get(runtime) ?? withRouterCheckRuntime(resources, runtime);
        byRuntime.set(runtime, use);
      }
      const request = targeted(item.request, use, options, fallbackPort);
      const outcome = outcomeOf(use, request, routes);
      const { result } = outcome;
      if (result.routeConfiguration && !result.routeConfiguration.inline) {
        reached.add(result.routeConfiguration.name);
        if (result.route && result.virtualHost)
          covered.add(`${result.routeConfiguration.name}\u0000${result.virtualHost.index}\u0000${result.route.index}`);
      }
      let mismatches: Mismatch[] = [];
      let error: string | undefined;
      try {
        mismatches = item.check(outcome);
      } catch (e) {
        if (!(e instanceof RouteTestUnsupported)) throw e;
        error = e.message;
      }
      const passed = error === undefined && mismatches.length === 0;
      const route = routeLabel(result);
      requests.push({
        request: describeRequest(item.request),
        passed,
        ...(error !== undefined ? { error } : {}),
        mismatches,
        matched: {
          ...(result.routeConfiguration ? { routeConfiguration: result.routeConfiguration.name } : {}),
          ...(result.virtualHost ? { virtualHost: result.virtualHost.name } : {}),
          ...(route !== undefined ? { route } : {}),
        },
        action: describeAction(result.action),
        ...(passed ? {} : { trace: explain(withShortTrace(result)) }),
      });
    }
    const status = requests.some((r) => r.error !== undefined)
      ? "error"
      : requests.every((r) => r.passed)
        ? "passed"
        : "failed";
    const report: CaseReport = {
      name: testCase.name,
      file: testCase.file,
      format: testCase.format,
      status,
      requests,
      durationMs: performance.now() - started,
    };
    reports.push(report);
    onCase?.(report, caseIndex);
  }
  return {
    cases: reports,
    coverage: coverageOf(resources, reached, covered),
    passed: reports.filter((r) => r.status === "passed").length,
    failed: reports.filter((r) => r.status === "failed").length,
    errors: reports.filter((r) => r.status === "error").length,
    requests: reports.reduce((n, r) => n + r.requests.length, 0),
  };
}

function coverageOf(resources: SimulationResources, reached: Set<string>, covered: Set<string>): CoverageReport {
  const routeConfigurations: Array<CoverageReport["routeConfigurations"][number]> = [];
  for (const config of resources.routes ?? []) {
    const name = config.name ?? "";
    if (!reached.has(name)) continue;
    let total = 0;
    let hit = 0;
    const uncovered: RouteRef[] = [];
    for (const [v, vhost] of (config.virtualHosts ?? []).entries())
      for (const [r, route] of (vhost.routes ?? []).entries()) {
        total++;
        if (covered.has(`${name}\u0000${v}\u0000${r}`)) hit++;
        else uncovered.push({ virtualHost: vhost.name ?? "", index: r, name: route.name ?? "" });
      }
    routeConfigurations.push({ name, total, covered: hit, uncovered });
  }
  const total = routeConfigurations.reduce((n, c) => n + c.total, 0);
  const hit = routeConfigurations.reduce((n, c) => n + c.covered, 0);
  return { total, covered: hit, percent: total === 0 ? 100 : (hit * 100) / total, routeConfigurations };
}
