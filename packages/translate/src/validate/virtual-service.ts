// VirtualService rules, with Istio's messages (see docs/translate-validation.md for the list in our words).
import type {
  CorsPolicy,
  Destination,
  Headers,
  HTTPFaultInjection,
  HTTPMatchRequest,
  HTTPRoute,
  HTTPRouteDestination,
  RouteDestination,
  StringMatch,
  TLSRoute,
  VirtualService,
} from "@xdskit/core/istio";
import {
  fqdnProblem,
  gatewayDomainProblem,
  hostSubsetOf,
  hostsMatch,
  ipSubnetProblem,
  isDns1123Label,
  isIpAddress,
  labelsProblems,
  portProblem,
  re2Problem,
  wildcardDomainProblem,
} from "./names.js";
import { checkDuration, dict, goFloat, list, type Report } from "./report.js";
import { analyzeUnreachableRules } from "./unreachable-rules.js";

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
const PSEUDO_HEADERS = new Set([":method", ":scheme", ":authority", ":path", ":status"]);
const CORS_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"]);
const GRPC_STATUSES = new Set([
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
]);
const RETRY_ON = new Set([
  "5xx",
  "gateway-error",
  "reset",
  "reset-before-request",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "retriable-headers",
  "envoy-ratelimited",
  "http3-post-connect-failure",
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
]);
// The status codes Go's net/http knows a text for (what Istio accepts as a numeric retryOn entry).
const HTTP_STATUS_CODES = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400,
  401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425,
  426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

export const isJwtClaimRoute = (name: string) => name.startsWith("@request.auth.claims");

/** A VirtualService bound only to named gateways (not `mesh`) gets gateway semantics for its hosts. */
export function appliesToGateway(vs: VirtualService): boolean {
  return list(vs.gateways).length > 0 && !list(vs.gateways).includes("mesh");
}

export function validateVirtualService(vs: VirtualService, namespace: string, report: Report): void {
  if (list(vs.hosts).length === 0) {
    // A delegate: only HTTP routes, bound by its root.
    if (list(vs.gateways).length > 0)
      report.error("spec.gateways", "delegate virtual service must have no gateways specified");
    if (list(vs.tls).length > 0) report.error("spec.tls", "delegate virtual service must have no tls route specified");
    if (list(vs.tcp).length > 0) report.error("spec.tcp", "delegate virtual service must have no tcp route specified");
  }
  const onGateway = appliesToGateway(vs);
  const onMesh = !onGateway;
  if (list(vs.gateways).length > 0) validateGatewayNames(list(vs.gateways), "spec.gateways", report);
  if (!onGateway) {
    for (const [i, http] of list(vs.http).entries())
      for (const [j, m] of list(http.match).entries()) {
        for (const key of [...Object.keys(dict(m.headers)), ...Object.keys(dict(m.withoutHeaders))])
          if (isJwtClaimRoute(key))
            report.error(
              `spec.http[${i}].match[${j}].headers`,
              `JWT claim based routing (key: ${key}) is only supported for gateway, found no gateways: [${list(vs.gateways).join(" ")}]`,
            );
      }
  }
  let allHostsValid = true;
  list(vs.hosts).forEach((host, i) => {
    const problem = onGateway ? gatewayDomainProblem(false, host) : wildcardDomainProblem(host);
    if (problem) {
      if (!isIpAddress(host)) {
        report.error(`spec.hosts[${i}]`, problem);
        allHostsValid = false;
      }
    } else if (onMesh && host === "*") {
      report.error(`spec.hosts[${i}]`, "wildcard host * is not allowed for virtual services bound to the mesh gateway");
      allHostsValid = false;
    }
  });
  if (allHostsValid) {
    for (let i = 0; i < list(vs.hosts).length; i++)
      for (let j = i + 1; j < list(vs.hosts).length; j++) {
        const [a, b] = [list(vs.hosts)[i] as string, list(vs.hosts)[j] as string];
        if (hostsMatch(a, b)) report.error(`spec.hosts[${j}]`, `duplicate hosts in virtual service: ${a} & ${b}`);
      }
  }
  if (list(vs.http).length === 0 && list(vs.tcp).length === 0 && list(vs.tls).length === 0)
    report.error("spec", "http, tcp or tls must be provided in virtual service");
  list(vs.http).forEach((http, i) => {
    validateHttpRoute(http, list(vs.hosts).length === 0, `spec.http[${i}]`, report);
  });
  list(vs.tls).forEach((tls, i) => {
    validateTlsRoute(tls, vs, `spec.tls[${i}]`, report);
  });
  list(vs.tcp).forEach((tcp, i) => {
    const path = `spec.tcp[${i}]`;
    list(tcp.match).forEach((m, j) => {
      const at = `${path}.match[${j}]`;
      for (const [k, s] of list(m.destinationSubnets).entries())
        problemTo(report, `${at}.destinationSubnets[${k}]`, ipSubnetProblem(s));
      if (m.port) problemTo(report, `${at}.port`, portProblem(m.port));
      for (const p of labelsProblems(dict(m.sourceLabels))) report.error(`${at}.sourceLabels`, p);
      validateGatewayNames(list(m.gateways), `${at}.gateways`, report);
    });
    if (list(tcp.route).length === 0) report.error(`${path}.route`, "TCP route is required");
    validateRouteDestinations(list(tcp.route), `${path}.route`, report);
  });
  validateExportTo(namespace, list(vs.exportTo), false, false, "spec.exportTo", report);
  analyzeUnreachableRules(vs, report);
}

