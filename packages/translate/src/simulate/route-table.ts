// A RouteConfiguration applied to one request as Envoy's router does it: the virtual host by domain
// precedence, the first route whose match holds, and the action with its rewrites and policies.
import {
  type Any,
  type HttpConnectionManager,
  type JsonValue,
  messageNameOf,
  protoJsonFromBinary,
  type RouteConfiguration,
  VirtualHost,
} from "@xdskit/core";
import {
  describeStringMatcher,
  type HeaderValues,
  headerValue,
  matchHeader,
  matchQueryParameter,
  queryParameters,
  type RouteConfig,
  type RouteMatchConfig,
  type VirtualHostConfig,
} from "./matchers.js";
import { ORIGINAL_TYPE_KEY, opaqueFields, typeUrlOf } from "./opaque-any.js";
import { re2FullMatch, re2ReplaceAll } from "./re2.js";
import type { NormalizedRequest } from "./request.js";
import type { ForwardAction, SimulatedAction, TraceLine, WeightedClusterShare } from "./result.js";

const quote = (value: string) => JSON.stringify(value);

/** Start of the port in a Host value ("host:80", "[::1]:80"), or -1 (Envoy's getPortStart). */
export function portStart(host: string): number {
  const colon = host.lastIndexOf(":");
  if (colon < 0) return -1;
  const v6End = host.lastIndexOf("]");
  if (v6End < 0 || v6End < colon) return colon + 1 > host.length ? -1 : colon;
  return -1;
}

