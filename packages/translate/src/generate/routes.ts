// VirtualService HTTP routes → Envoy routes, as istiod translates them (pilot/pkg/networking/core/route):
// every match kind, first-match order cut at the first catch-all, weights, redirect, rewrite, direct
// response, header operations, timeout, retries (Istio's default policy when unset), fault, mirrors,
// CORS, consistent-hash policies, delegate VirtualServices merged into their root.
import { type Any, packAny, type RouteConfiguration } from "@xdskit/core";
import {
  CorsPerRoute,
  FractionalPercent_DenominatorType,
  HeaderValueOption_HeaderAppendAction,
  HTTPFault,
  PreviousHostsPredicate,
  RedirectAction_RedirectResponseCode,
} from "@xdskit/core/extensions";
import {
  type Destination,
  type Headers,
  type HTTPFaultInjection,
  type HTTPMatchRequest,
  HTTPRedirect_RedirectPortSelection,
  type HTTPRetry,
  type HTTPRoute,
  type HTTPRouteDestination,
  type CorsPolicy as IstioCorsPolicy,
  type LoadBalancerSettings_ConsistentHashLB,
  type StringMatch,
} from "@xdskit/core/istio";
import { resolveHost } from "../index/hosts.js";
import { type Mesh, resolveGateway, type VirtualServiceEntry } from "../index/mesh.js";
import type { MeshService } from "../registry/model.js";
import { effectivePolicy, outboundClusterName, PASSTHROUGH } from "./clusters.js";
import { FILTER, TYPE } from "./envoy.js";

type VirtualHost = NonNullable<RouteConfiguration["virtualHosts"]>[number];
export type Route = NonNullable<VirtualHost["routes"]>[number];
type RouteMatch = NonNullable<Route["match"]>;
type RouteAction = NonNullable<Route["route"]>;
type HeaderMatcher = NonNullable<RouteMatch["headers"]>[number];
type HeaderValueOption = NonNullable<Route["requestHeadersToAdd"]>[number];
type StringMatcher = NonNullable<HeaderMatcher["stringMatch"]>;

/** Who the routes are for: the proxy's namespace and labels, and the gateways it implements (`mesh` for sidecars). */
export interface RouteContext {
  readonly mesh: Mesh;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly gateways: ReadonlySet<string>;
  /** Proxyless gRPC reads max_stream_duration instead of max_grpc_timeout. */
  readonly proxyless?: boolean;
  /** A gateway's TLS server: redirect ports default to https. */
  readonly tls?: boolean;
  /**
   * Sidecars: the services a destination is looked up in, by hostname — those on the listener's port, as
   * in istiod. A destination without a port whose service is not among them gets the listener's port.
   */
  readonly destinationServices?: ReadonlyMap<string, MeshService>;
}

const ZERO = { seconds: 0, nanos: 0 };
let defaultRetry: RouteAction["retryPolicy"];
let defaultHashRetry: RouteAction["retryPolicy"];

/** Where a generated Envoy route comes from: its VirtualService HTTP route, through a delegate or not. */
export interface RouteOrigin {
  /** The VirtualService whose hosts the route serves (the root of a delegation). */
  readonly virtualService: { readonly namespace: string; readonly name: string };
  /** The index of the HTTP route in that VirtualService's `http`. */
  readonly httpIndex: number;
  /** The HTTP route as the proxy gets it: the root's, or the delegate's merged with its root's match. */
  readonly http: HTTPRoute;
  /** For a delegated route: the root's `delegate` field as written and the delegate's HTTP route index. */
  readonly delegate?: {
    readonly name: string;
    readonly namespace?: string;
    readonly virtualService: { readonly namespace: string; readonly name: string };
    readonly httpIndex: number;
  };
}

// Keyed by the generated route object: generate() hands out the same objects for the same view, so the
// origin stays right for as long as the route object lives (and needs no field in the xDS itself).
const origins = new WeakMap<object, RouteOrigin>();

/** The VirtualService HTTP route an Envoy route of generate() was made from; undefined for default routes. */
export function routeOrigin(route: object): RouteOrigin | undefined {
  return origins.get(route);
}

/** Envoy routes of one VirtualService for one listener port, or [] when no route applies to this proxy. */
export function virtualServiceRoutes(ctx: RouteContext, vs: VirtualServiceEntry, port: number): Route[] {
  const out: Route[] = [];
  for (const http of expandDelegates(ctx.mesh, vs)) {
    let catchAll = false;
    const matches = http.match && http.match.length > 0 ? http.match : [undefined];
    for (const match of matches) {
      const route = translateRoute(ctx, vs, http, match, port);
      if (!route) continue;
      const { origin, resolveNamespace: _namespace, ...effective } = http;
      origins.set(route, { ...origin, http: effective });
      out.push(route);
      if (isCatchAll(route)) {
        catchAll = true;
        break;
      }
    }
    if (!http.match || http.match.length === 0) catchAll = true;
    if (catchAll) break;
  }
  return out;
}

