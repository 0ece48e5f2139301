// Host names, DNS labels, label maps, addresses, ports and protocols as Istio's validation judges them.
// Each function returns Istio's message for the problem, or undefined when the value is fine.
import { RE2JS } from "@bufbuild/re2";

const DNS1123_LABEL = "[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?";
const dns1123Label = new RegExp(`^${DNS1123_LABEL}$`);
const wildcardLabel = new RegExp(`^(\\*|(\\*|\\*-)?${DNS1123_LABEL})$`);
const QUALIFIED_NAME = "(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const labelKey = new RegExp(`^(${DNS1123_LABEL}(?:\\.${DNS1123_LABEL})*/)?(${QUALIFIED_NAME})$`);
const labelValue = new RegExp(`^(${QUALIFIED_NAME})?$`);

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && dns1123Label.test(value);
}

export function isWildcardDns1123Label(value: string): boolean {
  return value.length <= 63 && wildcardLabel.test(value);
}

function dnsPreconditions(name: string): string | undefined {
  if (name.length > 255) return `domain name "${name}" too long (max 255)`;
  if (name.length === 0) return "empty domain name not allowed";
  return undefined;
}

function dns1123Labels(domain: string): string | undefined {
  const parts = domain.split(".");
  const top = parts[parts.length - 1] ?? "";
  if (/^[-+]?\d+$/.test(top))
    return `domain name "${domain}" invalid (top level domain "${top}" cannot be all-numeric)`;
  for (const [i, label] of parts.entries()) {
    if (i === parts.length - 1 && label === "") return undefined; // a trailing dot: "istio.io."
    if (!isDns1123Label(label)) return `domain name "${domain}" invalid (label "${label}" invalid)`;
  }
  return undefined;
}

/** A fully qualified name without wildcards. */
export function fqdnProblem(fqdn: string): string | undefined {
  return dnsPreconditions(fqdn) ?? dns1123Labels(fqdn);
}

/** A name whose first label may be a wildcard (`*`, `*.example.com`, `*-foo.example.com`). */
export function wildcardDomainProblem(domain: string): string | undefined {
  const pre = dnsPreconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf(".");
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (!isWildcardDns1123Label(first)) return `domain name "${domain}" invalid (label "${first}" invalid)`;
  return dot < 0 ? undefined : dns1123Labels(domain.slice(dot + 1));
}

/** `outbound_.<port>_._.<host>` names are also accepted as SNI hosts of gateway-bound TLS routes. */
export function gatewayDomainProblem(sni: boolean, domain: string): string | undefined {
  const pre = dnsPreconditions(domain);
  if (pre) return pre;
  if (sni && domain.startsWith("outbound_")) {
    const parts = domain.split("_");
    if (parts.length < 4) return `domain name ${domain} invalid, should follow 'outbound_.<port>_._.<hostname>' format`;
    return undefined;
  }
  return wildcardDomainProblem(domain);
}

export function partialWildcardProblem(host: string): string | undefined {
  if (host.includes("*") && host.length !== 1 && !host.startsWith("*."))
    return `partial wildcard "${host}" not allowed`;
  return undefined;
}

export function isIpAddress(value: string): boolean {
  return isIpv4(value) || isIpv6(value);
}