function problemTo(report: Report, path: string, problem: string | undefined): void {
  if (problem) report.error(path, problem);
}

export function validateGatewayNames(names: readonly string[], path: string, report: Report): void {
  names.forEach((name, i) => {
    const at = `${path}[${i}]`;
    const slash = name.indexOf("/");
    if (slash < 0) {
      if (name.includes(".")) {
        const parts = name.split(".");
        report.warning(
          at,
          `using legacy gatewayName format "${name}"; prefer the <namespace>/<name> format: "${parts[1]}/${parts[0]}"`,
        );
      }
      problemTo(report, at, fqdnProblem(name));
      return;
    }
    const [ns, gw] = [name.slice(0, slash), name.slice(slash + 1)];
    if (!ns || !gw) report.error(at, "config namespace and gateway name cannot be empty");
    if (!isDns1123Label(ns)) report.error(at, `invalid value for namespace: "${ns}"`);
    if (!isDns1123Label(gw)) report.error(at, `invalid value for gateway name: "${gw}"`);
  });
}

function validateHttpRoute(http: HTTPRoute, isDelegate: boolean, path: string, report: Report): void {
  // Conflicts between actions.
  if (!isDelegate && http.delegate) {
    if (http.redirect) report.error(`${path}.redirect`, `root HTTP route ${http.name} must not specify redirect`);
    if (list(http.route).length > 0)
      report.error(`${path}.route`, `root HTTP route ${http.name} must not specify route`);
  } else {
    if (isDelegate && http.delegate) report.error(`${path}.delegate`, "delegate HTTP route cannot contain delegate");
    if (http.redirect) {
      if (list(http.route).length > 0) report.error(path, "HTTP route cannot contain both route and redirect");
      if (http.fault) report.error(path, "HTTP route cannot contain both fault and redirect");
      if (http.rewrite) report.error(path, "HTTP route rule cannot contain both rewrite and redirect");
      if (http.directResponse) report.error(path, "HTTP route rule cannot contain both direct_response and redirect");
    } else if (http.directResponse) {
      if (list(http.route).length > 0) report.error(path, "HTTP route cannot contain both route and direct_response");
      if (http.fault) report.error(path, "HTTP route cannot contain both fault and direct_response");
      if (http.rewrite) report.error(path, "HTTP route rule cannot contain both rewrite and direct_response");
    } else if (list(http.route).length === 0) {
      report.error(path, "HTTP route, redirect or direct_response is required");
    }
    if (http.mirror && list(http.mirrors).length > 0)
      report.error(path, "HTTP route cannot contain both mirror and mirrors");
  }
  list(http.match).forEach((m, j) => {
    validateMatch(m, `${path}.match[${j}]`, report);
  });
  validateHeaderOperations(http.headers, `${path}.headers`, report);
  validateCors(http.corsPolicy, `${path}.corsPolicy`, report);
  validateFault(http.fault, `${path}.fault`, report);
  if (http.mirrorPercent !== undefined) {
    if (http.mirrorPercent > 100)
      report.error(
        `${path}.mirrorPercent`,
        `mirror_percent must have a max value of 100 (it has ${http.mirrorPercent})`,
      );
    report.warning(`${path}.mirrorPercent`, 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead');
  }
  if (http.mirrorPercentage) {
    const value = http.mirrorPercentage.value ?? 0;
    if (value > 100)
      report.error(
        `${path}.mirrorPercentage`,
        `mirror_percentage must have a max value of 100 (it has ${goFloat(value)})`,
      );
    if (value < 0)
      report.error(
        `${path}.mirrorPercentage`,
        `mirror_percentage must have a min value of 0 (it has ${goFloat(value)})`,
      );
  }
  validateDestination(http.mirror, `${path}.mirror`, report);
  list(http.mirrors).forEach((mirror, k) => {
    const at = `${path}.mirrors[${k}]`;
    if (!mirror.destination) {
      report.error(at, "destination is required for mirrors");
      return;
    }
    validateDestination(mirror.destination, `${at}.destination`, report);
    const value = mirror.percentage?.value;
    if (value !== undefined && value > 100)
      report.error(`${at}.percentage`, `mirror percentage must have a max value of 100 (it has ${goFloat(value)})`);
    if (value !== undefined && value < 0)
      report.error(`${at}.percentage`, `mirror percentage must have a min value of 0 (it has ${goFloat(value)})`);
  });
  validateRedirect(http, `${path}.redirect`, report);
  if (http.directResponse) {
    const at = `${path}.directResponse`;
    const body = http.directResponse.body;
    const size = body?.string !== undefined ? Buffer.byteLength(body.string) : (body?.bytes?.length ?? 0);
    if (size > 1024 * 1024)
      report.error(`${at}.body`, "large direct_responses may impact control plane performance, must be less than 1MB");
    else if (size > 100 * 1024)
      report.warning(`${at}.body`, "large direct_responses may impact control plane performance");
    problemTo(report, `${at}.status`, httpStatusProblem(http.directResponse.status ?? 0));
  }
  validateRetries(http, `${path}.retries`, report);
  validateRewrite(http, `${path}.rewrite`, report);
  validateHttpRouteDestinations(list(http.route), `${path}.route`, report);
  checkDuration(report, `${path}.timeout`, http.timeout);
}

function validateMatch(m: HTTPMatchRequest, path: string, report: Report): void {
  for (const [name, match] of Object.entries(dict(m.headers))) {
    problemTo(report, `${path}.headers.${name}`, headerNameOrClaimProblem(name));
    problemTo(report, `${path}.headers.${name}`, stringMatchProblem(match, "headers"));
  }
  for (const [name, match] of Object.entries(dict(m.withoutHeaders))) {
    problemTo(report, `${path}.withoutHeaders.${name}`, headerNameOrClaimProblem(name));
    // `*` is not a regex here: it means "the header is present".
    if (match.regex !== "*")
      problemTo(report, `${path}.withoutHeaders.${name}`, stringMatchProblem(match, "withoutHeaders"));
  }
  // An empty URI prefix is allowed (Envoy accepts it); scheme, method and authority prefixes must not be empty.
  problemTo(report, `${path}.uri`, regexMatchProblem(m.uri, "uri"));
  problemTo(report, `${path}.scheme`, stringMatchProblem(m.scheme, "scheme"));
  problemTo(report, `${path}.method`, stringMatchProblem(m.method, "method"));
  problemTo(report, `${path}.authority`, stringMatchProblem(m.authority, "authority"));
  for (const [name, match] of Object.entries(dict(m.queryParams)))
    problemTo(report, `${path}.queryParams.${name}`, stringMatchProblem(match, "queryParams"));
  if (m.port) problemTo(report, `${path}.port`, portProblem(m.port));
  for (const p of labelsProblems(dict(m.sourceLabels))) report.error(`${path}.sourceLabels`, p);
  validateGatewayNames(list(m.gateways), `${path}.gateways`, report);
  if (m.sourceNamespace && !isDns1123Label(m.sourceNamespace))
    report.error(`${path}.sourceNamespace`, `sourceNamespace match ${m.sourceNamespace} is invalid`);
}

function headerNameOrClaimProblem(name: string): string | undefined {
  if (name === "") return "header name cannot be empty";
  if (isJwtClaimRoute(name) || PSEUDO_HEADERS.has(name)) return undefined;
  return HEADER_NAME.test(name) ? undefined : `header name ${name} is not a valid header name`;
}

function stringMatchProblem(match: StringMatch | undefined, where: string): string | undefined {
  if (match?.prefix !== undefined && match.prefix === "") return `"${where}": prefix string match should not be empty`;
  return regexMatchProblem(match, where);
}

function regexMatchProblem(match: StringMatch | undefined, where: string): string | undefined {
  if (match?.regex === undefined) return undefined;
  if (match.regex === "") return `"${where}": regex string match should not be empty`;
  return regexProblem(match.regex, where);
}

function regexProblem(re: string, where: string): string | undefined {
  if (re.length > 1024) return `"${where}": regex is too large, max length allowed is 1024`;
  const problem = re2Problem(re);
  return problem
    ? `"${where}": ${problem}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)`
    : undefined;
}

const isInternalHeader = (name: string) => name.startsWith(":") || name.toLowerCase() === "host";
const isAuthorityHeader = (name: string) => name.toLowerCase() === ":authority" || name.toLowerCase() === "host";

function validateHeaderOperations(headers: Headers | undefined, path: string, report: Report): void {
  if (!headers) return;
  const requestName = (name: string) => {
    if (name === "") return "header name cannot be empty";
    if (isInternalHeader(name) && !isAuthorityHeader(name))
      return `invalid header "${name}": header cannot have ":" prefix`;
    return undefined;
  };
  const otherName = (name: string) => {
    if (name === "") return "header name cannot be empty";
    if (name.toLowerCase() === "host") return `invalid header "${name}": cannot set Host header`;
    if (isInternalHeader(name)) return `invalid header "${name}": header cannot have ":" prefix`;
    return undefined;
  };
  for (const [side, ops] of [
    ["request", headers.request],
    ["response", headers.response],
  ] as const) {
    if (!ops) continue;
    const nameCheck = side === "request" ? requestName : otherName;
    for (const op of ["set", "add"] as const)
      for (const [name, value] of Object.entries(dict(ops[op]))) {
        const at = `${path}.${side}.${op}.${name}`;
        problemTo(report, at, nameCheck(name));
        problemTo(report, at, headerValueProblem(value));
      }
    list(ops.remove).forEach((name, i) => {
      problemTo(report, `${path}.${side}.remove[${i}]`, otherName(name));
    });
  }
}

function headerValueProblem(value: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is refused
  if (/[\u0000-\u0008\u000A-\u001F\u007F]/.test(value)) return `header value configuration ${value} is invalid`;
  return undefined;
}

function validateCors(policy: CorsPolicy | undefined, path: string, report: Report): void {
  if (!policy) return;
  list(policy.allowOrigins).forEach((origin, i) => {
    const at = `${path}.allowOrigins[${i}]`;
    const value = origin.exact ?? origin.prefix ?? origin.regex ?? "";
    if (value === "") report.error(at, `'${value}' is not a valid match type for CORS allow origins`);
    else problemTo(report, at, regexMatchProblem(origin, "corsPolicy.allowOrigins"));
  });
  list(policy.allowMethods).forEach((m, i) => {
    if (!CORS_METHODS.has(m)) report.error(`${path}.allowMethods[${i}]`, `"${m}" is not a supported HTTP method`);
  });
  for (const field of ["allowHeaders", "exposeHeaders"] as const)
    list(policy[field]).forEach((name, i) => {
      if (name === "") report.error(`${path}.${field}[${i}]`, "header name cannot be empty");
      else if (name !== "*" && !HEADER_NAME.test(name))
        report.error(`${path}.${field}[${i}]`, `header name ${name} is not a valid header name`);
    });
  if (policy.maxAge) {
    checkDuration(report, `${path}.maxAge`, policy.maxAge);
    if ((policy.maxAge.nanos ?? 0) > 0)
      report.error(`${path}.maxAge`, "max_age duration is accurate only to seconds precision");
  }
}

function percentageProblem(value: number | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value < 0 || value > 100 || (value > 0 && value < 0.0001))
    return `percentage ${value} is neither 0.0, nor in range [0.0001, 100.0]`;
  return undefined;
}