/** What of a VirtualService's routes can depend on who asks, found once per mesh version and VirtualService. */
interface RouteInputs {
  readonly sourceNamespace: boolean;
  readonly sourceLabels: boolean;
  readonly gateways: boolean;
  /** Every destination host (routes and mirrors), resolved. */
  readonly hosts: readonly string[];
}
const routeInputs = new WeakMap<Mesh, WeakMap<VirtualServiceEntry, RouteInputs>>();
function routeInputsOf(mesh: Mesh, vs: VirtualServiceEntry): RouteInputs {
  let byVs = routeInputs.get(mesh);
  if (!byVs) {
    byVs = new WeakMap();
    routeInputs.set(mesh, byVs);
  }
  let inputs = byVs.get(vs);
  if (!inputs) {
    let sourceNamespace = false;
    let sourceLabels = false;
    let gateways = false;
    const hosts = new Set<string>();
    const domainSuffix = mesh.options.domainSuffix;
    for (const http of expandDelegates(mesh, vs)) {
      for (const match of http.match ?? []) {
        if (match.sourceNamespace) sourceNamespace = true;
        if (match.sourceLabels && Object.keys(match.sourceLabels).length > 0) sourceLabels = true;
        if (match.gateways && match.gateways.length > 0) gateways = true;
      }
      const namespace = http.resolveNamespace ?? vs.namespace;
      const destinations = [
        ...(http.route ?? []).map((r) => r.destination),
        http.mirror,
        ...(http.mirrors ?? []).map((m) => m.destination),
      ];
      for (const dst of destinations) if (dst) hosts.add(resolveHost(dst.host ?? "", namespace, domainSuffix));
    }
    inputs = { sourceNamespace, sourceLabels, gateways, hosts: [...hosts] };
    byVs.set(vs, inputs);
  }
  return inputs;
}

/**
 * Everything virtualServiceRoutes reads from `ctx` for this VirtualService and port, as a string: two
 * contexts with the same key get the same routes, so proxies in different namespaces can share them. It
 * reads the proxy's namespace (sourceNamespace matches; the DestinationRule that decides consistent
 * hashing), labels (sourceLabels), gateways (match gateways), proxyless, tls, and per destination host the
 * service it resolves to (the only port of the service, when the destination names none).
 */
export function routesKey(ctx: RouteContext, vs: VirtualServiceEntry, port: number): string {
  const inputs = routeInputsOf(ctx.mesh, vs);
  // Numbers for objects: a short key hashes faster, and this runs per VirtualService per view.
  let key = `${idOf(vs)}|${port}|${ctx.proxyless ? "g" : ""}${ctx.tls ? "t" : ""}`;
  if (inputs.sourceNamespace) key += `|ns=${ctx.namespace}`;
  if (inputs.sourceLabels)
    key += `|labels=${Object.keys(ctx.labels)
      .sort()
      .map((k) => `${k}=${ctx.labels[k]}`)
      .join(",")}`;
  if (inputs.gateways) key += `|gw=${[...ctx.gateways].sort().join(",")}`;
  for (const host of inputs.hosts) {
    const listed = ctx.destinationServices
      ? ctx.destinationServices.get(host)
      : ctx.mesh.registry.byHostname.get(host)?.[0];
    const service = ctx.mesh.registry.byHostname.get(host)?.[0];
    const rule = service ? ctx.mesh.destinationRule(ctx.namespace, service) : undefined;
    key += `|${listed ? (listed.ports.length === 1 ? listed.ports[0]?.port : "n") : "-"}`;
    if (rule) key += `:${idOf(rule)}`;
  }
  return key;
}

// Objects of one mesh version (VirtualService entries, merged DestinationRules) are immutable: an id stands for one.
const ids = new WeakMap<object, number>();
let nextId = 1;
function idOf(object: object): number {
  let id = ids.get(object);
  if (id === undefined) {
    id = nextId++;
    ids.set(object, id);
  }
  return id;
}

/** An HTTP route of a delegate VirtualService, with the namespace its short names resolve in. */
interface ExpandedRoute extends HTTPRoute {
  readonly resolveNamespace?: string;
  readonly origin: Omit<RouteOrigin, "http">;
}