/** Path without query and fragment (Envoy's removeQueryAndFragment). */
export function pathOnly(path: string): string {
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

// ---------------------------------------------------------------------------------------------------
// Virtual hosts

export interface VirtualHostChoice {
  vhost: VirtualHostConfig;
  index: number;
  domain: string;
  why: string;
}

/**
 * Envoy's virtual host lookup: exact domain, then suffix wildcards ("*.foo.com", longest first), then
 * prefix wildcards ("foo.*", longest first), then "*". Domains and the host are compared in lower case;
 * a wildcard must match at least one character. With ignore_port_in_host_matching the port is dropped.
 */
export function findVirtualHost(config: RouteConfiguration, authority: string): VirtualHostChoice | undefined {
  const exact = new Map<string, [number, string]>();
  const suffixes = new Map<string, [number, string]>();
  const prefixes = new Map<string, [number, string]>();
  let fallback: [number, string] | undefined;
  const vhosts = config.virtualHosts ?? [];
  vhosts.forEach((vhost, index) => {
    for (const raw of vhost.domains ?? []) {
      const domain = raw.toLowerCase();
      // The first definition wins here; Envoy rejects a configuration that repeats a domain.
      if (domain === "*") fallback ??= [index, raw];
      else if (domain.startsWith("*")) {
        if (!suffixes.has(domain.slice(1))) suffixes.set(domain.slice(1), [index, raw]);
      } else if (domain.endsWith("*")) {
        if (!prefixes.has(domain.slice(0, -1))) prefixes.set(domain.slice(0, -1), [index, raw]);
      } else if (!exact.has(domain)) exact.set(domain, [index, raw]);
    }
  });
  const pick = ([index, domain]: [number, string], why: string): VirtualHostChoice => ({
    vhost: vhosts[index] as VirtualHostConfig,
    index,
    domain,
    why,
  });
  if (exact.size === 0 && suffixes.size === 0 && prefixes.size === 0)
    return fallback ? pick(fallback, "the only domain is *") : undefined;
  let host = authority;
  if (config.ignorePortInHostMatching) {
    const port = portStart(host);
    if (port >= 0) host = host.slice(0, port);
  }
  host = host.toLowerCase();
  const hit = exact.get(host);
  if (hit) return pick(hit, `exact domain for host ${quote(host)}`);
  const longestFirst = (map: Map<string, [number, string]>, test: (part: string) => boolean) =>
    [...map.entries()]
      .filter(([part]) => part.length < host.length && test(part))
      .sort((a, b) => b[0].length - a[0].length)[0];
  const suffix = longestFirst(suffixes, (part) => host.endsWith(part));
  if (suffix) return pick(suffix[1], `longest suffix wildcard for host ${quote(host)}`);
  const prefix = longestFirst(prefixes, (part) => host.startsWith(part));
  if (prefix) return pick(prefix[1], `longest prefix wildcard for host ${quote(host)}`);
  return fallback ? pick(fallback, `no other domain matches host ${quote(host)}`) : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Routes

/** The part of the request a route's path specifier matched (for prefix_rewrite). */
interface PathVerdict {
  matched: boolean;
  reason: string;
  /** Length of the :path prefix a prefix_rewrite replaces. */
  matchedLength: number;
}

/** Reads the single string field 1 of a serialized message (UriTemplateMatchConfig.path_template). */
function stringField1(bytes: Uint8Array | undefined): string | undefined {
  if (!bytes || bytes[0] !== 0x0a) return undefined;
  let length = 0;
  let shift = 0;
  let i = 1;
  for (; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    length |= (b & 0x7f) << shift;
    shift += 7;
    if ((b & 0x80) === 0) break;
  }
  return Buffer.from(bytes.subarray(i + 1, i + 1 + length)).toString("utf8");
}

/** A uri_template path template ("/v1/{id}/**") as a RegExp over the path. */
function uriTemplateRegex(template: string): RegExp {
  const segment = "[a-zA-Z0-9\\-._~%!$&'()+,;:@=]+";
  const parts = template.split("/").map((part) => {
    const variable = /^\{[A-Za-z_][A-Za-z0-9_]*(?:=(.*))?\}$/.exec(part);
    const pattern = variable ? (variable[1] ?? "*") : part;
    if (pattern === "**") return "(?:[a-zA-Z0-9\\-._~%!$&'()+,;:@=/]*)";
    if (pattern === "*") return segment;
    return pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  });
  return new RegExp(`^${parts.join("/")}$`);
}

function matchPath(match: RouteMatchConfig, request: NormalizedRequest, config: RouteConfiguration): PathVerdict {
  let path = request.path;
  if (config.ignorePathParametersInPathMatching) {
    const semicolon = path.indexOf(";");
    if (semicolon >= 0) path = path.slice(0, semicolon);
  }
  const just = pathOnly(path);
  const caseSensitive = match.caseSensitive ?? true;
  const fold = (s: string) => (caseSensitive ? s : s.toLowerCase());
  const how = caseSensitive ? "" : " (ignoring case)";
  if (match.prefix !== undefined) {
    const ok = fold(just).startsWith(fold(match.prefix));
    return {
      matched: ok,
      reason: `path ${quote(just)} ${ok ? "starts" : "does not start"} with ${quote(match.prefix)}${how}`,
      matchedLength: match.prefix.length,
    };
  }
  if (match.path !== undefined) {
    const ok = fold(just) === fold(match.path);
    return {
      matched: ok,
      reason: `path ${quote(just)} ${ok ? "is" : "is not"} ${quote(match.path)}${how}`,
      matchedLength: match.path.length,
    };
  }
  if (match.safeRegex !== undefined) {
    const regex = match.safeRegex.regex ?? "";
    const ok = re2FullMatch(regex, just);
    return {
      matched: ok,
      reason: `path ${quote(just)} ${ok ? "matches" : "does not match"} regex ${quote(regex)}`,
      matchedLength: just.length,
    };
  }
  if (match.pathSeparatedPrefix !== undefined) {
    const prefix = match.pathSeparatedPrefix;
    const ok =
      just.length >= prefix.length &&
      fold(just).startsWith(fold(prefix)) &&
      (just.length === prefix.length || just[prefix.length] === "/");
    return {
      matched: ok,
      reason: `path ${quote(just)} ${ok ? "is" : "is not"} ${quote(prefix)} or below it${how}`,
      matchedLength: prefix.length,
    };
  }
  if (match.connectMatcher !== undefined) {
    const ok = request.method === "CONNECT";
    return { matched: ok, reason: `method ${request.method} ${ok ? "is" : "is not"} CONNECT`, matchedLength: 0 };
  }
  if (match.pathMatchPolicy !== undefined) {
    const typed = match.pathMatchPolicy.typedConfig;
    const opaque = opaqueFields(typed)?.path_template ?? opaqueFields(typed)?.pathTemplate;
    const template = typeUrlOf(typed).endsWith(".uri_template.v3.UriTemplateMatchConfig")
      ? typeof opaque === "string"
        ? opaque
        : stringField1(typed?.value)
      : undefined;
    if (template === undefined)
      return { matched: false, reason: "path_match_policy other than uri_template is not simulated", matchedLength: 0 };
    const ok = uriTemplateRegex(template).test(just);
    return {
      matched: ok,
      reason: `path ${quote(just)} ${ok ? "matches" : "does not match"} template ${quote(template)}`,
      matchedLength: just.length,
    };
  }
  return { matched: false, reason: "the route has no path specifier (Envoy rejects it)", matchedLength: 0 };
}

const DENOMINATORS = [100, 10_000, 1_000_000];

/** One route against the request: matched or the first reason it did not. */
export function matchRoute(
  route: RouteConfig,
  request: NormalizedRequest,
  config: RouteConfiguration,
  warnings: string[],
): PathVerdict {
  const match = route.match ?? {};
  const headers: HeaderValues = request.headers;
  const reasons: string[] = [];
  const fraction = match.runtimeFraction?.defaultValue;
  if (match.runtimeFraction) {
    const numerator = fraction?.numerator ?? 0;
    const denominator = DENOMINATORS[fraction?.denominator ?? 0] ?? 100;
    const text = `runtime fraction ${numerator}/${denominator}`;
    if (request.randomValue !== undefined) {
      if (request.randomValue % denominator >= numerator)
        return {
          matched: false,
          reason: `${text}: random value ${request.randomValue} falls outside`,
          matchedLength: 0,
        };
      reasons.push(`${text} includes random value ${request.randomValue}`);
    } else if (numerator <= 0) return { matched: false, reason: `${text} never matches`, matchedLength: 0 };
    else if (numerator < denominator) {
      warnings.push(
        `route ${quote(route.name ?? "")} matches only a fraction (${text}) of requests; counted as a match`,
      );
      reasons.push(`${text} (uncertain: counted as a match)`);
    }
  }
  if (match.grpc) {
    const type = headerValue(headers, "content-type") ?? "";
    if (!type.startsWith("application/grpc"))
      return { matched: false, reason: `not a gRPC request (content-type ${quote(type)})`, matchedLength: 0 };
  }
  for (const header of match.headers ?? []) {
    const verdict = matchHeader(header, headers);
    if (!verdict.matched) return { matched: false, reason: verdict.reason, matchedLength: 0 };
    reasons.push(verdict.reason);
  }
  if ((match.queryParameters ?? []).length > 0) {
    const params = queryParameters(request.path);
    for (const q of match.queryParameters ?? []) {
      const verdict = matchQueryParameter(q, params);
      if (!verdict.matched) return { matched: false, reason: verdict.reason, matchedLength: 0 };
      reasons.push(verdict.reason);
    }
  }
  if (match.tlsContext) {
    const wants = [match.tlsContext.presented, match.tlsContext.validated];
    if (wants.some((w) => w === true))
      return {
        matched: false,
        reason: "tls_context requires a client certificate (not simulated: none is presented)",
        matchedLength: 0,
      };
  }
  if ((match.dynamicMetadata ?? []).length > 0)
    return { matched: false, reason: "dynamic_metadata matchers are not simulated (no metadata)", matchedLength: 0 };
  const path = matchPath(match, request, config);
  if (!path.matched) return path;
  return { ...path, reason: [path.reason, ...reasons].join("; ") };
}

// ---------------------------------------------------------------------------------------------------
// Actions

const REDIRECT_CODES = [301, 302, 303, 307, 308];

function durationMs(d: { seconds?: number; nanos?: number } | undefined): number | undefined {
  if (!d) return undefined;
  return (d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);
}

/** An Any as proto3 JSON when core knows its type, else just its type URL. */
function anyToJson(any: Any): JsonValue {
  const opaque = opaqueFields(any);
  if (opaque) {
    const { [ORIGINAL_TYPE_KEY]: type, ...fields } = opaque;
    return { "@type": type ?? "", ...fields };
  }
  try {
    return protoJsonFromBinary(messageNameOf(any.typeUrl ?? ""), any.value ?? new Uint8Array());
  } catch {
    return { "@type": any.typeUrl ?? "" };
  }
}

/**
 * A retry policy or CORS policy as canonical proto3 JSON: carried inside a VirtualHost (whose codec core
 * exports) through the schema registry, so durations read "1s" as in Envoy's own config dumps.
 */
function policiesToJson(policies: Pick<VirtualHostConfig, "retryPolicy" | "cors">): {
  retryPolicy?: JsonValue;
  cors?: JsonValue;
} {
  const json = protoJsonFromBinary(
    "envoy.config.route.v3.VirtualHost",
    VirtualHost.encode(VirtualHost.fromPartial(policies)).finish(),
  ) as { retryPolicy?: JsonValue; cors?: JsonValue };
  return json;
}

/** The most specific typed_per_filter_config for `filterName`: weighted cluster, route, vhost, route config. */
function perFilterConfig(
  filterNames: readonly string[],
  ...levels: Array<{ [key: string]: Any } | undefined>
): Any | undefined {
  for (const level of levels)
    for (const name of filterNames) {
      const any = level?.[name];
      if (any) return any;
    }
  return undefined;
}

/** Names the HCM gives a filter type (plus Envoy's canonical name), for per-route config lookup. */
function filterNamesOf(hcm: HttpConnectionManager | undefined, canonical: string, typeSuffix: string): string[] {
  const names = new Set<string>([canonical]);
  for (const filter of hcm?.httpFilters ?? [])
    if (filter.name && typeUrlOf(filter.typedConfig).endsWith(typeSuffix)) names.add(filter.name);
  return [...names];
}

/** Applies prefix_rewrite / regex_rewrite to the :path (query kept), as Envoy's finalizePathHeader. */
function rewritePath(
  path: string,
  matchedLength: number,
  prefixRewrite: string | undefined,
  regexRewrite: { pattern?: { regex?: string }; substitution?: string } | undefined,
): string {
  if (prefixRewrite) return prefixRewrite + path.slice(matchedLength);
  if (regexRewrite?.pattern) {
    const just = pathOnly(path);
    return (
      re2ReplaceAll(regexRewrite.pattern.regex ?? "", just, regexRewrite.substitution ?? "") + path.slice(just.length)
    );
  }
  return path;
}

/** Envoy's redirect Location: scheme, host (port handling), port, path (query handling). */
function redirectLocation(
  redirect: NonNullable<RouteConfig["redirect"]>,
  request: NormalizedRequest,
  path: string,
): string {
  const scheme = redirect.schemeRedirect || (redirect.httpsRedirect ? "https" : request.scheme);
  const port = redirect.portRedirect ? `:${redirect.portRedirect}` : "";
  let host = redirect.hostRedirect || request.authority;
  if (!redirect.hostRedirect && host !== "") {
    let end: number;
    if (host.startsWith("[")) {
      end = host.lastIndexOf("]:");
      if (end >= 0) end += 1;
    } else end = host.lastIndexOf(":");
    if (end >= 0) {
      const requestPort = host.slice(end);
      const forwardedProto = headerValue(request.headers, "x-forwarded-proto") ?? request.scheme;
      let remove = port !== "";
      if (scheme !== forwardedProto)
        remove ||=
          (forwardedProto === "https" && requestPort === ":443") ||
          (forwardedProto === "http" && requestPort === ":80");
      if (remove) host = host.slice(0, end);
    }
  }
  let finalPath: string;
  const pathRedirect = redirect.pathRedirect ?? "";
  const pathRedirectHasQuery = pathRedirect.includes("?");
  if (pathRedirect !== "") {
    const q = path.indexOf("?");
    finalPath = pathRedirectHasQuery || q < 0 ? pathRedirect : pathRedirect + path.slice(q);
  } else finalPath = path;
  if (!finalPath.startsWith("/")) finalPath = `/${finalPath}`;
  if (!pathRedirectHasQuery && redirect.stripQuery) {
    const q = finalPath.indexOf("?");
    if (q >= 0) finalPath = finalPath.slice(0, q);
  }
  return `${scheme}://${host}${port}${finalPath}`;
}

/** Picks a weighted cluster as Envoy does: `random % total` falls in one cluster's interval. */
export function pickWeighted(
  shares: readonly WeightedClusterShare[],
  random: number | undefined,
): { name: string | undefined; why: string } {
  const total = shares.reduce((sum, s) => sum + s.weight, 0);
  if (total <= 0) return { name: undefined, why: "the weights add up to 0 (Envoy rejects this)" };
  const nonZero = shares.filter((s) => s.weight > 0);
  if (nonZero.length === 1) return { name: nonZero[0]?.name, why: "the only cluster with weight" };
  if (random === undefined) return { name: undefined, why: "chosen at random per request" };
  const selected = random % total;
  let begin = 0;
  for (const share of shares) {
    const end = begin + share.weight;
    if (selected >= begin && selected < end)
      return { name: share.name, why: `random value ${random} % ${total} = ${selected}` };
    begin = end;
  }
  return { name: undefined, why: "no interval matched" };
}

const CLUSTER_NOT_FOUND = [503, 404, 500];

export interface ActionContext {
  config: RouteConfiguration;
  vhost: VirtualHostConfig;
  route: RouteConfig;
  request: NormalizedRequest;
  matchedLength: number;
  hcm: HttpConnectionManager | undefined;
  clusterExists: ((name: string) => boolean) | undefined;
  warnings: string[];
  trace: TraceLine[];
}

/** The action of the matched route. */
export function routeAction(ctx: ActionContext): SimulatedAction {
  const { route, vhost, config, request, trace, warnings } = ctx;
  if (route.redirect) {
    const redirect = route.redirect;
    const path = rewritePath(request.path, ctx.matchedLength, redirect.prefixRewrite, redirect.regexRewrite);
    const status = REDIRECT_CODES[redirect.responseCode ?? 0] ?? 301;
    const location = redirectLocation(redirect, request, path);
    trace.push({ stage: "action", text: `redirect ${status} to ${location}` });
    return { kind: "redirect", status, location };
  }
  if (route.directResponse) {
    const status = route.directResponse.status ?? 0;
    const source = route.directResponse.body;
    let body: string | undefined;
    if (source?.inlineString !== undefined) body = source.inlineString;
    else if (source?.inlineBytes !== undefined) body = Buffer.from(source.inlineBytes).toString("utf8");
    else if (source?.filename !== undefined)
      warnings.push(`direct response body from file ${source.filename} is not read`);
    trace.push({
      stage: "action",
      text: `direct response ${status}${body !== undefined ? ` with body ${quote(body)}` : ""}`,
    });
    return { kind: "direct-response", status, ...(body !== undefined ? { body } : {}) };
  }
  if (route.nonForwardingAction) {
    trace.push({ stage: "action", text: "non-forwarding action (the request is not forwarded by the router)" });
    return { kind: "non-forwarding" };
  }
  const action = route.route;
  if (!action) {
    trace.push({ stage: "action", text: "the route has no action the simulator models" });
    return { kind: "unsupported", reason: "route without route/redirect/direct_response action" };
  }
  let cluster: string | undefined;
  let weighted: WeightedClusterShare[] | undefined;
  let hostRewrite = action.hostRewriteLiteral || undefined;
  let chosenWeighted: NonNullable<NonNullable<typeof action.weightedClusters>["clusters"]>[number] | undefined;
  if (action.cluster !== undefined) {
    cluster = action.cluster;
    trace.push({ stage: "action", text: `cluster ${quote(cluster)}` });
  } else if (action.clusterHeader !== undefined) {
    cluster = request.headers.get(action.clusterHeader.toLowerCase())?.[0] ?? "";
    trace.push({ stage: "action", text: `cluster from header ${action.clusterHeader}: ${quote(cluster)}` });
  } else if (action.weightedClusters) {
    const entries = action.weightedClusters.clusters ?? [];
    weighted = entries.map((c) => ({ name: c.name || `header:${c.clusterHeader ?? ""}`, weight: c.weight ?? 0 }));
    let random = request.randomValue;
    const headerName = action.weightedClusters.headerName;
    if (headerName) {
      const values = request.headers.get(headerName.toLowerCase());
      if (values?.length === 1 && /^\d+$/.test(values[0] ?? "")) random = Number(values[0]);
    }
    const pick = pickWeighted(weighted, random);
    const index = weighted.findIndex((s) => s.name === pick.name);
    chosenWeighted = index >= 0 ? entries[index] : undefined;
    if (chosenWeighted?.clusterHeader)
      cluster = request.headers.get(chosenWeighted.clusterHeader.toLowerCase())?.[0] ?? "";
    else cluster = pick.name;
    if (chosenWeighted?.hostRewriteLiteral) hostRewrite = chosenWeighted.hostRewriteLiteral;
    const split = weighted.map((s) => `${s.name} ${s.weight}`).join(", ");
    trace.push({
      stage: "action",
      text: `weighted clusters [${split}] → ${cluster === undefined ? "random pick" : quote(cluster)} (${pick.why})`,
    });
    if (cluster === undefined) warnings.push(`the cluster is picked at random among [${split}]`);
  } else {
    trace.push({ stage: "action", text: "cluster_specifier_plugin is not simulated" });
    return { kind: "unsupported", reason: "cluster_specifier_plugin" };
  }
  if (cluster !== undefined && ctx.clusterExists && !ctx.clusterExists(cluster)) {
    const status = CLUSTER_NOT_FOUND[action.clusterNotFoundResponseCode ?? 0] ?? 503;
    trace.push({ stage: "action", text: `cluster ${quote(cluster)} does not exist: local reply ${status}` });
    return { kind: "local-reply", status, reason: `cluster ${quote(cluster)} not found` };
  }

  const path = rewritePath(request.path, ctx.matchedLength, action.prefixRewrite, action.regexRewrite);
  if (path !== request.path) trace.push({ stage: "action", text: `path rewritten to ${quote(path)}` });
  if (action.pathRewritePolicy) warnings.push("path_rewrite_policy is not simulated: the path is reported unchanged");
  let host = request.authority;
  if (hostRewrite) host = hostRewrite;
  else if (action.hostRewriteHeader) {
    const value = request.headers.get(action.hostRewriteHeader.toLowerCase())?.[0];
    if (value) host = value;
  } else if (action.hostRewritePathRegex?.pattern)
    host = re2ReplaceAll(
      action.hostRewritePathRegex.pattern.regex ?? "",
      pathOnly(request.path),
      action.hostRewritePathRegex.substitution ?? "",
    );
  else if (action.autoHostRewrite)
    warnings.push("auto_host_rewrite uses the upstream host's name, which is not simulated");
  if (host !== request.authority) trace.push({ stage: "action", text: `host rewritten to ${quote(host)}` });

  const timeoutMs = durationMs(action.timeout) ?? 15_000;
  const forward: ForwardAction = { kind: "cluster", cluster, path, host, timeoutMs };
  if (weighted) forward.weightedClusters = weighted;
  const retry = action.retryPolicy ?? vhost.retryPolicy;
  if (retry) forward.retryPolicy = policiesToJson({ retryPolicy: retry }).retryPolicy ?? {};
  const mirrors =
    (action.requestMirrorPolicies?.length ? action.requestMirrorPolicies : undefined) ??
    (vhost.requestMirrorPolicies?.length ? vhost.requestMirrorPolicies : undefined) ??
    (config.requestMirrorPolicies?.length ? config.requestMirrorPolicies : undefined);
  if (mirrors)
    forward.mirrors = mirrors.map((m) => {
      const fraction = m.runtimeFraction?.defaultValue;
      const percent = fraction
        ? ((fraction.numerator ?? 0) * 100) / (DENOMINATORS[fraction.denominator ?? 0] ?? 100)
        : undefined;
      return { cluster: m.cluster ?? `header:${m.clusterHeader ?? ""}`, ...(percent !== undefined ? { percent } : {}) };
    });
  const faultNames = filterNamesOf(ctx.hcm, "envoy.filters.http.fault", ".fault.v3.HTTPFault");
  const fault = perFilterConfig(
    faultNames,
    chosenWeighted?.typedPerFilterConfig,
    route.typedPerFilterConfig,
    vhost.typedPerFilterConfig,
    config.typedPerFilterConfig,
  );
  if (fault) forward.fault = anyToJson(fault);
  const corsNames = filterNamesOf(ctx.hcm, "envoy.filters.http.cors", ".cors.v3.Cors");
  const corsAny = perFilterConfig(
    corsNames,
    route.typedPerFilterConfig,
    vhost.typedPerFilterConfig,
    config.typedPerFilterConfig,
  );
  const cors = action.cors ?? (corsAny ? undefined : vhost.cors);
  if (cors) forward.cors = policiesToJson({ cors }).cors ?? {};
  else if (corsAny) forward.cors = anyToJson(corsAny);
  const extras = [
    `timeout ${timeoutMs === 0 ? "disabled" : `${timeoutMs} ms`}`,
    retry ? `retries ${retry.numRetries ?? 1} on ${quote(retry.retryOn ?? "")}` : undefined,
    fault ? "fault injection" : undefined,
    mirrors ? `mirrors to ${forward.mirrors?.map((m) => m.cluster).join(", ")}` : undefined,
    forward.cors ? "CORS" : undefined,
  ].filter(Boolean);
  trace.push({ stage: "action", text: extras.join(", ") });
  return forward;
}

/** The SSL redirect Envoy answers for a virtual host with require_tls when the request is not TLS. */
export function requireTlsRedirect(vhost: VirtualHostConfig, request: NormalizedRequest): SimulatedAction | undefined {
  const requirement = vhost.requireTls ?? 0;
  const forwardedProto = headerValue(request.headers, "x-forwarded-proto") ?? request.scheme;
  if (requirement === 0 || forwardedProto === "https") return undefined;
  if (requirement === 1 && headerValue(request.headers, "x-envoy-internal") === "true") return undefined;
  return { kind: "redirect", status: 301, location: `https://${request.authority}${request.path}` };
}

/** A route's match as a short phrase for the trace. */
export function describeMatch(match: RouteMatchConfig | undefined): string {
  if (!match) return "no match";
  const parts: string[] = [];
  if (match.prefix !== undefined) parts.push(`prefix ${quote(match.prefix)}`);
  if (match.path !== undefined) parts.push(`path ${quote(match.path)}`);
  if (match.safeRegex !== undefined) parts.push(`regex ${quote(match.safeRegex.regex ?? "")}`);
  if (match.pathSeparatedPrefix !== undefined) parts.push(`path-separated prefix ${quote(match.pathSeparatedPrefix)}`);
  for (const h of match.headers ?? []) parts.push(`header ${h.name}`);
  for (const q of match.queryParameters ?? [])
    parts.push(`query ${q.name}${q.stringMatch ? ` ${describeStringMatcher(q.stringMatch)}` : ""}`);
  return parts.join(", ");
}