function httpStatusProblem(status: number): string | undefined {
  return status < 200 || status > 600 ? `HTTP status ${status} is not in range 200-599` : undefined;
}

function validateFault(fault: HTTPFaultInjection | undefined, path: string, report: Report): void {
  if (!fault) return;
  if (!fault.abort && !fault.delay) report.error(path, "HTTP fault injection must have an abort and/or a delay");
  const abort = fault.abort;
  if (abort) {
    problemTo(report, `${path}.abort.percentage`, percentageProblem(abort.percentage?.value));
    if (abort.grpcStatus !== undefined) {
      if (!GRPC_STATUSES.has(abort.grpcStatus))
        report.error(
          `${path}.abort.grpcStatus`,
          `gRPC status "${abort.grpcStatus}" is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`,
        );
    } else if (abort.http2Error !== undefined) {
      report.error(`${path}.abort.http2Error`, "HTTP/2 abort fault injection not supported yet");
    } else if (abort.httpStatus !== undefined) {
      problemTo(report, `${path}.abort.httpStatus`, httpStatusProblem(abort.httpStatus));
    } else {
      report.warning(`${path}.abort`, "abort configured, but error type not set");
    }
  }
  const delay = fault.delay;
  if (delay) {
    problemTo(report, `${path}.delay.percentage`, percentageProblem(delay.percentage?.value));
    if (delay.fixedDelay) checkDuration(report, `${path}.delay.fixedDelay`, delay.fixedDelay);
    else if (delay.exponentialDelay) {
      checkDuration(report, `${path}.delay.exponentialDelay`, delay.exponentialDelay);
      report.error(`${path}.delay.exponentialDelay`, "exponentialDelay not supported yet");
    }
  }
}