/** The VirtualService's HTTP routes with `delegate` routes replaced by the delegate's routes, matches merged. */
function expandDelegates(mesh: Mesh, vs: VirtualServiceEntry): ExpandedRoute[] {
  const out: ExpandedRoute[] = [];
  const virtualService = { namespace: vs.namespace, name: vs.name };
  for (const [httpIndex, http] of (vs.spec.http ?? []).entries()) {
    if (!http.delegate?.name) {
      out.push({ ...http, origin: { virtualService, httpIndex } });
      continue;
    }
    const delegate = mesh.delegate(http.delegate.namespace || vs.namespace, http.delegate.name);
    if (!delegate) continue; // a missing delegate contributes no routes (istiod logs and skips it)
    for (const [childIndex, child] of (delegate.spec.http ?? []).entries()) {
      const matches = mergeMatches(http.match ?? [], child.match ?? []);
      if (matches === null) continue;
      out.push({
        ...child,
        match: matches,
        // istiod's join: `root-child`, or whichever of the two is named.
        name: joinNames(http.name, child.name),
        rewrite: child.rewrite ?? http.rewrite,
        timeout: child.timeout ?? http.timeout,
        retries: child.retries ?? http.retries,
        fault: child.fault ?? http.fault,
        corsPolicy: child.corsPolicy ?? http.corsPolicy,
        headers: child.headers ?? http.headers,
        resolveNamespace: delegate.namespace,
        origin: {
          virtualService,
          httpIndex,
          delegate: {
            name: http.delegate.name,
            ...(http.delegate.namespace ? { namespace: http.delegate.namespace } : {}),
            virtualService: { namespace: delegate.namespace, name: delegate.name },
            httpIndex: childIndex,
          },
        },
      });
    }
  }
  return out;
}

/**
 * istiod's test of a delegate's string match against its root's: the delegate may only narrow it — the
 * same exact value, or an exact or prefix inside the root's prefix; a regex on either side conflicts with
 * any match on the other.
 */
function stringMatchConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return false;
  if (root.regex && (leaf.regex || leaf.prefix || leaf.exact)) return true;
  if (leaf.regex && (root.prefix || root.exact)) return true;
  if (root.exact) return leaf.prefix ? true : leaf.exact !== root.exact;
  if (root.prefix) {
    if (leaf.prefix) return !leaf.prefix.startsWith(root.prefix);
    if (leaf.exact) return !leaf.exact.startsWith(root.prefix);
  }
  return true;
}

/** istiod's conflicts between a root match and a delegate's (pilot's delegate merge). */
function matchesConflict(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  for (const key of ["uri", "scheme", "method", "authority"] as const)
    if (stringMatchConflict(root[key], leaf[key])) return true;
  for (const key of ["headers", "withoutHeaders", "queryParams"] as const)
    for (const [name, value] of Object.entries(leaf[key] ?? {}))
      if (stringMatchConflict(root[key]?.[name], value)) return true;
  if ((root.ignoreUriCase ?? false) !== (leaf.ignoreUriCase ?? false)) return true;
  return Boolean(root.port && leaf.port && root.port !== leaf.port);
}

/** A merged route's or match's name as istiod joins a root's and a delegate's: `root-child`. */
function joinNames(root: string | undefined, child: string | undefined): string | undefined {
  if (!child) return root;
  return root ? `${root}-${child}` : child;
}

/**
 * Delegate × root matches (each compatible pair merged, in istiod's order: delegate match first); null
 * when some delegate match is compatible with no root match (istiod then drops the whole route).
 */
function mergeMatches(root: HTTPMatchRequest[], child: HTTPMatchRequest[]): HTTPMatchRequest[] | null {
  if (root.length === 0) return child;
  if (child.length === 0) return root;
  const out: HTTPMatchRequest[] = [];
  for (const c of child) {
    const compatible = root.filter((r) => !matchesConflict(r, c));
    if (compatible.length === 0) return null;
    for (const r of compatible)
      out.push({
        ...r,
        ...c,
        // The delegate's unset fields (decoded as undefined) take the root's.
        uri: c.uri ?? r.uri,
        scheme: c.scheme ?? r.scheme,
        method: c.method ?? r.method,
        authority: c.authority ?? r.authority,
        port: c.port || r.port,
        headers: { ...(r.headers ?? {}), ...(c.headers ?? {}) },
        queryParams: { ...(r.queryParams ?? {}), ...(c.queryParams ?? {}) },
        withoutHeaders: { ...(r.withoutHeaders ?? {}), ...(c.withoutHeaders ?? {}) },
        sourceLabels: { ...(r.sourceLabels ?? {}), ...(c.sourceLabels ?? {}) },
        name: joinNames(r.name, c.name),
      });
  }
  return out;
}

