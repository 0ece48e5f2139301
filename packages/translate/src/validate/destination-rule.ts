// DestinationRule rules and the traffic policy they share with subsets and port-level settings.
import {
  type ClientTLSSettings,
  ClientTLSSettings_TLSmode,
  type ConnectionPoolSettings,
  ConnectionPoolSettings_HTTPSettings_H2UpgradePolicy,
  type DestinationRule,
  type LoadBalancerSettings,
  type OutlierDetection,
  type TrafficPolicy,
} from "@xdskit/core/istio";
import {
  fqdnProblem,
  ipAddressProblem,
  isDns1123Label,
  labelsProblems,
  portProblem,
  wildcardDomainProblem,
} from "./names.js";
import { checkDuration, dict, list, type Report } from "./report.js";
import { validateExportTo } from "./virtual-service.js";

export function validateDestinationRule(rule: DestinationRule, namespace: string, report: Report): void {
  const hostProblem = wildcardDomainProblem(rule.host ?? "");
  if (hostProblem) report.error("spec.host", hostProblem);
  validateTrafficPolicy(rule.trafficPolicy, namespace, "spec.trafficPolicy", report);
  const names = new Set<string>();
  list(rule.subsets).forEach((subset, i) => {
    const path = `spec.subsets[${i}]`;
    const name = subset.name ?? "";
    if (names.has(name)) report.error(`${path}.name`, `duplicate subset names: ${name}`);
    names.add(name);
    if (name === "") report.error(`${path}.name`, "subset name cannot be empty");
    else if (!isDns1123Label(name)) report.error(`${path}.name`, `subset name is invalid: ${name}`);
    for (const p of labelsProblems(subset.labels)) report.error(`${path}.labels`, p);
    validateTrafficPolicy(subset.trafficPolicy, namespace, `${path}.trafficPolicy`, report);
  });
  validateExportTo(namespace, list(rule.exportTo), false, rule.workloadSelector !== undefined, "spec.exportTo", report);
  if (rule.workloadSelector) validateSelectorLabels(rule.workloadSelector.matchLabels, "spec.workloadSelector", report);
}

/** Selector labels of the security kinds and DestinationRule: keys and values must not be wildcards or empty. */
export function validateSelectorLabels(
  labels: Readonly<Record<string, string>> | undefined,
  path: string,
  report: Report,
): void {
  for (const [key, value] of Object.entries(dict(labels))) {
    if (key === "") report.error(path, `empty key is not supported in selector: "${key}=${value}"`);
    if (key.includes("*") || value.includes("*"))
      report.error(path, `wildcard is not supported in selector: "${key}=${value}"`);
  }
}

export function validateTrafficPolicy(
  policy: TrafficPolicy | undefined,
  namespace: string,
  path: string,
  report: Report,
): void {
  if (!policy) return;
  if (
    !policy.outlierDetection &&
    !policy.connectionPool &&
    !policy.loadBalancer &&
    !policy.tls &&
    list(policy.portLevelSettings).length === 0 &&
    !policy.tunnel &&
    !policy.proxyProtocol &&
    !policy.retryBudget
  ) {
    report.error(path, "traffic policy must have at least one field");
    return;
  }
  if (policy.tunnel && policy.proxyProtocol) {
    report.error(path, "tunnel and proxyProtocol must not be set together");
    return;
  }
  validateOutlierDetection(policy.outlierDetection, `${path}.outlierDetection`, report);
  validateConnectionPool(policy.connectionPool, `${path}.connectionPool`, report);
  validateLoadBalancer(policy.loadBalancer, policy.outlierDetection, `${path}.loadBalancer`, report);
  validateClientTls(policy.tls, namespace, `${path}.tls`, report);
  list(policy.portLevelSettings).forEach((pls, i) => {
    const at = `${path}.portLevelSettings[${i}]`;
    if (!pls.port) report.error(at, "portTrafficPolicy must have valid port");
    if (!pls.outlierDetection && !pls.connectionPool && !pls.loadBalancer && !pls.tls) {
      report.error(at, "port traffic policy must have at least one field");
      return;
    }
    validateOutlierDetection(pls.outlierDetection, `${at}.outlierDetection`, report);
    validateConnectionPool(pls.connectionPool, `${at}.connectionPool`, report);
    validateLoadBalancer(pls.loadBalancer, pls.outlierDetection, `${at}.loadBalancer`, report);
    validateClientTls(pls.tls, namespace, `${at}.tls`, report);
  });
  const tunnel = policy.tunnel;
  if (tunnel) {
    const at = `${path}.tunnel`;
    if (tunnel.protocol && tunnel.protocol !== "CONNECT" && tunnel.protocol !== "POST")
      report.error(`${at}.protocol`, 'tunnel protocol must be "CONNECT" or "POST"');
    const fqdn = fqdnProblem(tunnel.targetHost ?? "");
    const ip = ipAddressProblem(tunnel.targetHost ?? "");
    if (fqdn && ip)
      report.error(`${at}.targetHost`, `tunnel target host must be valid FQDN or IP address: ${fqdn}; ${ip}`);
    const port = portProblem(tunnel.targetPort ?? 0);
    if (port) report.error(`${at}.targetPort`, `tunnel target port is invalid: ${port}`);
  }
  const version = policy.proxyProtocol?.version ?? 0;
  if (version !== 0 && version !== 1)
    report.error(`${path}.proxyProtocol.version`, `proxy protocol version is invalid: ${version}`);
}

