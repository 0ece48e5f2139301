// Sidecar rules: ingress and egress listeners, their hosts and the outbound traffic policy.
import { CaptureMode, OutboundTrafficPolicy_Mode, type Sidecar, type SidecarPort } from "@xdskit/core/istio";
import {
  fqdnProblem,
  ipAddressProblem,
  isDns1123Label,
  isTlsProtocol,
  parseProtocol,
  partialWildcardProblem,
  portNameProblem,
  portProblem,
  protocolProblem,
  wildcardDomainProblem,
} from "./names.js";
import { dict, list, type Report } from "./report.js";
import { validateDestination } from "./virtual-service.js";

function portAndBindProblems(port: SidecarPort, bind: string, egress: boolean, captureMode: number): string[] {
  const out: string[] = [];
  const push = (p: string | undefined) => p && out.push(p);
  if (port.name) push(portNameProblem(port.name));
  push(protocolProblem(port.protocol ?? ""));
  if (egress && !port.number) {
    if (!bind.startsWith("unix://"))
      out.push("sidecar: ports with 0 value must have a unix domain socket bind address");
    else {
      const socket = bind.slice("unix://".length);
      if (socket === "") out.push("unix address must not be empty");
      else if (!socket.startsWith("@") && (!socket.startsWith("/") || socket.endsWith("/")))
        out.push(`${socket} is not an absolute path to a file`);
    }
    if (captureMode !== CaptureMode.DEFAULT && captureMode !== CaptureMode.NONE)
      out.push("sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners");
    return out;
  }
  push(portProblem(port.number ?? 0));
  if (bind !== "") push(ipAddressProblem(bind));
  return out;
}

function egressHostProblems(host: string): string[] {
  const slash = host.indexOf("/");
  if (slash < 0) return ["host must be of form namespace/dnsName"];
  const out: string[] = [];
  const [ns, name] = [host.slice(0, slash), host.slice(slash + 1)];
  if (!ns || !name) out.push("config namespace and dnsName in host entry cannot be empty");
  const bare = ns.replace(/^~/, "");
  if (bare !== "" && bare !== "*" && bare !== "." && !isDns1123Label(bare))
    out.push(`invalid namespace value "${ns}" in sidecar`);
  if (name !== "*" && !name.includes(".")) out.push("short names (non FQDN) are not allowed");
  const problem = wildcardDomainProblem(name);
  if (problem) out.push(problem);
  const partial = partialWildcardProblem(name);
  if (partial) out.push(partial);
  return out;
}