/** Does this match apply to this proxy (sourceLabels, gateways, sourceNamespace, port)? */
function appliesTo(ctx: RouteContext, vs: VirtualServiceEntry, match: HTTPMatchRequest | undefined, port: number) {
  if (!match) return true;
  if (match.port && match.port !== port) return false;
  if (match.gateways && match.gateways.length > 0)
    return match.gateways.some((g) => ctx.gateways.has(resolveGateway(g, vs.namespace)));
  for (const [key, value] of Object.entries(match.sourceLabels ?? {})) if (ctx.labels[key] !== value) return false;
  return !match.sourceNamespace || match.sourceNamespace === ctx.namespace;
}

function translateRoute(
  ctx: RouteContext,
  vs: VirtualServiceEntry,
  http: ExpandedRoute,
  match: HTTPMatchRequest | undefined,
  port: number,
): Route | undefined {
  if (!appliesTo(ctx, vs, match, port)) return undefined;
  // istiod joins them even when the HTTP route has no name (".m0").
  const name = match?.name ? `${http.name ?? ""}.${match.name}` : (http.name ?? "");
  const out: Route = { name, match: translateMatch(match) };
  let authority = "";
  if (http.headers) {
    const ops = headerOperations(http.headers);
    Object.assign(out, ops.route);
    authority = ops.authority;
  }
  const namespace = http.resolveNamespace ?? vs.namespace;
  if (http.redirect) {
    const redirect = translateRedirect(http, port, ctx.tls ?? false);
    if (!redirect) return undefined;
    out.redirect = redirect;
  } else if (http.directResponse) {
    const body = http.directResponse.body;
    out.directResponse = {
      status: http.directResponse.status ?? 200,
      ...(body?.string !== undefined
        ? { body: { inlineString: body.string } }
        : body?.bytes !== undefined
          ? { body: { inlineBytes: body.bytes } }
          : {}),
    };
  } else {
    out.route = routeAction(ctx, http, namespace, port, authority, out);
  }
  const operationCluster = out.route?.cluster;
  out.decorator = { operation: operationOf(out, operationCluster, vs.name, port) };
  const perFilter: Record<string, Any> = {};
  const fault = http.fault ? translateFault(http.fault) : undefined;
  if (fault) perFilter[FILTER.fault] = packAny(TYPE.fault, HTTPFault, fault);
  if (http.corsPolicy) perFilter[FILTER.cors] = packAny(TYPE.corsPolicy, CorsPerRoute, translateCors(http.corsPolicy));
  if (Object.keys(perFilter).length > 0) out.typedPerFilterConfig = perFilter;
  return out;
}

function operationOf(route: Route, cluster: string | undefined, vsName: string, port: number): string {
  const m = route.match ?? {};
  const path =
    m.prefix !== undefined
      ? `${m.prefix}*`
      : m.path !== undefined
        ? m.path
        : m.safeRegex
          ? (m.safeRegex.regex ?? "")
          : "/*";
  if (cluster?.startsWith("outbound|")) {
    const [, clusterPort, , host] = cluster.split("|");
    return `${host}:${clusterPort}${path}`;
  }
  return `${vsName}:${port}${path}`;
}

