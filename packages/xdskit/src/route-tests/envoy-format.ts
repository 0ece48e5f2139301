// Envoy's router_check_tool test files (docs: configuration/operations/tools/router_check), read unchanged:
// `{ tests: [...] }` or the older top-level list, each test a test_name, an input (authority, path, method,
// internal, random_value, ssl, additional request/response headers; also the older ":authority" spellings)
// and the fields to validate, with the tool's meaning of each ("" = no value expected).
import { type JsonValue, resourceFromJson, resourceTypes } from "@xdskit/core";
import { type HeaderMatcherConfig, matchHeader, type SimulationRequest } from "@xdskit/translate";
import { type Mismatch, type Outcome, type RouteTestCase, RouteTestFileError } from "./model.js";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

const INPUT_KEYS = [
  "authority",
  "path",
  "method",
  "internal",
  "random_value",
  "ssl",
  "runtime",
  "additional_request_headers",
  "additional_response_headers",
  "dynamic_metadata",
];
const VALIDATE_KEYS = [
  "cluster_name",
  "virtual_cluster_name",
  "virtual_host_name",
  "host_rewrite",
  "path_rewrite",
  "path_redirect",
  "code_redirect",
  "request_header_fields",
  "response_header_fields",
  "request_header_matches",
  "response_header_matches",
];
// The older JSON format's spellings, and proto3 JSON's camelCase.
const ALIASES: Record<string, string> = {
  ":authority": "authority",
  ":path": "path",
  ":method": "method",
  additional_headers: "additional_request_headers",
  header_fields: "request_header_fields",
};
const snake = (key: string) => ALIASES[key] ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function canonical(object: Json): Json {
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [snake(k), v]));
}

export function isEnvoyTests(doc: unknown): boolean {
  if (isObject(doc) && "runtime" in doc && "tests" in doc) return true;
  const tests = Array.isArray(doc) ? doc : isObject(doc) ? doc.tests : undefined;
  return Array.isArray(tests) && tests.some((t) => isObject(t) && ("test_name" in t || "testName" in t));
}

/** A HeaderMatcher written in proto3 JSON, decoded as Envoy's message (through a route, its home). */
function headerMatcher(json: unknown, where: string): HeaderMatcherConfig {
  try {
    const config = resourceFromJson(resourceTypes.RouteConfiguration, {
      virtual_hosts: [
        { name: "m", domains: ["*"], routes: [{ match: { prefix: "/", headers: [json as JsonValue] } }] },
      ],
    });
    return config.virtualHosts?.[0]?.routes?.[0]?.match?.headers?.[0] as HeaderMatcherConfig;
  } catch (error) {
    throw new RouteTestFileError(`${where}: not a HeaderMatcher: ${(error as Error).message}`);
  }
}

function headerPairs(value: unknown, where: string): Array<[string, string]> {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new RouteTestFileError(`${where}: expected a list of { key, value }`);
  return value.map((h, i) => {
    const key = isObject(h) ? (h.key ?? h.field) : undefined;
    if (typeof key !== "string" || !isObject(h) || typeof h.value !== "string")
      throw new RouteTestFileError(`${where}[${i}]: expected { key, value } strings`);
    return [key, h.value];
  });
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new RouteTestFileError(`${where}: expected a string`);
  return value;
}

