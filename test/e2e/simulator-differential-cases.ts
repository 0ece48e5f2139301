// Seeded random RouteConfigurations and requests over a small platform (four clusters, a few hosts),
// for the differential test of the route simulator against real Envoy. Every configuration is one Envoy
// accepts: unique domains, at most one "*", regexes RE2 compiles, weights that add up to more than 0.
import type { RouteConfiguration } from "@xdskit/core";

export const CLUSTERS = ["c0", "c1", "c2", "c3"] as const;
/** Envoy takes a weighted split's random value from this header (WeightedCluster.header_name). */
export const RANDOM_HEADER = "x-random-value";

/** mulberry32: a small, fast, seedable PRNG (32-bit state). */
export function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)] as T;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
export type Random = ReturnType<typeof createRandom>;

type VirtualHost = NonNullable<RouteConfiguration["virtualHosts"]>[number];
type Route = NonNullable<VirtualHost["routes"]>[number];
type RouteMatch = NonNullable<Route["match"]>;
type HeaderMatcher = NonNullable<RouteMatch["headers"]>[number];
type QueryMatcher = NonNullable<RouteMatch["queryParameters"]>[number];

const HOSTS = [
  "shop.example.com",
  "api.example.com",
  "foo-bar.example.com",
  "a.example.org",
  "api.internal",
  "other.net",
];
const DOMAINS = [
  "shop.example.com",
  "api.example.com",
  "api.example.com:8080",
  "a.example.org",
  "*.example.com",
  "*-bar.example.com",
  "*.org",
  "api.*",
  "shop.*",
  "a*",
];
const PREFIXES = ["/", "/api", "/api/v1", "/shop", "/Shop", "/static/", "/items"];
const PATHS = ["/api", "/health", "/api/v1/items", "/shop/cart"];
const SEPARATED = ["/api", "/shop", "/items"];
const REGEXES = ["/api/v[0-9]+/.*", "/items/[0-9]+", "/(shop|store)/.*", "/[a-z]+", "/api/.+/items"];
const URI_TEMPLATE = "envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig";
const TEMPLATES = ["/api/{version}/items", "/items/*", "/shop/**", "/{first}/{rest=**}", "/api/*/{id}"];
const HEADER_NAMES = ["x-a", "x-b", "end-user"];
const VALUES = ["jason", "mary", "1", "15", "beta", "Beta", "v2-canary"];
const VALUE_REGEXES = ["[a-z]+", "v[0-9]-.*", "1[0-9]", "(?i)beta"];
const QUERY_NAMES = ["v", "debug"];
const QUERY_VALUES = ["1", "2", "on", "abc"];
const SUFFIXES = ["", "/", "/1", "/42", "/items", "/v1/items", "x", "/a/b"];
const QUERIES = ["", "", "?v=1", "?v=2", "?debug", "?debug=on&v=abc", "?v=2&v=1", "?v=%32", "?x=1&v=", "?v=1#frag"];
const METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];

/** A message whose only field is string field 1 (UriTemplateMatchConfig.path_template), serialized. */
function stringField1(text: string): Uint8Array {
  const bytes = Buffer.from(text, "utf8");
  return Uint8Array.from([0x0a, bytes.length, ...bytes]);
}

function headerMatcher(r: Random): HeaderMatcher {
  if (r.chance(0.1)) return { name: ":method", stringMatch: { exact: r.pick(["GET", "POST"]) } };
  const name = r.pick(HEADER_NAMES);
  const value = r.pick(VALUES);
  const invertMatch = r.chance(0.15) ? true : undefined;
  switch (r.int(9)) {
    case 0:
      return { name, stringMatch: { exact: value, ...(r.chance(0.3) ? { ignoreCase: true } : {}) }, invertMatch };
    case 1:
      return { name, stringMatch: { prefix: value.slice(0, 2) }, invertMatch };
    case 2:
      return { name, stringMatch: { suffix: value.slice(-2) }, invertMatch };
    case 3:
      return { name, stringMatch: { contains: value.slice(1, 3) || value }, invertMatch };
    case 4:
      return { name, stringMatch: { safeRegex: { regex: r.pick(VALUE_REGEXES) } }, invertMatch };
    case 5:
      return { name, presentMatch: r.chance(0.7), invertMatch };
    case 6:
      return { name, rangeMatch: { start: r.int(12), end: 12 + r.int(10) }, invertMatch };
    case 7:
      return { name, exactMatch: value, invertMatch };
    default:
      return { name, invertMatch };
  }
}

