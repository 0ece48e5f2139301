// istio-config-validator's test files (github.com/getyourguide/istio-config-validator, docs/test-cases.md),
// read unchanged: `testCases`, each with request lists (every uri × authority × method is one request),
// wantMatch and Istio objects (route, redirect, rewrite, fault, headers, delegate) compared field by
// field with the VirtualService HTTP route the request matched. Which route matches is decided by the
// simulator on the proxy's Envoy config (Envoy's rules), not by the tool's own approximation.
import { type JsonValue, messageFromJson, messageToJson } from "@xdskit/core";
import {
  Delegate,
  Headers,
  HTTPFaultInjection,
  HTTPRedirect,
  HTTPRewrite,
  type HTTPRoute,
  HTTPRouteDestination,
} from "@xdskit/core/istio";
import { routeOrigin, type SimulationRequest } from "@xdskit/translate";
import { type Mismatch, type Outcome, type RouteTestCase, RouteTestFileError } from "./model.js";
import { deepEqual } from "./xdskit-format.js";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

const TEST_CASE_KEYS = [
  "description",
  "request",
  "route",
  "redirect",
  "rewrite",
  "fault",
  "headers",
  "delegate",
  "wantMatch",
];
const REQUEST_KEYS = ["authority", "method", "uri", "headers"];
const FIELDS = ["route", "redirect", "rewrite", "fault", "headers", "delegate"] as const;
type Field = (typeof FIELDS)[number];

// Each compared field as its Istio message, so defaults and spellings (camelCase or snake_case, "5s"
// durations) compare as the decoded objects do.
const MESSAGES = {
  route: ["istio.networking.v1alpha3.HTTPRouteDestination", HTTPRouteDestination],
  redirect: ["istio.networking.v1alpha3.HTTPRedirect", HTTPRedirect],
  rewrite: ["istio.networking.v1alpha3.HTTPRewrite", HTTPRewrite],
  fault: ["istio.networking.v1alpha3.HTTPFaultInjection", HTTPFaultInjection],
  headers: ["istio.networking.v1alpha3.Headers", Headers],
  delegate: ["istio.networking.v1alpha3.Delegate", Delegate],
} as const;

export function isIcvTests(doc: unknown): boolean {
  return isObject(doc) && "testCases" in doc;
}

function normalizeMessage(field: Field, message: unknown): JsonValue {
  const [name, codec] = MESSAGES[field];
  return messageToJson(name, codec as never, message as never);
}

function decodeExpected(field: Field, value: unknown, where: string): JsonValue {
  const [name, codec] = MESSAGES[field];
  const one = (json: unknown, at: string) => {
    try {
      return messageToJson(name, codec as never, messageFromJson(name, codec as never, json as JsonValue) as never);
    } catch (error) {
      throw new RouteTestFileError(`${at}: ${(error as Error).message.replace(/^[\w.()]+ from JSON: /, "")}`);
    }
  };
  if (field === "route") {
    if (!Array.isArray(value)) throw new RouteTestFileError(`${where}: expected a list of HTTPRouteDestination`);
    return value.map((v, i) => one(v, `${where}[${i}]`));
  }
  return one(value, where);
}

function stringList(value: unknown, where: string, what: string): string[] {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0))
    throw new RouteTestFileError(`${where}: ${what} list is empty`);
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw new RouteTestFileError(`${where}: expected a list of strings`);
  return value as string[];
}

/** The fields of the matched HTTP route, as istio-config-validator compares them ({} when none matched). */
function actualOf(outcome: Outcome, field: Field): JsonValue | undefined {
  const route = outcome.result.route?.config;
  const origin = route ? routeOrigin(route) : undefined;
  if (field === "delegate") {
    const d = origin?.delegate;
    return d ? normalizeMessage("delegate", { name: d.name, namespace: d.namespace ?? "" }) : undefined;
  }
  const http: HTTPRoute | undefined = origin?.http;
  if (field === "route") {
    const list = http?.route ?? [];
    return list.length === 0 ? undefined : list.map((d) => normalizeMessage("route", d));
  }
  const value = http?.[field];
  return value === undefined ? undefined : normalizeMessage(field, value);
}

/** Parses one YAML document of testCases; `file` names it in errors. */
export function parseIcvTests(doc: Json, file: string, warn: (text: string) => void): RouteTestCase[] {
  for (const key of Object.keys(doc))
    if (key !== "testCases") warn(`${file}: ${key}: not an istio-config-validator field (ignored)`);
  if (doc.testCases === null || doc.testCases === undefined) return [];
  if (!Array.isArray(doc.testCases)) throw new RouteTestFileError(`${file}: testCases: expected a list`);
  return doc.testCases.map((tc, i) => {
    const where = `${file}: testCases[${i}]`;
    if (!isObject(tc)) throw new RouteTestFileError(`${where}: expected a mapping`);
    const name = typeof tc.description === "string" && tc.description !== "" ? tc.description : `testCases[${i}]`;
    for (const key of Object.keys(tc))
      if (!TEST_CASE_KEYS.includes(key)) warn(`${where}.${key}: not an istio-config-validator field (ignored)`);
    if (!isObject(tc.request))
      throw new RouteTestFileError(`${where}.request: expected authority, method and uri lists`);
    const request = tc.request;
    for (const key of Object.keys(request))
      if (!REQUEST_KEYS.includes(key))
        throw new RouteTestFileError(
          `${where}.request.${key}: not supported (istio-config-validator requests have authority, method, uri, headers)`,
        );
    const authorities = stringList(request.authority, `${where}.request.authority`, "authority");
    const methods = stringList(request.method, `${where}.request.method`, "method");
    const uris = stringList(request.uri, `${where}.request.uri`, "URI");
    const headers: Record<string, string> = {};
    if (request.headers !== undefined && request.headers !== null) {
      if (!isObject(request.headers))
        throw new RouteTestFileError(`${where}.request.headers: expected a mapping of header name to value`);
      for (const [k, v] of Object.entries(request.headers)) headers[k] = String(v);
    }
    if (tc.wantMatch !== undefined && typeof tc.wantMatch !== "boolean")
      throw new RouteTestFileError(`${where}.wantMatch: expected true or false`);
    // Go's zero value: a test case without wantMatch expects the fields NOT to match.
    const wantMatch = tc.wantMatch === true;
    const expected = new Map<Field, JsonValue>();
    for (const field of FIELDS)
      if (tc[field] !== undefined && tc[field] !== null)
        expected.set(field, decodeExpected(field, tc[field], `${where}.${field}`));
    // The tool's order: every uri, then every authority, then every method.
    const requests: SimulationRequest[] = [];
    for (const uri of uris)
      for (const authority of authorities)
        for (const method of methods) {
          if (!uri.startsWith("/"))
            throw new RouteTestFileError(`${where}.request.uri: ${JSON.stringify(uri)} must start with "/"`);
          requests.push({ authority, path: uri, method, headers });
        }
    return {
      name,
      file,
      format: "istio-config-validator" as const,
      requests: requests.map((r) => ({
        request: r,
        check: (outcome: Outcome): Mismatch[] => {
          const out: Mismatch[] = [];
          for (const [field, wanted] of expected) {
            const actual = actualOf(outcome, field);
            if (deepEqual(actual, wanted) !== wantMatch)
              out.push({ field, expected: wanted, actual: actual ?? null, wantMatch });
          }
          return out;
        },
      })),
    };
  });
}