export function validateDestination(destination: Destination | undefined, path: string, report: Report): void {
  if (!destination) return;
  if (destination.host === "*") report.error(`${path}.host`, `invalid destination host ${destination.host}`);
  else problemTo(report, `${path}.host`, wildcardDomainProblem(destination.host ?? ""));
  if (destination.subset && !isDns1123Label(destination.subset))
    report.error(`${path}.subset`, `subset name is invalid: ${destination.subset}`);
  if (destination.port) problemTo(report, `${path}.port.number`, portProblem(destination.port.number ?? 0));
}

function validateRedirect(http: HTTPRoute, path: string, report: Report): void {
  const redirect = http.redirect;
  if (!redirect) return;
  // Istio stops at the first problem of a redirect.
  const problem = (() => {
    if (!!redirect.uri && !!redirect.prefixRewrite) return "redirect may only specify one of uri or prefix_rewrite";
    if (!!redirect.prefixRewrite && list(http.match).some((m) => m.uri !== undefined && m.uri.prefix === undefined))
      return "redirect prefix_rewrite requires all URI matches to use prefix match type";
    if (
      !redirect.uri &&
      !redirect.prefixRewrite &&
      !redirect.authority &&
      redirect.port === undefined &&
      redirect.derivePort === undefined &&
      !redirect.scheme
    )
      return "redirect must specify URI, authority, scheme, or port";
    if (redirect.redirectCode && (redirect.redirectCode < 300 || redirect.redirectCode > 399))
      return `${redirect.redirectCode} is not a valid redirect code, must be 3xx`;
    if (!!redirect.scheme && redirect.scheme !== "http" && redirect.scheme !== "https")
      return 'invalid redirect scheme, must be "http" or "https"';
    if (redirect.port !== undefined && redirect.port > 0) return portProblem(redirect.port);
    return undefined;
  })();
  problemTo(report, path, problem);
}