function queryMatcher(r: Random): QueryMatcher {
  const name = r.pick(QUERY_NAMES);
  switch (r.int(4)) {
    case 0:
      return { name, presentMatch: true };
    case 1:
      return { name, stringMatch: { exact: r.pick(QUERY_VALUES) } };
    case 2:
      return { name, stringMatch: { prefix: r.pick(QUERY_VALUES).slice(0, 1) } };
    default:
      return { name, stringMatch: { safeRegex: { regex: "[0-9]+" } } };
  }
}

function routeMatch(r: Random): RouteMatch {
  const match: RouteMatch = {};
  const kind = r.int(10);
  if (kind < 5) match.prefix = r.pick(PREFIXES);
  else if (kind < 7) match.path = r.pick(PATHS);
  else if (kind < 9) match.safeRegex = { regex: r.pick(REGEXES) };
  else if (r.chance(0.6)) match.pathSeparatedPrefix = r.pick(SEPARATED);
  else
    match.pathMatchPolicy = {
      name: "envoy.path.match.uri_template.uri_template_matcher",
      typedConfig: { typeUrl: `type.googleapis.com/${URI_TEMPLATE}`, value: stringField1(r.pick(TEMPLATES)) },
    };
  if (r.chance(0.2)) match.caseSensitive = false;
  if (r.chance(0.35)) match.headers = Array.from({ length: 1 + r.int(2) }, () => headerMatcher(r));
  if (r.chance(0.2)) match.queryParameters = [queryMatcher(r)];
  // Runtime fractions Envoy decides without randomness: 0 % or all of the denominator.
  if (r.chance(0.08)) {
    const denominator = r.int(3);
    match.runtimeFraction = {
      defaultValue: { numerator: r.chance(0.5) ? 0 : [100, 10_000, 1_000_000][denominator], denominator },
      runtimeKey: `sim.fraction.${r.int(1000)}`,
    };
  }
  return match;
}

