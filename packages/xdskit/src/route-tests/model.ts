// The common shape of route tests, whatever file format they were written in (xdskit's own, istio-config-
// validator's testCases, Envoy router_check_tool's tests): a named case, the requests it sends, and a check
// of where each request went.
import type { RouteExpectation, SimulationRequest, SimulationResult } from "@xdskit/translate";

export type RouteTestFormat = "xdskit" | "istio-config-validator" | "envoy-router-check";

/** One field that differs: what the test expected and what the proxy does. */
export interface Mismatch {
  readonly field: string;
  readonly expected: unknown;
  readonly actual: unknown;
  /** istio-config-validator's wantMatch: false means the values were expected to differ. */
  readonly wantMatch?: boolean;
}

/** What a check sees: the simulation and the request and response headers the proxy would send. */
export interface Outcome {
  readonly request: SimulationRequest;
  readonly result: SimulationResult;
  /** expectRoute()'s check of these fields on this outcome: throws RouteExpectationError on a difference. */
  expectRoute(fields: RouteExpectation): void;
  /** Request headers after the route (rewrites, request_headers_to_add/remove), lower-case names. */
  requestHeaders(): Map<string, string[]>;
  /** Response headers: the test's own plus the route's response_headers_to_add/remove. */
  responseHeaders(extra: ReadonlyArray<readonly [string, string]>): Map<string, string[]>;
}

/** One request of a test case and how to check its outcome. */
export interface RouteTestRequest {
  readonly request: SimulationRequest;
  /**
   * router_check_tool's runtime: a route with a runtime fraction matches only when its runtime key is this
   * one ("" = none) and random_value falls in its fraction (a numerator of 0 counting as 1).
   */
  readonly routerCheckRuntime?: string;
  /** Mismatches (none = pass). Throws RouteTestUnsupported for what cannot be checked. */
  check(outcome: Outcome): Mismatch[];
}

export interface RouteTestCase {
  readonly name: string;
  readonly file: string;
  readonly format: RouteTestFormat;
  readonly requests: readonly RouteTestRequest[];
}

/** A test file (or field) the runner cannot use: the message names file, test and field. */
export class RouteTestFileError extends Error {}

/** A check that needs something the simulator does not model; the test errors instead of passing. */
export class RouteTestUnsupported extends Error {}