function percentProblem(value: number): string | undefined {
  return value < 0 || value > 100 ? `percentage ${value} is not in range 0..100` : undefined;
}

function validateOutlierDetection(outlier: OutlierDetection | undefined, path: string, report: Report): void {
  if (!outlier) return;
  checkDuration(report, `${path}.baseEjectionTime`, outlier.baseEjectionTime);
  if (outlier.consecutiveErrors)
    report.warning(
      `${path}.consecutiveErrors`,
      "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead",
    );
  if (!outlier.splitExternalLocalOriginErrors && (outlier.consecutiveLocalOriginFailures ?? 0) > 0)
    report.error(
      `${path}.consecutiveLocalOriginFailures`,
      "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false",
    );
  checkDuration(report, `${path}.interval`, outlier.interval);
  for (const field of ["maxEjectionPercent", "minHealthPercent"] as const) {
    const problem = percentProblem(outlier[field] ?? 0);
    if (problem) report.error(`${path}.${field}`, problem);
  }
}

function validateConnectionPool(settings: ConnectionPoolSettings | undefined, path: string, report: Report): void {
  if (!settings) return;
  if (!settings.http && !settings.tcp) {
    report.error(path, "connection pool must have at least one field");
    return;
  }
  const http = settings.http;
  if (http) {
    const at = `${path}.http`;
    const negative: Array<[number | undefined, string, string]> = [
      [http.http1MaxPendingRequests, "http1MaxPendingRequests", "http1 max pending requests must be non-negative"],
      [http.http2MaxRequests, "http2MaxRequests", "http2 max requests must be non-negative"],
      [http.maxRequestsPerConnection, "maxRequestsPerConnection", "max requests per connection must be non-negative"],
      [http.maxRetries, "maxRetries", "max retries must be non-negative"],
      [http.maxConcurrentStreams, "maxConcurrentStreams", "max concurrent streams must be non-negative"],
    ];
    for (const [value, field, message] of negative) if ((value ?? 0) < 0) report.error(`${at}.${field}`, message);
    checkDuration(report, `${at}.idleTimeout`, http.idleTimeout);
    if (http.h2UpgradePolicy === ConnectionPoolSettings_HTTPSettings_H2UpgradePolicy.UPGRADE && http.useClientProtocol)
      report.error(`${at}.useClientProtocol`, "use client protocol must not be true when H2UpgradePolicy is UPGRADE");
    const keepalive = http.http2KeepAlive;
    if (keepalive) {
      if (!keepalive.interval) report.error(`${at}.http2KeepAlive`, "http2 keepalive interval is required");
      else checkDuration(report, `${at}.http2KeepAlive.interval`, keepalive.interval);
      if (!keepalive.timeout) report.error(`${at}.http2KeepAlive`, "http2 keepalive timeout is required");
      else checkDuration(report, `${at}.http2KeepAlive.timeout`, keepalive.timeout);
    }
  }
  const tcp = settings.tcp;
  if (tcp) {
    const at = `${path}.tcp`;
    if ((tcp.maxConnections ?? 0) < 0) report.error(`${at}.maxConnections`, "max connections must be non-negative");
    checkDuration(report, `${at}.connectTimeout`, tcp.connectTimeout);
    checkDuration(report, `${at}.maxConnectionDuration`, tcp.maxConnectionDuration);
    // 0s disables the idle timeout.
    const idle = tcp.idleTimeout;
    if (idle && ((idle.seconds ?? 0) !== 0 || (idle.nanos ?? 0) >= 1_000_000))
      checkDuration(report, `${at}.idleTimeout`, idle);
    checkDuration(report, `${at}.tcpKeepalive.time`, tcp.tcpKeepalive?.time);
    checkDuration(report, `${at}.tcpKeepalive.interval`, tcp.tcpKeepalive?.interval);
  }
}

function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  const limit = Math.floor(Math.sqrt(x));
  for (let factor = 3; factor <= limit; factor += 2) if (x % factor === 0) return false;
  return true;
}