function route(r: Random, index: number): Route {
  const match = routeMatch(r);
  const name = `r${index}`;
  const kind = r.int(20);
  if (kind < 9) {
    const action: NonNullable<Route["route"]> = { cluster: r.pick(CLUSTERS) };
    if ((match.prefix !== undefined || match.path !== undefined) && r.chance(0.3))
      action.prefixRewrite = r.pick(["/", "/rewritten", "/v2/"]);
    else if (match.pathMatchPolicy === undefined && r.chance(0.15))
      action.regexRewrite = { pattern: { regex: "/([a-z]+)" }, substitution: "/x-\\1" };
    if (r.chance(0.15)) action.hostRewriteLiteral = "rewritten.internal";
    if (r.chance(0.3))
      action.timeout = r.pick([
        { seconds: 2 },
        { seconds: 3, nanos: 500_000_000 },
        { seconds: 0 },
        { seconds: 61, nanos: 1_000_000 },
      ]);
    return { name, match, route: action };
  }
  if (kind < 12 && r.chance(0.4)) {
    // A real split, made deterministic by taking Envoy's random value from a request header.
    const clusters = CLUSTERS.filter(() => r.chance(0.7)).map((n) => ({ name: n as string, weight: r.int(60) }));
    if (clusters.length === 0 || clusters.every((c) => c.weight === 0))
      clusters.push({ name: "c0", weight: 1 + r.int(50) });
    return { name, match, route: { weightedClusters: { clusters, headerName: RANDOM_HEADER } } };
  }
  if (kind < 12) {
    const chosen = r.int(CLUSTERS.length);
    const others = CLUSTERS.filter((_, i) => i !== chosen);
    const clusters = [
      { name: CLUSTERS[chosen] as string, weight: 100 },
      ...others.slice(0, 1 + r.int(2)).map((n) => ({ name: n as string, weight: 0 })),
    ];
    // Envoy picks by interval, so the weight-0 clusters may come before or after the chosen one.
    if (r.chance(0.5)) clusters.reverse();
    return { name, match, route: { weightedClusters: { clusters } } };
  }
  if (kind < 16) {
    const redirect: NonNullable<Route["redirect"]> = {};
    switch (r.int(7)) {
      case 0:
        redirect.httpsRedirect = true;
        break;
      case 1:
        redirect.hostRedirect = "moved.example.com";
        break;
      case 2:
        redirect.pathRedirect = r.pick(["/new", "/new?x=1", "elsewhere"]);
        break;
      case 3:
        if (match.prefix !== undefined) redirect.prefixRewrite = "/moved";
        else redirect.schemeRedirect = "https";
        break;
      case 4:
        redirect.portRedirect = 8443;
        break;
      case 5:
        redirect.regexRewrite = { pattern: { regex: "/([a-z]+)" }, substitution: "/r-\\1" };
        break;
      default:
        redirect.hostRedirect = "moved.example.com";
        redirect.httpsRedirect = true;
    }
    if (r.chance(0.3)) redirect.stripQuery = true;
    if (r.chance(0.5)) redirect.responseCode = r.int(5);
    return { name, match, redirect };
  }
  return {
    name,
    match,
    directResponse: {
      status: r.pick([200, 403, 418, 503]),
      ...(r.chance(0.8) ? { body: { inlineString: `direct-${index}` } } : {}),
    },
  };
}

/** A random RouteConfiguration named `name`: 1–4 virtual hosts with unique domains, 1–6 routes each. */
export function randomRouteConfiguration(r: Random, name: string): RouteConfiguration {
  const free = [...DOMAINS];
  const vhostCount = 1 + r.int(4);
  const virtualHosts: VirtualHost[] = [];
  let star = false;
  let routeIndex = 0;
  for (let v = 0; v < vhostCount; v++) {
    const domains: string[] = [];
    for (let d = 0; d < 1 + r.int(2) && free.length > 0; d++)
      domains.push(free.splice(r.int(free.length), 1)[0] as string);
    if (!star && (v === vhostCount - 1 ? r.chance(0.7) : r.chance(0.15))) {
      domains.push("*");
      star = true;
    }
    const routes = Array.from({ length: 1 + r.int(6) }, () => route(r, routeIndex++));
    // Now and then a virtual host that requires TLS (ALL or EXTERNAL_ONLY): plain-text requests get a 301.
    const requireTls = r.chance(0.08) ? r.pick([1, 2]) : undefined;
    virtualHosts.push({ name: `vh${v}`, domains, routes, ...(requireTls ? { requireTls } : {}) });
  }
  return {
    name,
    virtualHosts,
    ...(r.chance(0.3) ? { ignorePortInHostMatching: true } : {}),
    ...(r.chance(0.25) ? { ignorePathParametersInPathMatching: true } : {}),
  };
}

/** A request built to hit (and miss) what the generator produces. */
export interface GeneratedRequest {
  method: string;
  authority: string;
  path: string;
  headers: Record<string, string | string[]>;
}