function routeAction(
  ctx: RouteContext,
  http: ExpandedRoute,
  namespace: string,
  port: number,
  authority: string,
  out: Route,
): RouteAction {
  const action: RouteAction = { timeout: http.timeout ?? ZERO };
  if (ctx.proxyless) action.maxStreamDuration = { maxStreamDuration: action.timeout };
  else action.maxGrpcTimeout = action.timeout;
  if (http.rewrite) {
    const regex = http.rewrite.uriRegexRewrite;
    if (regex?.match !== undefined)
      action.regexRewrite = { pattern: { regex: regex.match }, substitution: regex.rewrite ?? "" };
    else if (http.rewrite.uri) action.prefixRewrite = http.rewrite.uri;
    if (http.rewrite.authority) authority = http.rewrite.authority;
  }
  if (authority) action.hostRewriteLiteral = authority;
  const mirrors: NonNullable<RouteAction["requestMirrorPolicies"]> = [];
  if (http.mirror) {
    const fraction = http.mirrorPercentage
      ? http.mirrorPercentage.value && http.mirrorPercentage.value > 0
        ? percentOf(http.mirrorPercentage.value)
        : undefined
      : http.mirrorPercent !== undefined
        ? http.mirrorPercent > 0
          ? hundredths(http.mirrorPercent)
          : undefined
        : hundredths(100);
    if (fraction)
      mirrors.push({
        cluster: destinationCluster(ctx, http.mirror, namespace, port),
        runtimeFraction: { defaultValue: fraction },
        traceSampled: false,
      });
  }
  for (const mirror of http.mirrors ?? []) {
    if (!mirror.destination) continue;
    const fraction = mirror.percentage
      ? mirror.percentage.value && mirror.percentage.value > 0
        ? percentOf(mirror.percentage.value)
        : undefined
      : hundredths(100);
    if (fraction)
      mirrors.push({
        cluster: destinationCluster(ctx, mirror.destination, namespace, port),
        runtimeFraction: { defaultValue: fraction },
        traceSampled: false,
      });
  }
  if (mirrors.length > 0) action.requestMirrorPolicies = mirrors;

  const destinations = http.route ?? [];
  let consistentHash = false;
  const hashPolicies: NonNullable<RouteAction["hashPolicy"]> = [];
  const addHash = (dst: HTTPRouteDestination) => {
    const hash = consistentHashOf(ctx, dst, namespace, port);
    const policy = hash ? hashPolicyOf(hash) : undefined;
    if (policy) hashPolicies.push(policy);
    return hash !== undefined;
  };
  if (destinations.length === 1) {
    const dst = destinations[0] as HTTPRouteDestination;
    action.cluster = destinationCluster(ctx, dst.destination, namespace, port);
    if (dst.headers) {
      const ops = headerOperations(dst.headers);
      out.requestHeadersToAdd = [...(out.requestHeadersToAdd ?? []), ...(ops.route.requestHeadersToAdd ?? [])];
      out.requestHeadersToRemove = [...(out.requestHeadersToRemove ?? []), ...(ops.route.requestHeadersToRemove ?? [])];
      out.responseHeadersToAdd = [...(out.responseHeadersToAdd ?? []), ...(ops.route.responseHeadersToAdd ?? [])];
      out.responseHeadersToRemove = [
        ...(out.responseHeadersToRemove ?? []),
        ...(ops.route.responseHeadersToRemove ?? []),
      ];
      for (const key of Object.keys(out) as Array<keyof Route>)
        if (Array.isArray(out[key]) && (out[key] as unknown[]).length === 0) delete out[key];
      if (ops.authority && !action.hostRewriteLiteral) action.hostRewriteLiteral = ops.authority;
    }
    consistentHash = addHash(dst);
  } else if (destinations.length > 1) {
    action.weightedClusters = {
      clusters: destinations
        .filter((d) => (d.weight ?? 0) !== 0)
        .map((dst) => {
          addHash(dst);
          const weight: NonNullable<NonNullable<RouteAction["weightedClusters"]>["clusters"]>[number] = {
            name: destinationCluster(ctx, dst.destination, namespace, port),
            weight: dst.weight ?? 0,
          };
          if (dst.headers) {
            const ops = headerOperations(dst.headers);
            Object.assign(weight, ops.route);
            if (ops.authority) weight.hostRewriteLiteral = ops.authority;
          }
          return weight;
        }),
    };
  }
  if (hashPolicies.length > 0) action.hashPolicy = hashPolicies;
  const retry = retryPolicy(http.retries, consistentHash);
  if (retry) action.retryPolicy = retry;
  return action;
}

/** `outbound|<port>|<subset>|<host>` of a destination: its port, the service's only port, or the listener's. */
function destinationCluster(ctx: RouteContext, dst: Destination | undefined, namespace: string, port: number): string {
  const host = resolveHost(dst?.host ?? "", namespace, ctx.mesh.options.domainSuffix);
  const service = ctx.destinationServices
    ? ctx.destinationServices.get(host)
    : ctx.mesh.registry.byHostname.get(host)?.[0];
  const dstPort =
    dst?.port?.number || (service && service.ports.length === 1 ? (service.ports[0]?.port ?? port) : port);
  return outboundClusterName(host, dstPort, dst?.subset ?? "");
}

function consistentHashOf(
  ctx: RouteContext,
  dst: HTTPRouteDestination,
  namespace: string,
  port: number,
): LoadBalancerSettings_ConsistentHashLB | undefined {
  const host = resolveHost(dst.destination?.host ?? "", namespace, ctx.mesh.options.domainSuffix);
  const service = ctx.mesh.registry.byHostname.get(host)?.[0];
  if (!service) return undefined;
  const rule = ctx.mesh.destinationRule(ctx.namespace, service);
  if (!rule) return undefined;
  const dstPort =
    dst.destination?.port?.number || (service.ports.length === 1 ? (service.ports[0]?.port ?? port) : port);
  const subset = rule.subsets.find((s) => s.name === dst.destination?.subset);
  return effectivePolicy(rule, dstPort, subset).loadBalancer?.consistentHash;
}