function validateRetries(http: HTTPRoute, path: string, report: Report): void {
  const retries = http.retries;
  if (!retries) return;
  if ((retries.attempts ?? 0) < 0) report.error(`${path}.attempts`, "attempts cannot be negative");
  if (
    !retries.attempts &&
    (retries.perTryTimeout !== undefined || !!retries.retryOn || retries.retryRemoteLocalities !== undefined)
  )
    report.error(path, "http retry policy configured when attempts are set to 0 (disabled)");
  checkDuration(report, `${path}.perTryTimeout`, retries.perTryTimeout);
  if (retries.retryOn)
    for (const policy of (retries.retryOn ?? "").split(",")) {
      const code = /^[-+]?\d+$/.test(policy) ? Number(policy) : Number.NaN;
      if (!HTTP_STATUS_CODES.has(code) && !RETRY_ON.has(policy))
        report.error(`${path}.retryOn`, `"${policy}" is not a valid retryOn policy`);
    }
  checkDuration(report, `${path}.backoff`, retries.backoff);
}

function validateRewrite(http: HTTPRoute, path: string, report: Report): void {
  const rewrite = http.rewrite;
  if (rewrite) {
    if (!!rewrite.uri && rewrite.uriRegexRewrite)
      report.error(path, "rewrite may only contain one of URI or UriRegexRewrite");
    else if (!rewrite.uri && !rewrite.uriRegexRewrite && !rewrite.authority)
      report.error(
        path,
        "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified",
      );
    else if (rewrite.uriRegexRewrite) {
      const { match = "", rewrite: replacement = "" } = rewrite.uriRegexRewrite;
      const problem =
        match === "" || replacement === ""
          ? "UriRegexRewrite requires both Rewrite and Match fields to be specified"
          : regexProblem(match, "HTTPRewrite.UriRegexRewrite.Match");
      if (problem) report.error(`${path}.uriRegexRewrite`, `UriRegexRewrite has errors\n${problem}`);
    }
  }
  // The authority may be rewritten in one place only.
  let current = rewrite?.authority ?? "";
  for (const op of ["set", "add"] as const)
    for (const [name, value] of Object.entries(http.headers?.request?.[op] ?? {})) {
      if (!isAuthorityHeader(name)) continue;
      if (current !== "") {
        report.error(
          `${path.replace(/\.rewrite$/, "")}.headers.request.${op}.${name}`,
          `authority header cannot be set multiple times: have "${current}", attempting to set "${value}"`,
        );
        return;
      }
      current = value;
    }
}