function isIpv4(value: string): boolean {
  const parts = value.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

function isIpv6(value: string): boolean {
  if (!value.includes(":") || /[^0-9a-fA-F:.]/.test(value)) return false;
  const double = value.split("::");
  if (double.length > 2) return false;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  let [head, tail] = [groups(double[0] ?? ""), groups(double[1] ?? "")];
  const all = [...head, ...tail];
  let count = all.length;
  const last = all[all.length - 1];
  if (last?.includes(".")) {
    if (!isIpv4(last)) return false;
    count += 1; // an embedded IPv4 address takes two groups
    if (tail.length) tail = tail.slice(0, -1);
    else head = head.slice(0, -1);
  }
  if (![...head, ...tail].every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return double.length === 2 ? count < 8 : count === 8;
}

export function ipAddressProblem(address: string): string | undefined {
  return isIpAddress(address) ? undefined : `${address} is not a valid IP`;
}

/** `a.b.c.d/nn`, `2001:db8::/64`, or a plain address. */
export function ipSubnetProblem(subnet: string): string | undefined {
  if ((subnet.match(/\//g) ?? []).length === 1) {
    const [address = "", bits = ""] = subnet.split("/");
    const max = isIpv4(address) ? 32 : isIpv6(address) ? 128 : -1;
    if (max < 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > max) return `${subnet} is not a valid CIDR block`;
    return undefined;
  }
  return ipAddressProblem(subnet);
}

export function portProblem(port: number): string | undefined {
  return port >= 1 && port <= 65535 ? undefined : `port number ${port} must be in the range 1..65535`;
}

export function portNameProblem(name: string): string | undefined {
  return isDns1123Label(name) ? undefined : `invalid port name: ${name}`;
}

/** Kubernetes label keys and values, as in selectors and subsets. */
export function labelsProblems(labels: Readonly<Record<string, string>> | undefined): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    const m = labelKey.exec(key);
    if (!m) out.push(`invalid tag key: "${key}"`);
    else if (m[1] && m[1].length - 1 > 253) out.push(`invalid tag key: "${key}" (DNS prefix is too long)`);
    else if ((m[2] ?? "").length > 63) out.push(`invalid tag key: "${key}" (name is too long)`);
    if (!labelValue.test(value)) out.push(`invalid tag value: "${value}"`);
  }
  return out;
}

/** Istio's protocol names, case-insensitive; undefined when unsupported. */
export type Protocol =
  | "HTTP"
  | "HTTP2"
  | "HTTPS"
  | "GRPC"
  | "GRPC-Web"
  | "HTTP_PROXY"
  | "TCP"
  | "TLS"
  | "UDP"
  | "Mongo"
  | "Redis"
  | "MySQL";

const PROTOCOLS: Record<string, Protocol> = {
  tcp: "TCP",
  udp: "UDP",
  grpc: "GRPC",
  "grpc-web": "GRPC-Web",
  http: "HTTP",
  http_proxy: "HTTP_PROXY",
  http2: "HTTP2",
  https: "HTTPS",
  tls: "TLS",
  mongo: "Mongo",
  redis: "Redis",
  mysql: "MySQL",
};

export function parseProtocol(name: string): Protocol | undefined {
  return PROTOCOLS[name.toLowerCase()];
}

export function isHttpProtocol(p: Protocol | undefined): boolean {
  return p === "HTTP" || p === "HTTP2" || p === "HTTP_PROXY" || p === "GRPC" || p === "GRPC-Web";
}

export function isTlsProtocol(p: Protocol | undefined): boolean {
  return p === "HTTPS" || p === "TLS";
}

export function isTcpProtocol(p: Protocol | undefined): boolean {
  return p === "TCP" || p === "HTTPS" || p === "TLS" || p === "Mongo" || p === "Redis" || p === "MySQL";
}

export function protocolProblem(name: string): string | undefined {
  return name !== "" && !parseProtocol(name) ? `unsupported protocol: ${name}` : undefined;
}

const isWildcarded = (host: string) => host.startsWith("*");

/** Istio's host.Name.Matches: either side may be a wildcard covering the other. */
export function hostsMatch(a: string, b: string): boolean {
  if (isWildcarded(a)) {
    if (isWildcarded(b)) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
    return b.endsWith(a.slice(1));
  }
  if (isWildcarded(b)) return a.endsWith(b.slice(1));
  return a === b;
}

/** Istio's host.Name.SubsetOf: `a` is covered by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  if (isWildcarded(a)) return isWildcarded(b) && a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  if (isWildcarded(b)) return a.endsWith(b.slice(1));
  return a === b;
}

/** Istio's regexes are RE2 (Go's regexp): checked by an RE2 engine, with Go's error text (`error parsing regexp: …`). */
export function re2Problem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (cause) {
    return (cause as Error).message;
  }
}