function hashPolicyOf(
  hash: LoadBalancerSettings_ConsistentHashLB,
): NonNullable<RouteAction["hashPolicy"]>[number] | undefined {
  if (hash.httpHeaderName) return { header: { headerName: hash.httpHeaderName } };
  if (hash.httpCookie)
    return {
      cookie: {
        name: hash.httpCookie.name ?? "",
        ...(hash.httpCookie.path ? { path: hash.httpCookie.path } : {}),
        ...(hash.httpCookie.ttl ? { ttl: hash.httpCookie.ttl } : {}),
      },
    };
  if (hash.useSourceIp) return { connectionProperties: { sourceIp: true } };
  if (hash.httpQueryParameterName) return { queryParameter: { name: hash.httpQueryParameterName } };
  return undefined;
}

/** Istio's default policy when unset; none when attempts is 0; integers in retryOn become status codes. */
export function retryPolicy(in_: HTTPRetry | undefined, consistentHash: boolean): RouteAction["retryPolicy"] {
  // The default policies are shared by every route that uses them (generated messages are never mutated).
  if (!in_) {
    const cached = consistentHash ? defaultHashRetry : defaultRetry;
    if (cached) return cached;
  }
  const out: NonNullable<RouteAction["retryPolicy"]> = {
    retryOn: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
    numRetries: 2,
    hostSelectionRetryMaxAttempts: 5,
    retriableStatusCodes: [503],
  };
  if (!consistentHash)
    out.retryHostPredicate = [
      {
        name: "envoy.retry_host_predicates.previous_hosts",
        typedConfig: packAny(TYPE.previousHosts, PreviousHostsPredicate, {}),
      },
    ];
  if (!in_) {
    if (consistentHash) defaultHashRetry = out;
    else defaultRetry = out;
    return out;
  }
  if (!in_.attempts || in_.attempts <= 0) return undefined;
  out.numRetries = in_.attempts;
  if (in_.retryOn) {
    const parts = in_.retryOn
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean);
    const codes = parts.filter((p) => /^\d+$/.test(p) && Number(p) >= 100 && Number(p) < 600).map(Number);
    const conditions = parts.filter((p) => !(/^\d+$/.test(p) && Number(p) >= 100 && Number(p) < 600));
    out.retryOn = conditions.join(",");
    out.retriableStatusCodes = codes;
    if (codes.length > 0 && !out.retryOn.includes("retriable-status-codes"))
      out.retryOn = out.retryOn ? `${out.retryOn},retriable-status-codes` : "retriable-status-codes";
    if (codes.length === 0) delete out.retriableStatusCodes;
  }
  if (in_.perTryTimeout) out.perTryTimeout = in_.perTryTimeout;
  if (in_.retryIgnorePreviousHosts !== undefined && !in_.retryIgnorePreviousHosts) delete out.retryHostPredicate;
  if (in_.retryIgnorePreviousHosts && !out.retryHostPredicate)
    out.retryHostPredicate = [
      {
        name: "envoy.retry_host_predicates.previous_hosts",
        typedConfig: packAny(TYPE.previousHosts, PreviousHostsPredicate, {}),
      },
    ];
  if (in_.backoff) out.retryBackOff = { baseInterval: in_.backoff };
  return out;
}

function stringMatcher(m: StringMatch): StringMatcher | undefined {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  if (m.regex !== undefined) return { safeRegex: { regex: m.regex } };
  return undefined;
}

const isPresentMatch = (m: StringMatch | undefined) =>
  !m || (m.exact === undefined && m.prefix === undefined && (m.regex === undefined || m.regex === "*"));

function headerMatcher(name: string, m: StringMatch | undefined): HeaderMatcher {
  if (isPresentMatch(m)) return { name, presentMatch: true };
  return { name, stringMatch: stringMatcher(m as StringMatch) };
}

