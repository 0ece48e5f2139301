// xdskit's own route test format (docs/cli.md, "xdskit test"): `tests`, each a name, one request (or
// several) and the fields expected of where it goes — expectRoute()'s fields plus status, fault and
// request headers.
import {
  ROUTE_EXPECTATION_FIELDS,
  type RouteExpectation,
  RouteExpectationError,
  type SimulationRequest,
  type SimulationResult,
} from "@xdskit/translate";
import { type Mismatch, type Outcome, type RouteTestCase, RouteTestFileError } from "./model.js";

const REQUEST_KEYS = ["url", "authority", "path", "method", "scheme", "headers", "port", "address", "randomValue"];
const ROUTE_KEYS: readonly string[] = ROUTE_EXPECTATION_FIELDS;
const EXTRA_KEYS = ["status", "fault", "requestHeaders"];
const TEST_KEYS = ["name", "request", "requests", "expect"];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export function isXdskitTests(doc: unknown): boolean {
  return (
    isObject(doc) &&
    Array.isArray(doc.tests) &&
    doc.tests.some((t) => isObject(t) && ("expect" in t || "request" in t || "requests" in t))
  );
}

/** The status Envoy answers itself with: a redirect, a direct response or a local reply; else undefined. */
export function statusOf(result: SimulationResult): number | undefined {
  const a = result.action;
  return a.kind === "redirect" || a.kind === "direct-response" || a.kind === "local-reply" ? a.status : undefined;
}

const DENOMINATOR: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

function percentOf(percentage: unknown): number {
  const p = isObject(percentage) ? percentage : {};
  const denominator = DENOMINATOR[String(p.denominator ?? "HUNDRED")] ?? 100;
  return (Number(p.numerator ?? 0) * 100) / denominator;
}

/** The fault filter config in force, in a few plain fields: abort status and delay, each with its percent. */
export function faultOf(result: SimulationResult): Json | null {
  if (result.action.kind !== "cluster" || !isObject(result.action.fault)) return null;
  const fault = result.action.fault;
  const out: Json = {};
  if (isObject(fault.abort))
    out.abort = {
      ...(fault.abort.httpStatus !== undefined ? { httpStatus: fault.abort.httpStatus } : {}),
      ...(fault.abort.grpcStatus !== undefined ? { grpcStatus: fault.abort.grpcStatus } : {}),
      percent: percentOf(fault.abort.percentage),
    };
  if (isObject(fault.delay))
    out.delay = { fixedDelay: fault.delay.fixedDelay, percent: percentOf(fault.delay.percentage) };
  return out;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b))
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
}

function parseRequest(value: unknown, where: string): SimulationRequest {
  if (!isObject(value)) throw new RouteTestFileError(`${where}: expected a mapping (url, method, headers...)`);
  for (const key of Object.keys(value))
    if (!REQUEST_KEYS.includes(key))
      throw new RouteTestFileError(`${where}.${key}: unknown field; known: ${REQUEST_KEYS.join(", ")}`);
  if (value.url === undefined && value.authority === undefined)
    throw new RouteTestFileError(`${where}: give url, or authority (and path)`);
  return value as SimulationRequest;
}

/** Parses a document of xdskit's format; `file` names it in errors. */
export function parseXdskitTests(doc: Json, file: string): RouteTestCase[] {
  for (const key of Object.keys(doc))
    if (key !== "tests") throw new RouteTestFileError(`${file}: ${key}: unknown top-level field; expected tests`);
  return (doc.tests as unknown[]).map((test, i) => {
    const where = `${file}: tests[${i}]`;
    if (!isObject(test)) throw new RouteTestFileError(`${where}: expected a mapping with name, request and expect`);
    for (const key of Object.keys(test))
      if (!TEST_KEYS.includes(key))
        throw new RouteTestFileError(`${where}.${key}: unknown field; known: ${TEST_KEYS.join(", ")}`);
    if (typeof test.name !== "string" || test.name === "")
      throw new RouteTestFileError(`${where}.name: give the test a name`);
    const named = `${file}: test "${test.name}"`;
    if ((test.request === undefined) === (test.requests === undefined))
      throw new RouteTestFileError(`${named}: give request, or requests (a list)`);
    const requests =
      test.requests !== undefined
        ? Array.isArray(test.requests) && test.requests.length > 0
          ? test.requests.map((r, j) => parseRequest(r, `${named}.requests[${j}]`))
          : (() => {
              throw new RouteTestFileError(`${named}.requests: expected a non-empty list`);
            })()
        : [parseRequest(test.request, `${named}.request`)];
    if (!isObject(test.expect) || Object.keys(test.expect).length === 0)
      throw new RouteTestFileError(`${named}.expect: give at least one field to expect`);
    const expect = test.expect;
    for (const key of Object.keys(expect))
      if (!ROUTE_KEYS.includes(key) && !EXTRA_KEYS.includes(key))
        throw new RouteTestFileError(
          `${named}.expect.${key}: unknown field; known: ${[...ROUTE_KEYS, ...EXTRA_KEYS].join(", ")}`,
        );
    if (expect.status !== undefined && !Number.isInteger(expect.status))
      throw new RouteTestFileError(`${named}.expect.status: expected an HTTP status code`);
    if (expect.requestHeaders !== undefined && !isObject(expect.requestHeaders))
      throw new RouteTestFileError(`${named}.expect.requestHeaders: expected a mapping of header name to value`);
    const routeFields = Object.fromEntries(Object.entries(expect).filter(([k]) => ROUTE_KEYS.includes(k)));
    return {
      name: test.name,
      file,
      format: "xdskit" as const,
      requests: requests.map((request) => ({
        request,
        check: (outcome: Outcome) => checkXdskit(outcome, expect, routeFields as RouteExpectation),
      })),
    };
  });
}

function checkXdskit(outcome: Outcome, expect: Json, routeFields: RouteExpectation): Mismatch[] {
  const out: Mismatch[] = [];
  if (Object.keys(routeFields).length > 0) {
    try {
      // expectRoute's comparison, on the outcome already simulated.
      outcome.expectRoute(routeFields);
    } catch (error) {
      if (!(error instanceof RouteExpectationError)) throw error;
      for (const key of Object.keys(error.expected))
        if (!deepEqual(error.expected[key], error.actual[key]))
          out.push({ field: key, expected: error.expected[key], actual: error.actual[key] ?? null });
    }
  }
  if (expect.status !== undefined) {
    const actual = statusOf(outcome.result) ?? null;
    if (actual !== expect.status) out.push({ field: "status", expected: expect.status, actual });
  }
  if (expect.fault !== undefined) {
    const actual = faultOf(outcome.result);
    if (!deepEqual(actual, expect.fault)) out.push({ field: "fault", expected: expect.fault, actual });
  }
  if (isObject(expect.requestHeaders)) {
    const headers = outcome.requestHeaders();
    for (const [name, wanted] of Object.entries(expect.requestHeaders)) {
      const actual = headers.get(name.toLowerCase())?.join(",") ?? null;
      if (actual !== (wanted === null ? null : String(wanted)))
        out.push({ field: `requestHeaders.${name}`, expected: wanted, actual });
    }
  }
  return out;
}