export function randomRequest(r: Random): GeneratedRequest {
  let host = r.pick(HOSTS);
  if (r.chance(0.15)) host = host.toUpperCase();
  if (r.chance(0.25)) host += r.pick([":8080", ":80", ":9999"]);
  const base = r.chance(0.8) ? r.pick([...PREFIXES, ...PATHS]) : r.pick(["/store/x", "/API/v1/items", "/itemsx"]);
  let path = (base.endsWith("/") && base.length > 1 ? base.slice(0, -1) : base) + r.pick(SUFFIXES);
  if (!path.startsWith("/")) path = `/${path}`;
  path = path.replace(/\/\/+/g, "/");
  // Path parameters (";p=1") and doubled slashes, for ignore_path_parameters_in_path_matching and merge_slashes.
  if (r.chance(0.1)) path += ";p=1";
  if (r.chance(0.1)) path = path.replace("/", "//");
  path += r.pick(QUERIES);
  const headers: Record<string, string | string[]> = {};
  for (const name of HEADER_NAMES) {
    if (!r.chance(0.45)) continue;
    headers[name] = r.chance(0.1) ? [r.pick(VALUES), r.pick(VALUES)] : r.pick(VALUES);
  }
  headers[RANDOM_HEADER] = String(r.int(1000));
  return { method: r.pick(METHODS), authority: host, path, headers };
}

// ---------------------------------------------------------------------------------------------------
// Filter chains: random filter_chain_match sets on one listener, and connections that probe them.

/** A filter chain's match criteria, each list single-valued so two chains never share an expanded entry. */
export interface ChainCriteria {
  name: string;
  /** One of the listener's two ports, or undefined. */
  destinationPort?: "first" | "second";
  serverName?: string;
  transportProtocol?: "tls" | "raw_buffer";
  applicationProtocol?: string;
  sourcePrefix?: [string, number];
  directSourcePrefix?: [string, number];
  sourceType?: 1 | 2;
}

const SERVER_NAMES = ["a.example.com", "*.example.com", "b.test", "*.test"];
const ALPNS = ["http/1.1", "h2"];
const SOURCE_PREFIXES: Array<[string, number]> = [
  ["127.0.0.2", 32],
  ["127.0.0.0", 8],
  ["127.0.0.0", 30],
];

/** 2–6 chains with distinct criteria; TLS chains are the ones that ask for transport "tls". */
export function randomChains(r: Random): ChainCriteria[] {
  const chains: ChainCriteria[] = [];
  const seen = new Set<string>();
  const count = 2 + r.int(5);
  for (let attempt = 0; chains.length < count && attempt < 50; attempt++) {
    const chain: ChainCriteria = { name: `chain-${chains.length}` };
    if (r.chance(0.3)) chain.destinationPort = r.pick(["first", "second"] as const);
    if (r.chance(0.35)) chain.serverName = r.pick(SERVER_NAMES);
    // A chain that names a server is a TLS chain; others pick plain text, TLS or either.
    if (chain.serverName !== undefined || r.chance(0.5))
      chain.transportProtocol = chain.serverName !== undefined ? "tls" : r.pick(["tls", "raw_buffer"] as const);
    if (r.chance(0.3)) chain.applicationProtocol = r.pick(ALPNS);
    if (r.chance(0.3)) chain.sourcePrefix = r.pick(SOURCE_PREFIXES);
    if (r.chance(0.15)) chain.directSourcePrefix = r.pick(SOURCE_PREFIXES);
    if (r.chance(0.15)) chain.sourceType = r.pick([1, 2] as const);
    const { name: _name, ...criteria } = chain;
    const key = JSON.stringify(criteria, Object.keys(criteria).sort());
    if (seen.has(key)) continue;
    seen.add(key);
    chains.push(chain);
  }
  return chains;
}

/** A connection to the chains listener. */
export interface ChainProbe {
  port: "first" | "second";
  source: string;
  tls?: { sni?: string; alpn: string[] };
}

export function randomProbe(r: Random): ChainProbe {
  const probe: ChainProbe = {
    port: r.pick(["first", "second"] as const),
    source: r.pick(["127.0.0.1", "127.0.0.2", "127.0.0.5"]),
  };
  if (r.chance(0.55)) {
    const sni = r.pick([undefined, "a.example.com", "x.example.com", "b.test", "deep.b.test", "other.org"]);
    probe.tls = { ...(sni !== undefined ? { sni } : {}), alpn: r.pick([[], ["h2"], ["http/1.1"], ["h2", "http/1.1"]]) };
  }
  return probe;
}