function validateLoadBalancer(
  lb: LoadBalancerSettings | undefined,
  outlier: OutlierDetection | undefined,
  path: string,
  report: Report,
): void {
  if (!lb) return;
  const hash = lb.consistentHash;
  if (hash) {
    const at = `${path}.consistentHash`;
    const cookie = hash.httpCookie;
    if (cookie && !cookie.name) report.error(`${at}.httpCookie`, "name required for HttpCookie");
    const attributeNames = new Set<string>();
    for (const attribute of list(cookie?.attributes)) {
      if (!attribute.name) report.error(`${at}.httpCookie.attributes`, "cookie attribute name cannot be empty");
      else if (attributeNames.has(attribute.name))
        report.error(`${at}.httpCookie.attributes`, `duplicate cookie attribute name: ${attribute.name}`);
      else attributeNames.add(attribute.name);
    }
    if (hash.minimumRingSize) {
      report.warning(
        `${at}.minimumRingSize`,
        "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead",
      );
      if (hash.ringHash || hash.maglev)
        report.error(at, "only one of MinimumRingSize or Maglev/Ringhash can be specified");
    }
    if (hash.maglev) {
      const size = hash.maglev.tableSize ?? 0;
      if (size === 0) report.error(`${at}.maglev.tableSize`, "tableSize must be set for maglev");
      if (size >= 5000011) report.error(`${at}.maglev.tableSize`, "tableSize must be less than 5000011 for maglev");
      if (!isPrime(size)) report.error(`${at}.maglev.tableSize`, "tableSize must be a prime number for maglev");
    }
  }
  if (lb.localityLbSetting && lb.zoneAwareLbSetting)
    report.error(path, "only one of localityLbSetting and zoneAwareLbSetting can be set");
  const locality = lb.localityLbSetting;
  if (locality) {
    const at = `${path}.localityLbSetting`;
    const distribute = list(locality.distribute);
    const failover = list(locality.failover);
    if (distribute.length > 0 && failover.length > 0) {
      report.error(at, "can not simultaneously specify 'distribute' and 'failover'");
    } else {
      for (const entry of distribute) {
        const weights = Object.values(dict(entry.to));
        if (weights.some((w) => w <= 0 || w > 100)) {
          report.error(`${at}.distribute`, "locality weight must be in range [1, 100]");
          break;
        }
        const total = weights.reduce((a, b) => a + b, 0);
        if (total !== 100) {
          report.error(`${at}.distribute`, `total locality weight ${total} != 100`);
          break;
        }
      }
      if ((failover.length > 0 || list(locality.failoverPriority).length > 0) && !outlier)
        report.warning(at, "outlier detection policy must be provided for failover");
      for (const f of failover) {
        if (f.from === f.to)
          report.error(`${at}.failover`, "locality lb failover settings must specify different regions");
        if (f.from?.includes("/") || f.to?.includes("/"))
          report.error(`${at}.failover`, "locality lb failover only specify region");
        if (f.from?.includes("*") || f.to?.includes("*"))
          report.error(`${at}.failover`, "locality lb failover region should not contain '*' wildcard");
      }
    }
  }
  const warmup = lb.warmup;
  if (warmup) {
    if (!warmup.duration) report.error(`${path}.warmup`, "duration is required");
    else checkDuration(report, `${path}.warmup.duration`, warmup.duration);
    if ((warmup.minimumPercent ?? 0) > 100)
      report.error(`${path}.warmup.minimumPercent`, "minimumPercent value should be less than or equal to 100");
    if (warmup.aggression !== undefined && warmup.aggression <= 0)
      report.error(`${path}.warmup.aggression`, "aggression should be greater than 0");
  }
}

function validateClientTls(tls: ClientTLSSettings | undefined, namespace: string, path: string, report: Report): void {
  if (!tls) return;
  const mode = tls.mode ?? ClientTLSSettings_TLSmode.DISABLE;
  const credentialName = tls.credentialName ?? "";
  if (credentialName.startsWith("configmap://")) {
    const rest = credentialName.slice("configmap://".length);
    const ns = rest.includes("/") ? rest.split("/")[0] : namespace;
    if (ns !== namespace || namespace === "")
      report.error(
        `${path}.credentialName`,
        `invalid configmap:// credentialName: namespace must match the configuration namespace "${namespace}"`,
      );
  }
  if (tls.insecureSkipVerify) {
    if (
      mode === ClientTLSSettings_TLSmode.SIMPLE &&
      (tls.caCertificates || credentialName || list(tls.subjectAltNames).length)
    )
      report.error(
        path,
        "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true",
      );
    if (mode === ClientTLSSettings_TLSmode.MUTUAL && (tls.caCertificates || list(tls.subjectAltNames).length))
      report.error(path, "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true");
  }
  if ((mode === ClientTLSSettings_TLSmode.SIMPLE || mode === ClientTLSSettings_TLSmode.MUTUAL) && credentialName) {
    if (tls.clientCertificate || tls.caCertificates || tls.privateKey || tls.caCrl)
      report.error(path, "cannot specify client certificates or CA certificate or CA CRL If credentialName is set");
    return;
  }
  if (mode === ClientTLSSettings_TLSmode.MUTUAL) {
    if (!tls.clientCertificate) report.error(path, "client certificate required for mutual tls");
    if (!tls.privateKey) report.error(path, "private key required for mutual tls");
  }
}
