// Rules of the security kinds: PeerAuthentication, AuthorizationPolicy, RequestAuthentication.
import {
  type AuthorizationPolicy,
  AuthorizationPolicy_Action,
  type PeerAuthentication,
  type RequestAuthentication,
} from "@xdskit/core/istio";
import { validateSelectorLabels } from "./destination-rule.js";
import { ipSubnetProblem, isIpAddress } from "./names.js";
import { checkDuration, dict, list, type Report } from "./report.js";

export function validatePeerAuthentication(pa: PeerAuthentication, report: Report): void {
  const emptySelector = Object.keys(dict(pa.selector?.matchLabels)).length === 0;
  const ports = Object.keys(dict(pa.portLevelMtls));
  if (emptySelector && ports.length > 0)
    report.error("spec.portLevelMtls", "mesh/namespace peer authentication cannot have port level mTLS");
  for (const port of ports) {
    const n = Number(port);
    if (!(n > 0 && n <= 65535)) report.error(`spec.portLevelMtls.${port}`, "port must be in range 1..65535");
  }
  if (pa.selector) {
    validateSelectorLabels(pa.selector.matchLabels, "spec.selector.matchLabels", report);
    if (emptySelector) report.warning("spec.selector", "workload selector specified without labels");
  }
}

type Selector = { readonly matchLabels?: Readonly<Record<string, string>> } | undefined;
type TargetRef = {
  readonly group?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
};

const TARGET_KINDS = new Set([
  "core/Service",
  "networking.istio.io/ServiceEntry",
  "gateway.networking.k8s.io/Gateway",
  "gateway.networking.k8s.io/GatewayClass",
]);

/** selector / targetRef / targetRefs: at most one, each valid. Shared by the security kinds. */
function validatePolicyScope(
  spec: { readonly selector?: Selector; readonly targetRef?: TargetRef; readonly targetRefs?: readonly TargetRef[] },
  report: Report,
): void {
  const set = Number(!!spec.selector) + Number(!!spec.targetRef) + Number((spec.targetRefs ?? []).length > 0);
  if (set > 1) report.error("spec", "only one of targetRefs or workloadSelector can be set");
  if (spec.selector) {
    validateSelectorLabels(spec.selector.matchLabels, "spec.selector.matchLabels", report);
    if (Object.keys(dict(spec.selector.matchLabels)).length === 0)
      report.warning("spec.selector", "workload selector specified without labels");
  }
  const refs: Array<[string, TargetRef]> = [
    ...(spec.targetRef ? ([["spec.targetRef", spec.targetRef]] as Array<[string, TargetRef]>) : []),
    ...(spec.targetRefs ?? []).map((r, i): [string, TargetRef] => [`spec.targetRefs[${i}]`, r]),
  ];
  for (const [path, ref] of refs) {
    if (!ref.name) report.error(path, "targetRef name must be set");
    if (ref.namespace)
      report.error(path, "targetRef namespace must not be set; cross namespace referencing is not supported");
    if (!TARGET_KINDS.has(`${ref.group || "core"}/${ref.kind ?? ""}`))
      report.error(
        path,
        `targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] but was ${ref.group ?? ""}/${ref.kind ?? ""}`,
      );
  }
}

const emptyValue = (key: string, values: readonly string[]) =>
  values.some((v) => v === "") ? `empty value not allowed, found in ${key}` : undefined;

function wildcardValues(key: string, values: readonly string[]): string | undefined {
  const empty = emptyValue(key, values);
  if (empty) return empty;
  for (const value of values) {
    const count = value.split("*").length - 1;
    if (count > 1) return `at most one wildcard is allowed, found in ${key}: ${JSON.stringify(value)}`;
    if (count === 1 && value !== "*" && !value.startsWith("*") && !value.endsWith("*"))
      return `wildcard is only allowed at the start or end, found in ${key}: ${JSON.stringify(value)}`;
  }
  return undefined;
}