/** Parses a router check tool test file (JSON or YAML, already parsed). */
export function parseEnvoyTests(doc: unknown, file: string): RouteTestCase[] {
  let tests: unknown[];
  if (Array.isArray(doc)) tests = doc;
  else {
    const root = doc as Json;
    // A top-level runtime sets loader limits (regex program sizes), which the simulator does not have.
    for (const key of Object.keys(root))
      if (key !== "tests" && key !== "runtime")
        throw new RouteTestFileError(`${file}: ${key}: unknown top-level field; expected tests (and runtime)`);
    tests = root.tests as unknown[];
  }
  return tests.map((raw, i) => {
    if (!isObject(raw)) throw new RouteTestFileError(`${file}: tests[${i}]: expected a mapping`);
    const test = canonical(raw);
    const name = optionalString(test.test_name, `${file}: tests[${i}].test_name`);
    if (!name) throw new RouteTestFileError(`${file}: tests[${i}].test_name: required`);
    const where = `${file}: test "${name}"`;
    for (const key of Object.keys(test))
      if (!["test_name", "input", "validate"].includes(key))
        throw new RouteTestFileError(`${where}.${key}: unknown field; expected test_name, input, validate`);
    if (!isObject(test.input)) throw new RouteTestFileError(`${where}.input: required (authority, path, method)`);
    if (!isObject(test.validate)) throw new RouteTestFileError(`${where}.validate: required`);
    const input = canonical(test.input);
    const validate = canonical(test.validate);
    for (const key of Object.keys(input))
      if (!INPUT_KEYS.includes(key))
        throw new RouteTestFileError(`${where}.input.${key}: unknown field; known: ${INPUT_KEYS.join(", ")}`);
    for (const key of Object.keys(validate))
      if (!VALIDATE_KEYS.includes(key))
        throw new RouteTestFileError(`${where}.validate.${key}: unknown field; known: ${VALIDATE_KEYS.join(", ")}`);
    if (Object.keys(validate).length === 0)
      throw new RouteTestFileError(`${where}.validate: give at least one field to check`);
    const runtime = optionalString(input.runtime, `${where}.input.runtime`) ?? "";
    if (input.dynamic_metadata !== undefined)
      throw new RouteTestFileError(`${where}.input.dynamic_metadata: dynamic metadata is not supported by xdskit test`);
    const authority = optionalString(input.authority, `${where}.input.authority`);
    const path = optionalString(input.path, `${where}.input.path`);
    if (authority === undefined || path === undefined)
      throw new RouteTestFileError(`${where}.input: authority and path are required`);
    const method = optionalString(input.method, `${where}.input.method`) ?? "GET";
    const randomValue = input.random_value === undefined ? 0 : Number(input.random_value);
    if (!Number.isSafeInteger(randomValue) || randomValue < 0)
      throw new RouteTestFileError(`${where}.input.random_value: expected a whole number >= 0`);
    const headers: Record<string, string[]> = {};
    for (const [k, v] of headerPairs(input.additional_request_headers, `${where}.input.additional_request_headers`))
      headers[k.toLowerCase()] = [...(headers[k.toLowerCase()] ?? []), v];
    if (input.internal === true) headers["x-envoy-internal"] = ["true"];
    const ssl = input.ssl === true;
    headers["x-forwarded-proto"] = [ssl ? "https" : "http"];
    const responseHeaders = headerPairs(
      input.additional_response_headers,
      `${where}.input.additional_response_headers`,
    );
    const request: SimulationRequest = {
      authority,
      path,
      method,
      scheme: ssl ? "https" : "http",
      headers,
      randomValue,
    };
    const strings: Array<[string, string | undefined]> = [
      "cluster_name",
      "virtual_cluster_name",
      "virtual_host_name",
      "host_rewrite",
      "path_rewrite",
      "path_redirect",
    ].map((k) => [k, optionalString(validate[k], `${where}.validate.${k}`)]);
    const codeRedirect = validate.code_redirect;
    if (codeRedirect !== undefined && !Number.isInteger(codeRedirect))
      throw new RouteTestFileError(`${where}.validate.code_redirect: expected an HTTP status code`);
    const fieldChecks = (kind: "request" | "response") =>
      headerPairs(validate[`${kind}_header_fields`], `${where}.validate.${kind}_header_fields`).map(
        ([name, value]) => ({ name, matcher: { name, stringMatch: { exact: value } } as HeaderMatcherConfig }),
      );
    const matchChecks = (kind: "request" | "response") => {
      const list = validate[`${kind}_header_matches`];
      if (list === undefined) return [];
      if (!Array.isArray(list))
        throw new RouteTestFileError(`${where}.validate.${kind}_header_matches: expected a list`);
      return list.map((m, j) => {
        const matcher = headerMatcher(m, `${where}.validate.${kind}_header_matches[${j}]`);
        return { name: matcher.name ?? "", matcher };
      });
    };
    const requestMatchers = [...fieldChecks("request"), ...matchChecks("request")];
    const responseMatchers = [...fieldChecks("response"), ...matchChecks("response")];
    return {
      name,
      file,
      format: "envoy-router-check" as const,
      requests: [
        {
          request,
          routerCheckRuntime: runtime,
          check: (outcome: Outcome) =>
            checkEnvoy(
              outcome,
              strings,
              codeRedirect as number | undefined,
              requestMatchers,
              responseMatchers,
              responseHeaders,
            ),
        },
      ],
    };
  });
}