/** An HTTPMatchRequest as Envoy's RouteMatch (none: prefix `/`). */
export function translateMatch(match: HTTPMatchRequest | undefined): RouteMatch {
  const out: RouteMatch = { prefix: "/" };
  if (!match) return out;
  const headers: HeaderMatcher[] = [];
  for (const [name, m] of Object.entries(match.headers ?? {})) headers.push(headerMatcher(name, m));
  for (const [name, m] of Object.entries(match.withoutHeaders ?? {})) {
    const matcher = headerMatcher(name, m);
    matcher.invertMatch = true;
    if (!isPresentMatch(m)) matcher.treatMissingHeaderAsEmpty = true;
    headers.push(matcher);
  }
  headers.sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : (a.name ?? "") > (b.name ?? "") ? 1 : 0));
  if (match.uri) {
    if (match.uri.exact !== undefined) {
      delete out.prefix;
      out.path = match.uri.exact;
    } else if (match.uri.prefix !== undefined) {
      out.prefix = match.uri.prefix;
    } else if (match.uri.regex !== undefined) {
      delete out.prefix;
      out.safeRegex = { regex: match.uri.regex };
    }
  }
  out.caseSensitive = !match.ignoreUriCase;
  if (match.method) headers.push(headerMatcher(":method", match.method));
  if (match.authority) headers.push(headerMatcher(":authority", match.authority));
  if (match.scheme) headers.push(headerMatcher(":scheme", match.scheme));
  if (headers.length > 0) out.headers = headers;
  const query = Object.entries(match.queryParams ?? {}).map(([name, m]) =>
    isPresentMatch(m) ? { name, presentMatch: true } : { name, stringMatch: stringMatcher(m) },
  );
  if (query.length > 0) out.queryParameters = query;
  return out;
}

/** A route every request reaching it matches: istiod stops generating routes after it. */
export function isCatchAll(route: Route): boolean {
  const m = route.match ?? {};
  const path = m.prefix === "/" || m.pathSeparatedPrefix === "/" || m.safeRegex?.regex === ".*";
  return path && !m.headers?.length && !m.queryParameters?.length && !m.dynamicMetadata?.length;
}

function headerOperations(headers: Headers): {
  route: Pick<
    Route,
    "requestHeadersToAdd" | "requestHeadersToRemove" | "responseHeadersToAdd" | "responseHeadersToRemove"
  >;
  authority: string;
} {
  const isInternal = (k: string) => k.startsWith(":") || k.toLowerCase() === "host";
  const isAuthority = (k: string) => k.toLowerCase() === ":authority" || k.toLowerCase() === "host";
  let setAuthority = "";
  let addAuthority = "";
  const options = (
    map: Record<string, string> | undefined,
    append: boolean,
    which: "set" | "add",
  ): HeaderValueOption[] => {
    const list: HeaderValueOption[] = [];
    for (const [key, value] of Object.entries(map ?? {})) {
      if (isAuthority(key)) {
        if (which === "set") setAuthority = value;
        else addAuthority = value;
      }
      if (isInternal(key)) continue;
      list.push({
        header: { key, value },
        appendAction: append
          ? HeaderValueOption_HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD
          : HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
      });
    }
    return list.sort((a, b) => ((a.header?.key ?? "") < (b.header?.key ?? "") ? -1 : 1));
  };
  const reqAdd = [...options(headers.request?.set, false, "set"), ...options(headers.request?.add, true, "add")];
  const respAdd = [...options(headers.response?.set, false, "set"), ...options(headers.response?.add, true, "add")];
  const reqRemove = (headers.request?.remove ?? []).filter((k) => !isInternal(k));
  const respRemove = (headers.response?.remove ?? []).filter((k) => !isInternal(k));
  return {
    route: {
      ...(reqAdd.length > 0 ? { requestHeadersToAdd: reqAdd } : {}),
      ...(reqRemove.length > 0 ? { requestHeadersToRemove: reqRemove } : {}),
      ...(respAdd.length > 0 ? { responseHeadersToAdd: respAdd } : {}),
      ...(respRemove.length > 0 ? { responseHeadersToRemove: respRemove } : {}),
    },
    authority: setAuthority || addAuthority,
  };
}