function validateHttpRouteDestinations(routes: readonly HTTPRouteDestination[], path: string, report: Report): void {
  let total = 0;
  routes.forEach((route, i) => {
    const at = `${path}[${i}]`;
    if (!route.destination) report.error(at, "destination is required");
    validateHeaderOperations(route.headers, `${at}.headers`, report);
    validateDestination(route.destination, `${at}.destination`, report);
    const weight = route.weight ?? 0;
    if (weight < 0) report.error(`${at}.weight`, `weight ${weight} < 0`);
    total += weight;
  });
  if (routes.length > 1 && total === 0) report.error(path, "total destination weight = 0");
}

function validateRouteDestinations(routes: readonly RouteDestination[], path: string, report: Report): void {
  let total = 0;
  routes.forEach((route, i) => {
    const at = `${path}[${i}]`;
    if (!route.destination) report.error(at, "destination is required");
    validateDestination(route.destination, `${at}.destination`, report);
    const weight = route.weight ?? 0;
    if (weight < 0) report.error(`${at}.weight`, `weight ${weight} < 0`);
    total += weight;
  });
  if (routes.length > 1 && total === 0) report.error(path, "total destination weight = 0");
}

function validateTlsRoute(tls: TLSRoute, vs: VirtualService, path: string, report: Report): void {
  if (list(tls.match).length === 0) report.error(`${path}.match`, "TLS route must have at least one match condition");
  list(tls.match).forEach((m, j) => {
    const at = `${path}.match[${j}]`;
    if (list(m.sniHosts).length === 0) report.error(`${at}.sniHosts`, "TLS match must have at least one SNI host");
    list(m.sniHosts).forEach((sni, k) => {
      const sniPath = `${at}.sniHosts[${k}]`;
      const problem = appliesToGateway(vs) ? gatewayDomainProblem(true, sni) : wildcardDomainProblem(sni);
      if (problem) {
        if (isIpAddress(sni))
          report.warning(
            sniPath,
            `using an IP address ("${sni}") goes against SNI spec and most clients do not support this`,
          );
        else report.error(sniPath, problem);
        return;
      }
      if (!list(vs.hosts).some((host) => hostSubsetOf(sni, host)))
        report.error(
          sniPath,
          `SNI host "${sni}" is not a compatible subset of any of the virtual service hosts: [${list(vs.hosts).join(", ")}]`,
        );
    });
    for (const [k, s] of list(m.destinationSubnets).entries())
      problemTo(report, `${at}.destinationSubnets[${k}]`, ipSubnetProblem(s));
    if (m.port) problemTo(report, `${at}.port`, portProblem(m.port));
    for (const p of labelsProblems(dict(m.sourceLabels))) report.error(`${at}.sourceLabels`, p);
    validateGatewayNames(list(m.gateways), `${at}.gateways`, report);
  });
  if (list(tls.route).length === 0) report.error(`${path}.route`, "TLS route is required");
  validateRouteDestinations(list(tls.route), `${path}.route`, report);
}