function trustDomainValues(key: string, values: readonly string[]): string | undefined {
  const problem = wildcardValues(key, values);
  if (problem) return problem;
  const bad = values.find((v) => v.includes("/"));
  return bad ? `trust domain must not contain '/', found in ${key}: ${JSON.stringify(bad)}` : undefined;
}

function serviceAccountValues(key: string, values: readonly string[]): string | undefined {
  if (values.length > 16) return "may not have more than 16 values";
  for (const value of values) {
    if (value === "") return `empty value not allowed, found in ${key}`;
    if (value.includes("*")) return `wildcard not allowed, found in ${key}`;
    const slashes = value.split("/").length - 1;
    if (slashes > 1)
      return `expected format 'serviceAccount' or 'namespace/serviceAccount', found ${JSON.stringify(value)} in ${key}`;
    if (value.length > 320) return `value cannot exceed 320 characters, found ${JSON.stringify(value)} in ${key}`;
    if (slashes === 1) {
      const [ns, sa] = value.split("/");
      if (!ns)
        return `expected format 'serviceAccount' or 'namespace/serviceAccount', found empty namespace ${JSON.stringify(value)} in ${key}`;
      if (!sa)
        return `expected format 'serviceAccount' or 'namespace/serviceAccount', found empty serviceAccount ${JSON.stringify(value)} in ${key}`;
    }
  }
  return undefined;
}

function ipProblems(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (v.includes("/")) {
      if (ipSubnetProblem(v)) out.push(`bad CIDR range (${v}): netip.ParsePrefix(${JSON.stringify(v)}): bad prefix`);
    } else if (!isIpAddress(v)) out.push(`bad IP address (${v})`);
  }
  return out;
}

function portProblems(values: readonly string[]): string[] {
  return values
    .filter((p) => !/^\d+$/.test(p) || Number(p) > 65535)
    .map(
      (p) =>
        `bad port (${p}): ${/^\d+$/.test(p) ? "<nil>" : `strconv.ParseUint: parsing ${JSON.stringify(p)}: invalid syntax`}`,
    );
}

const mapKeyProblem = (key: string) => {
  const open = key.indexOf("[");
  return key.endsWith("]") && open > 0 && open < key.length - 2
    ? undefined
    : `bad key (${key}): should have format a[b]`;
};

/** Istio's check of an AuthorizationPolicy condition key and its values. */
function attributeProblem(key: string, values: readonly string[]): string | undefined {
  const empty = emptyValue(key, values);
  if (empty) return empty;
  if (key.startsWith("request.headers")) return mapKeyProblem(key);
  if (key === "source.ip" || key === "remote.ip" || key === "destination.ip") return ipProblems(values)[0];
  if (key === "source.serviceAccount") return serviceAccountValues(key, values);
  if (key === "source.trustDomain") return wildcardValues(key, values);
  if (key.startsWith("request.auth.claims")) return mapKeyProblem(key);
  if (key === "destination.port") return portProblems(values)[0];
  if (key.startsWith("experimental.envoy.filters.")) return mapKeyProblem(key);
  if (key === "destination.namespace") return `attribute ${key} is replaced by the metadata.namespace`;
  if (key.startsWith("destination.labels")) return `attribute ${key} is replaced by the workload selector`;
  if (key === "destination.name" || key === "destination.user")
    return `deprecated attribute ${key}: only supported in v1alpha1`;
  const known = [
    "source.namespace",
    "source.principal",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "connection.sni",
  ];
  return known.includes(key) ? undefined : `unknown attribute: ${key}`;
}