interface HeaderCheck {
  name: string;
  matcher: HeaderMatcherConfig;
}

/** What router_check_tool reads for each field; "" where the route gives none. */
function actualField(outcome: Outcome, field: string): string {
  const { result } = outcome;
  const action = result.action;
  if (!result.route) return "";
  // The tool reads these of a route entry (a route that forwards) only; redirects and direct responses give "".
  const forwards = result.route.config.route !== undefined;
  if (!forwards && field !== "path_redirect") return "";
  switch (field) {
    case "cluster_name":
      // The route's cluster even when the simulator answers 503 for a cluster the proxy lacks (as the tool).
      if (action.kind === "local-reply") return result.route.config.route?.cluster ?? "";
      return action.kind === "cluster" ? (action.cluster ?? "") : "";
    case "virtual_host_name":
      return result.virtualHost?.name ?? "";
    case "virtual_cluster_name":
      return virtualClusterOf(outcome);
    case "host_rewrite":
      return action.kind === "cluster" ? (outcome.requestHeaders().get(":authority")?.[0] ?? "") : "";
    case "path_rewrite":
      return action.kind === "cluster" ? (outcome.requestHeaders().get(":path")?.[0] ?? "") : "";
    case "path_redirect":
      return action.kind === "redirect" ? action.location : "";
  }
  return "";
}

/** The vhost's first virtual cluster whose header matchers all match; "other" (Envoy's catch-all) if none does. */
function virtualClusterOf(outcome: Outcome): string {
  const clusters = outcome.result.virtualHost?.config.virtualClusters ?? [];
  if (clusters.length === 0) return "";
  const headers = outcome.requestHeaders();
  for (const vc of clusters)
    if ((vc.headers ?? []).every((m) => matchHeader(m as HeaderMatcherConfig, headers).matched)) return vc.name ?? "";
  return "other";
}

function checkEnvoy(
  outcome: Outcome,
  strings: Array<[string, string | undefined]>,
  codeRedirect: number | undefined,
  requestMatchers: HeaderCheck[],
  responseMatchers: HeaderCheck[],
  responseHeaders: ReadonlyArray<readonly [string, string]>,
): Mismatch[] {
  const out: Mismatch[] = [];
  for (const [field, wanted] of strings) {
    if (wanted === undefined) continue;
    const actual = actualField(outcome, field);
    if (actual !== wanted) out.push({ field, expected: wanted, actual });
  }
  if (codeRedirect !== undefined) {
    const a = outcome.result.action;
    const actual = a.kind === "redirect" || a.kind === "direct-response" ? a.status : 0;
    if (actual !== codeRedirect) out.push({ field: "code_redirect", expected: codeRedirect, actual });
  }
  const checkHeaders = (kind: string, checks: HeaderCheck[], headers: Map<string, string[]>) => {
    for (const { name, matcher } of checks) {
      const verdict = matchHeader(matcher, headers);
      if (!verdict.matched)
        out.push({
          field: `${kind}_header_matches.${name}`,
          expected: matcher,
          actual: headers.get(name.toLowerCase())?.join(",") ?? null,
        });
    }
  };
  if (requestMatchers.length > 0) checkHeaders("request", requestMatchers, outcome.requestHeaders());
  if (responseMatchers.length > 0) checkHeaders("response", responseMatchers, outcome.responseHeaders(responseHeaders));
  return out;
}