function translateRedirect(http: HTTPRoute, port: number, tls: boolean): Route["redirect"] | undefined {
  const redirect = http.redirect;
  if (!redirect) return undefined;
  const codes: Record<number, RedirectAction_RedirectResponseCode> = {
    0: RedirectAction_RedirectResponseCode.MOVED_PERMANENTLY,
    301: RedirectAction_RedirectResponseCode.MOVED_PERMANENTLY,
    302: RedirectAction_RedirectResponseCode.FOUND,
    303: RedirectAction_RedirectResponseCode.SEE_OTHER,
    307: RedirectAction_RedirectResponseCode.TEMPORARY_REDIRECT,
    308: RedirectAction_RedirectResponseCode.PERMANENT_REDIRECT,
  };
  const responseCode = codes[redirect.redirectCode ?? 0];
  if (responseCode === undefined) return undefined; // istiod drops routes with other codes
  const out: NonNullable<Route["redirect"]> = { responseCode };
  if (redirect.authority) out.hostRedirect = redirect.authority;
  if (redirect.prefixRewrite) out.prefixRewrite = redirect.prefixRewrite;
  else if (redirect.uri) out.pathRedirect = redirect.uri;
  if (redirect.scheme) out.schemeRedirect = redirect.scheme;
  if (redirect.port !== undefined || redirect.derivePort !== undefined) {
    let portRedirect =
      redirect.port ?? (redirect.derivePort === HTTPRedirect_RedirectPortSelection.FROM_REQUEST_PORT ? port : 0);
    const scheme = redirect.scheme || (tls ? "https" : "http");
    if ((portRedirect === 80 && scheme === "http") || (portRedirect === 443 && scheme === "https")) portRedirect = 0;
    if (portRedirect) out.portRedirect = portRedirect;
  }
  return out;
}

const percentOf = (value: number) => ({
  numerator: Math.floor(value * 10000),
  denominator: FractionalPercent_DenominatorType.MILLION,
});
const hundredths = (value: number) => ({ numerator: value, denominator: FractionalPercent_DenominatorType.HUNDRED });

function translateFault(fault: HTTPFaultInjection): HTTPFault | undefined {
  const out: HTTPFault = {};
  if (fault.delay?.fixedDelay) {
    out.delay = {
      fixedDelay: fault.delay.fixedDelay,
      percentage: fault.delay.percentage
        ? percentOf(fault.delay.percentage.value ?? 0)
        : hundredths(fault.delay.percent ?? 0),
    };
  }
  if (fault.abort && (fault.abort.httpStatus !== undefined || fault.abort.grpcStatus !== undefined)) {
    out.abort = {
      ...(fault.abort.httpStatus !== undefined
        ? { httpStatus: fault.abort.httpStatus }
        : { grpcStatus: GRPC_STATUS[fault.abort.grpcStatus ?? ""] ?? 2 }),
      ...(fault.abort.percentage ? { percentage: percentOf(fault.abort.percentage.value ?? 0) } : {}),
    };
  }
  return out.delay || out.abort ? out : undefined;
}

const GRPC_STATUS: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

function translateCors(cors: IstioCorsPolicy): CorsPerRoute {
  const origins = cors.allowOrigins?.length
    ? cors.allowOrigins.map(stringMatcher).filter((m): m is StringMatcher => m !== undefined)
    : (cors.allowOrigin ?? []).map((exact) => ({ exact }));
  return {
    allowOriginStringMatch: origins,
    allowMethods: (cors.allowMethods ?? []).join(","),
    allowHeaders: (cors.allowHeaders ?? []).join(","),
    exposeHeaders: (cors.exposeHeaders ?? []).join(","),
    ...(cors.maxAge ? { maxAge: String(cors.maxAge.seconds ?? 0) } : {}),
    ...(cors.allowCredentials !== undefined ? { allowCredentials: cors.allowCredentials } : {}),
    filterEnabled: { defaultValue: hundredths(100) },
    forwardNotMatchingPreflights: cors.unmatchedPreflights !== 2, // IGNORE
  };
}

/** The route of a service without a VirtualService: everything to its default cluster. */
export function defaultRoute(cluster: string, proxyless = false): Route {
  const [, port, , host] = cluster.split("|");
  return {
    name: "default",
    match: { prefix: "/" },
    route: {
      cluster,
      timeout: ZERO,
      ...(proxyless ? { maxStreamDuration: { maxStreamDuration: ZERO } } : { maxGrpcTimeout: ZERO }),
      retryPolicy: retryPolicy(undefined, false),
    },
    decorator: { operation: `${host}:${port}/*` },
  };
}

/** The last virtual host of a sidecar route configuration: pass unknown hosts through, or answer 502. */
export function catchAllVirtualHost(mode: "ALLOW_ANY" | "REGISTRY_ONLY"): VirtualHost {
  if (mode === "REGISTRY_ONLY")
    return {
      name: "block_all",
      domains: ["*"],
      routes: [{ name: "block_all", match: { prefix: "/" }, directResponse: { status: 502 } }],
    };
  return {
    name: "allow_any",
    domains: ["*"],
    routes: [
      {
        name: "allow_any",
        match: { prefix: "/" },
        route: { cluster: PASSTHROUGH, timeout: ZERO, maxGrpcTimeout: ZERO },
      },
    ],
  };
}