export function validateAuthorizationPolicy(
  ap: AuthorizationPolicy,
  name: string,
  namespace: string,
  report: Report,
): void {
  validatePolicyScope(ap, report);
  // Istio prefixes the policy's errors with its name.
  const prefix = `invalid policy ${name}.${namespace}: `;
  const error = (path: string, message: string) => report.error(path, prefix + message);
  const action = ap.action ?? AuthorizationPolicy_Action.ALLOW;
  const rules = list(ap.rules);
  if (action === AuthorizationPolicy_Action.CUSTOM) {
    if (rules.length === 0)
      error(
        "spec.rules",
        "CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request",
      );
    else if (!ap.provider?.name) error("spec.provider", "`provider.name` must not be empty");
    for (const [i, rule] of rules.entries()) {
      for (const [j, from] of list(rule.from).entries()) {
        const src = from.source;
        if (!src) continue;
        for (const field of [
          "namespaces",
          "notNamespaces",
          "serviceAccounts",
          "notServiceAccounts",
          "trustDomains",
          "notTrustDomains",
          "principals",
          "notPrincipals",
          "requestPrincipals",
          "notRequestPrincipals",
        ] as const)
          if (list(src[field]).length)
            error(
              `spec.rules[${i}].from[${j}].source.${field}`,
              `From.${field[0]?.toUpperCase()}${field.slice(1)} is currently not supported with CUSTOM action`,
            );
      }
      for (const [j, when] of list(rule.when).entries()) {
        const key = when.key ?? "";
        if (
          ["source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal"].includes(key) ||
          key.startsWith("request.auth.")
        )
          error(`spec.rules[${i}].when[${j}].key`, `${key} is currently not supported with CUSTOM action`);
      }
    }
  }
  if (ap.provider && action !== AuthorizationPolicy_Action.CUSTOM)
    error(
      "spec.provider",
      `\`provider\` must not be with non CUSTOM action, found ${AuthorizationPolicy_Action[action] ?? action}`,
    );
  if (action === AuthorizationPolicy_Action.DENY && rules.length === 0)
    error(
      "spec.rules",
      "DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request",
    );
  for (const [i, rule] of rules.entries()) {
    const at = `spec.rules[${i}]`;
    let tcpInFrom = false;
    let tcpInTo = false;
    let fromExists = false;
    let toExists = false;
    for (const [j, from] of list(rule.from).entries()) {
      const src = from.source;
      if (!src) {
        error(`${at}.from[${j}]`, `\`from.source\` must not be nil, found at rule ${i}`);
        continue;
      }
      fromExists = true;
      const path = `${at}.from[${j}].source`;
      const n = (field: keyof typeof src) => list(src[field] as string[] | undefined).length;
      if (
        n("principals") + n("notPrincipals") + n("namespaces") + n("notNamespaces") > 0 &&
        n("serviceAccounts") + n("notServiceAccounts") > 0
      )
        error(path, `cannot set serviceAccounts with namespaces or principals, found at rule ${i}`);
      const fields = [
        "principals",
        "requestPrincipals",
        "namespaces",
        "ipBlocks",
        "remoteIpBlocks",
        "notPrincipals",
        "notRequestPrincipals",
        "notNamespaces",
        "notIpBlocks",
        "notRemoteIpBlocks",
        "serviceAccounts",
        "notServiceAccounts",
        "trustDomains",
        "notTrustDomains",
      ] as const;
      if (fields.every((f) => n(f) === 0)) error(path, `\`from.source\` must not be empty, found at rule ${i}`);
      for (const f of ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"] as const)
        for (const p of ipProblems(list(src[f]))) error(`${path}.${f}`, p);
      for (const f of fields) {
        const label = `${f[0]?.toUpperCase()}${f.slice(1)}`;
        const values = list(src[f]);
        const problem = f.endsWith("erviceAccounts")
          ? serviceAccountValues(label, values)
          : f.endsWith("rustDomains")
            ? trustDomainValues(label, values)
            : emptyValue(label, values);
        if (problem) error(`${path}.${f}`, problem);
      }
      if (fields.some((f) => !f.toLowerCase().includes("request") && !f.toLowerCase().includes("trust") && n(f) > 0))
        tcpInFrom = true;
    }
    for (const [j, to] of list(rule.to).entries()) {
      const op = to.operation;
      if (!op) {
        error(`${at}.to[${j}]`, `\`to.operation\` must not be nil, found at rule ${i}`);
        continue;
      }
      toExists = true;
      const path = `${at}.to[${j}].operation`;
      const fields = ["ports", "methods", "paths", "hosts", "notPorts", "notMethods", "notPaths", "notHosts"] as const;
      if (fields.every((f) => list(op[f]).length === 0))
        error(path, `\`to.operation\` must not be empty, found at rule ${i}`);
      for (const f of ["ports", "notPorts"] as const)
        for (const p of portProblems(list(op[f]))) error(`${path}.${f}`, p);
      for (const f of fields) {
        const problem = emptyValue(`${f[0]?.toUpperCase()}${f.slice(1)}`, list(op[f]));
        if (problem) error(`${path}.${f}`, problem);
      }
      if (list(op.ports).length || list(op.notPorts).length) tcpInTo = true;
    }
    for (const [j, condition] of list(rule.when).entries()) {
      const path = `${at}.when[${j}]`;
      const key = condition.key ?? "";
      if (key === "") error(path, "`key` must not be empty");
      else if (list(condition.values).length === 0 && list(condition.notValues).length === 0)
        error(path, `at least one of \`values\` or \`notValues\` must be set for key ${key}`);
      else {
        const v = list(condition.values).length ? attributeProblem(key, list(condition.values)) : undefined;
        if (v) error(path, `invalid \`value\` for \`key\` ${key}: ${v}`);
        const nv = list(condition.notValues).length ? attributeProblem(key, list(condition.notValues)) : undefined;
        if (nv) error(path, `invalid \`notValue\` for \`key\` ${key}: ${nv}`);
      }
    }
    if (
      ((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo)) &&
      action === AuthorizationPolicy_Action.DENY
    )
      report.warning(
        at,
        "configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port",
      );
  }
}

export function validateRequestAuthentication(ra: RequestAuthentication, report: Report): void {
  validatePolicyScope(ra, report);
  for (const [i, rule] of list(ra.jwtRules).entries()) {
    const at = `spec.jwtRules[${i}]`;
    if (list(rule.audiences).some((a) => a === ""))
      report.error(`${at}.audiences`, "audience must be non-empty string");
    if (!rule.issuer && !rule.jwksUri) report.error(at, "issuer or jwksUri must be non-empty string");
    if (rule.jwksUri) {
      const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(rule.jwksUri)?.[1]?.toLowerCase() ?? "";
      if (scheme !== "http" && scheme !== "https")
        report.error(`${at}.jwksUri`, `URI scheme ${JSON.stringify(scheme)} is not supported`);
    }
    if (rule.jwks) {
      try {
        JSON.parse(rule.jwks);
      } catch (cause) {
        report.error(`${at}.jwks`, `jwks parse error: ${(cause as Error).message}`);
      }
    }
    for (const [j, header] of list(rule.fromHeaders).entries())
      if (!header.name) report.error(`${at}.fromHeaders[${j}].name`, "location header name must be non-empty string");
    for (const [j, param] of list(rule.fromParams).entries())
      if (!param) report.error(`${at}.fromParams[${j}]`, "location query must be non-empty string");
    for (const [j, cookie] of list(rule.fromCookies).entries())
      if (!cookie) report.error(`${at}.fromCookies[${j}]`, "cookie name must be non-empty string");
    for (const [j, claim] of list(rule.outputClaimToHeaders).entries()) {
      const path = `${at}.outputClaimToHeaders[${j}]`;
      if (!claim.claim || !claim.header)
        report.error(path, "outputClaimToHeaders header and claim value must be non-empty string");
      else if (!/^[-_A-Za-z0-9]+$/.test(claim.header))
        report.error(`${path}.header`, `header name ${claim.header} is not a valid header name`);
    }
    checkDuration(report, `${at}.timeout`, rule.timeout);
  }
}