export function validateSidecar(sidecar: Sidecar, namespace: string, report: Report): void {
  const selector = sidecar.workloadSelector;
  if (selector) {
    const labels = Object.entries(dict(selector.labels));
    let bad = false;
    for (const [key, value] of labels) {
      if (key === "")
        report.error("spec.workloadSelector", `empty key is not supported in selector: "${key}=${value}"`);
      if (key.includes("*") || value.includes("*"))
        report.error("spec.workloadSelector", `wildcard is not supported in selector: "${key}=${value}"`);
      bad ||= key === "" || key.includes("*") || value.includes("*");
    }
    if (bad) return;
    if (labels.length === 0)
      report.warning(
        "spec.workloadSelector",
        "sidecar: workload selector specified without labels, will be applied to all services in namespace",
      );
  }
  const ingress = list(sidecar.ingress);
  const egress = list(sidecar.egress);
  if (ingress.length === 0 && egress.length === 0 && !sidecar.outboundTrafficPolicy && !sidecar.inboundConnectionPool) {
    report.error("spec", "sidecar: empty configuration provided");
    return;
  }
  const ingressPorts = new Set<number>();
  ingress.forEach((listener, i) => {
    const at = `spec.ingress[${i}]`;
    const port = listener.port;
    if (!port) {
      report.error(at, "sidecar: port is required for ingress listeners");
      return;
    }
    if (port.targetPort) report.error(`${at}.port.targetPort`, "targetPort has no impact on Sidecars");
    for (const p of portAndBindProblems(port, listener.bind ?? "", false, 0)) report.error(`${at}.port`, p);
    const number = port.number ?? 0;
    if (ingressPorts.has(number)) report.error(`${at}.port`, "sidecar: ports on IP bound listeners must be unique");
    ingressPorts.add(number);
    const endpoint = listener.defaultEndpoint ?? "";
    if (endpoint.startsWith("unix://")) {
      const socket = endpoint.slice("unix://".length);
      if (socket === "" || (!socket.startsWith("@") && (!socket.startsWith("/") || socket.endsWith("/"))))
        report.error(
          `${at}.defaultEndpoint`,
          socket === "" ? "unix address must not be empty" : `${socket} is not an absolute path to a file`,
        );
    } else if (endpoint !== "") {
      const colon = endpoint.lastIndexOf(":");
      const host = colon < 0 ? "" : endpoint.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
      const portText = colon < 0 ? "" : endpoint.slice(colon + 1);
      if (colon < 0) report.error(`${at}.defaultEndpoint`, `address ${endpoint}: missing port in address`);
      if (host !== "" && !["127.0.0.1", "0.0.0.0", "::1", "::"].includes(host))
        report.error(
          `${at}.defaultEndpoint`,
          "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset",
        );
      if (!/^\d+$/.test(portText))
        report.error(`${at}.defaultEndpoint`, `sidecar: defaultEndpoint port (${portText}) is not a number`);
      else {
        const problem = portProblem(Number(portText));
        if (problem) report.error(`${at}.defaultEndpoint`, problem);
      }
    }
    const tls = listener.tls;
    if (tls) {
      if (list(tls.subjectAltNames).length)
        report.error(`${at}.tls`, "sidecar: subjectAltNames is not supported in ingress tls");
      if (tls.httpsRedirect) report.error(`${at}.tls`, "sidecar: httpsRedirect is not supported");
      if (tls.credentialName) report.error(`${at}.tls`, "sidecar: credentialName is not currently supported");
      if (!isTlsProtocol(parseProtocol(port.protocol ?? "")))
        report.error(`${at}.tls`, "server cannot have TLS settings for non HTTPS/TLS ports");
    }
  });
  const egressPorts = new Set<number>();
  const sockets = new Set<string>();
  let catchAll = false;
  egress.forEach((listener, i) => {
    const at = `spec.egress[${i}]`;
    const port = listener.port;
    if (!port) {
      if (catchAll) {
        report.error(at, "sidecar: egress can have only one listener with empty port");
        return;
      }
      if (i === egress.length - 1) catchAll = true;
      else report.error(at, "sidecar: the egress listener with empty port should be the last listener in the list");
    } else {
      if (port.targetPort) report.error(`${at}.port.targetPort`, "targetPort has no impact on Sidecars");
      const bind = listener.bind ?? "";
      for (const p of portAndBindProblems(port, bind, true, listener.captureMode ?? 0)) report.error(`${at}.port`, p);
      if (!port.number) {
        if (sockets.has(bind))
          report.error(`${at}.bind`, "sidecar: unix domain socket values for listeners must be unique");
        sockets.add(bind);
      } else {
        if (egressPorts.has(port.number))
          report.error(`${at}.port`, "sidecar: ports on IP bound listeners must be unique");
        egressPorts.add(port.number);
      }
    }
    const hosts = list(listener.hosts);
    if (hosts.length === 0) report.error(`${at}.hosts`, "sidecar: egress listener must contain at least one host");
    const seen = new Map<string, Set<string>>();
    hosts.forEach((host, k) => {
      const hostPath = `${at}.hosts[${k}]`;
      const slash = host.indexOf("/");
      if (slash >= 0 && !host.startsWith("~")) {
        const ns = host.slice(0, slash) === "." ? namespace : host.slice(0, slash);
        const name = host.slice(slash + 1);
        const names = seen.get(ns) ?? new Set<string>();
        if (name !== "*" ? names.has(name) || names.has("*") : names.size > 0)
          report.warning(hostPath, `duplicated egress host: ${host}`);
        names.add(name);
        seen.set(ns, names);
      }
      for (const p of egressHostProblems(host)) report.error(hostPath, p);
    });
    if (seen.get("*")?.has("*") && seen.size !== 1)
      report.warning(`${at}.hosts`, "`*/*` host select all resources, no other hosts can be added");
  });
  const policy = sidecar.outboundTrafficPolicy;
  if (policy?.egressProxy) {
    const at = "spec.outboundTrafficPolicy.egressProxy";
    if ((policy.mode ?? 0) !== OutboundTrafficPolicy_Mode.ALLOW_ANY)
      report.error(at, "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode");
    else {
      const problem = fqdnProblem(policy.egressProxy.host ?? "");
      if (problem) report.error(`${at}.host`, problem);
      if (!policy.egressProxy.port) report.error(at, "sidecar: egress_proxy port must be non-nil");
      else validateDestination(policy.egressProxy, at, report);
    }
  }
}
