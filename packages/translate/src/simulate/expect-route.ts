// expectRoute(resources, request).toGo({...}): an assertion for unit tests of routing configs. It needs
// no test framework; a failure throws RouteExpectationError carrying `actual` and `expected` (which
// vitest and jest show as a diff) and a message with the whole explain() trace.
import { XdsKitError } from "@xdskit/core";
import type { SimulationRequest } from "./request.js";
import type { SimulationInput } from "./resources.js";
import type { SimulationResult } from "./result.js";
import { explain, simulate } from "./simulate.js";

/** Where a request is expected to go; only the fields given are compared. */
export interface RouteExpectation {
  /** The cluster the request is forwarded to (or a TCP proxy's cluster). */
  cluster?: string;
  /** Weighted clusters: name → weight, every one of them. */
  weightedClusters?: Record<string, number>;
  /** The matched route: its name, or its index in the virtual host. */
  route?: string | number;
  virtualHost?: string;
  routeConfiguration?: string;
  listener?: string;
  /** A redirect: the Location, or { status, location }. */
  redirect?: string | { status?: number; location?: string };
  /** A direct response: the status, or { status, body }. */
  directResponse?: number | { status?: number; body?: string };
  /** A local reply Envoy makes itself (404 no route or virtual host, 503 unknown cluster). */
  localReply?: number;
  /** :path sent upstream after rewrites. */
  path?: string;
  /** :authority sent upstream after rewrites. */
  host?: string;
  /** Route timeout in milliseconds. */
  timeoutMs?: number;
}

/** The fields a RouteExpectation may name, in the order mismatches are reported. */
export const ROUTE_EXPECTATION_FIELDS: ReadonlyArray<keyof RouteExpectation> = [
  "listener",
  "routeConfiguration",
  "virtualHost",
  "route",
  "cluster",
  "weightedClusters",
  "redirect",
  "directResponse",
  "localReply",
  "path",
  "host",
  "timeoutMs",
];

/** A failed route expectation; `actual` and `expected` hold the compared fields. */
export class RouteExpectationError extends Error {
  override readonly name = "RouteExpectationError";
  readonly showDiff = true;
  constructor(
    message: string,
    readonly actual: Record<string, unknown>,
    readonly expected: Record<string, unknown>,
    readonly result: SimulationResult,
  ) {
    super(message);
  }
}

/** The fields of `result` named in `expected`, shaped like the expectation. */
function observed(result: SimulationResult, expected: RouteExpectation): Record<string, unknown> {
  const { action } = result;
  const out: Record<string, unknown> = {};
  for (const key of ROUTE_EXPECTATION_FIELDS) {
    if (!(key in expected)) continue;
    const wanted = expected[key];
    switch (key) {
      case "listener":
        out[key] = result.listener?.name;
        break;
      case "routeConfiguration":
        out[key] = result.routeConfiguration?.name;
        break;
      case "virtualHost":
        out[key] = result.virtualHost?.name;
        break;
      case "route":
        out[key] = typeof wanted === "number" ? result.route?.index : result.route?.name;
        break;
      case "cluster":
        out[key] = action.kind === "cluster" || action.kind === "tcp-proxy" ? action.cluster : undefined;
        break;
      case "weightedClusters":
        out[key] =
          (action.kind === "cluster" || action.kind === "tcp-proxy") && action.weightedClusters
            ? Object.fromEntries(action.weightedClusters.map((s) => [s.name, s.weight]))
            : undefined;
        break;
      case "redirect":
        if (action.kind !== "redirect") out[key] = undefined;
        else if (typeof wanted === "string") out[key] = action.location;
        else
          out[key] = {
            ...(wanted && typeof wanted === "object" && "status" in wanted ? { status: action.status } : {}),
            ...(wanted && typeof wanted === "object" && "location" in wanted ? { location: action.location } : {}),
          };
        break;
      case "directResponse":
        if (action.kind !== "direct-response") out[key] = undefined;
        else if (typeof wanted === "number") out[key] = action.status;
        else
          out[key] = {
            ...(wanted && typeof wanted === "object" && "status" in wanted ? { status: action.status } : {}),
            ...(wanted && typeof wanted === "object" && "body" in wanted ? { body: action.body } : {}),
          };
        break;
      case "localReply":
        out[key] = action.kind === "local-reply" ? action.status : undefined;
        break;
      case "path":
        out[key] = action.kind === "cluster" ? action.path : undefined;
        break;
      case "host":
        out[key] = action.kind === "cluster" ? action.host : undefined;
        break;
      case "timeoutMs":
        out[key] = action.kind === "cluster" ? action.timeoutMs : undefined;
        break;
    }
  }
  return out;
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return (
    ka.length === kb.length &&
    ka.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

function describeRequest(request: SimulationRequest): string {
  const target = request.url ?? `${request.scheme ?? "http"}://${request.authority ?? ""}${request.path ?? "/"}`;
  const headers = Object.entries(request.headers ?? {})
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(", ") : value}`)
    .join("; ");
  return `${request.method ?? "GET"} ${target}${headers ? ` [${headers}]` : ""}`;
}

/** The object expectRoute returns. */
export interface RouteAssertion {
  /** The simulation's full result. */
  readonly result: SimulationResult;
  /** Asserts where the request goes; throws {@link RouteExpectationError} with a diff and the trace. */
  toGo(expected: RouteExpectation): SimulationResult;
}

/** Simulates `request` over `resources` and returns an assertion on where it goes. */
export function expectRoute(resources: SimulationInput, request: SimulationRequest): RouteAssertion {
  const result = simulate(resources, request);
  return {
    result,
    toGo(expected) {
      if (typeof expected !== "object" || expected === null || Object.keys(expected).length === 0)
        throw new XdsKitError("INVALID_ARGUMENT", "expectRoute().toGo: give at least one field to expect");
      const unknown = Object.keys(expected).filter(
        (k) => !ROUTE_EXPECTATION_FIELDS.includes(k as keyof RouteExpectation),
      );
      if (unknown.length > 0)
        throw new XdsKitError(
          "INVALID_ARGUMENT",
          `expectRoute().toGo: unknown field(s) ${unknown.join(", ")}; known: ${ROUTE_EXPECTATION_FIELDS.join(", ")}`,
        );
      const actual = observed(result, expected);
      const wanted = Object.fromEntries(
        ROUTE_EXPECTATION_FIELDS.filter((k) => k in expected).map((k) => [k, expected[k]]),
      );
      if (!equal(actual, wanted)) {
        const message = [
          `expected ${describeRequest(request)} to go to ${JSON.stringify(wanted)}`,
          `but it went to ${JSON.stringify(actual)}`,
          "",
          explain(result),
        ].join("\n");
        throw new RouteExpectationError(message, actual, wanted, result);
      }
      return result;
    },
  };
}