/** exportTo: `.`, `*`, `~` (ServiceEntry only) or namespace names, without duplicates or contradictions. */
export function validateExportTo(
  namespace: string,
  exportTo: readonly string[],
  isServiceEntry: boolean,
  isDestinationRuleWithSelector: boolean,
  path: string,
  report: Report,
): void {
  if (exportTo.length === 0) return;
  const seen = new Set<string>();
  for (const entry of exportTo) {
    const key = entry === "." ? namespace : entry;
    if (seen.has(key)) {
      report.error(
        path,
        key !== entry
          ? `duplicate entries in exportTo: . and current namespace ${namespace}`
          : `duplicate entries in exportTo for entry ${entry}`,
      );
    } else if (isServiceEntry && entry === "~") {
      seen.add(key);
    } else if (key === "~") {
      report.error(path, "exportTo ~ (none) is not allowed for Istio configuration objects");
    } else if (key !== "*" && key !== "." && !isDns1123Label(key)) {
      report.error(path, `only .,*, or a valid DNS 1123 label is allowed as exportTo entry`);
    } else {
      seen.add(key);
    }
  }
  if (isDestinationRuleWithSelector && seen.size > 0) {
    if (seen.has(namespace)) {
      if (seen.size > 1)
        report.error(path, "destination rule with workload selector cannot have multiple entries in exportTo");
    } else report.error(path, "destination rule with workload selector cannot have exportTo beyond current namespace");
  }
  if (seen.has("*") && exportTo.length > 1)
    report.error(path, "cannot have both public (*) and non-public exportTo values for a resource");
  if (seen.has("~") && exportTo.length > 1) report.error(path, "cannot export service entry to no one (~) and someone");
}
