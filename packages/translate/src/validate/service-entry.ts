// ServiceEntry, WorkloadEntry and WorkloadGroup rules.
import { type ServiceEntry, ServiceEntry_Resolution, type WorkloadEntry, type WorkloadGroup } from "@xdskit/core/istio";
import {
  fqdnProblem,
  ipSubnetProblem,
  isHttpProtocol,
  isIpAddress,
  isTcpProtocol,
  isTlsProtocol,
  labelsProblems,
  parseProtocol,
  partialWildcardProblem,
  portNameProblem,
  portProblem,
  protocolProblem,
  wildcardDomainProblem,
} from "./names.js";
import { dict, list, type Report } from "./report.js";
import { validateExportTo } from "./virtual-service.js";

function unixAddressProblem(address: string): string | undefined {
  if (address === "") return "unix address must not be empty";
  if (address.startsWith("@")) return undefined;
  return !address.startsWith("/") || address.endsWith("/") ? `${address} is not an absolute path to a file` : undefined;
}

/** Also used for a ServiceEntry's inline endpoints, with the service's port names and without FQDN addresses. */
export function validateWorkloadEntry(
  we: WorkloadEntry,
  path: string,
  report: Report,
  servicePorts?: ReadonlySet<string>,
  allowFqdnAddresses = true,
): void {
  const address = we.address ?? "";
  if (address === "") {
    if (!we.network) {
      report.error(`${path}.address`, "address is required");
      return;
    }
    report.warning(`${path}.address`, `address is unset with network "${we.network}"`);
  }
  const ports = Object.entries(dict(we.ports));
  const unix = address.startsWith("unix://");
  if (unix) {
    const problem = unixAddressProblem(address.slice("unix://".length));
    if (problem) report.error(`${path}.address`, problem);
    if (ports.length) report.error(`${path}.ports`, `unix endpoint ${address} must not include ports`);
  } else if (address !== "" && !isIpAddress(address)) {
    if (!allowFqdnAddresses) report.error(`${path}.address`, `endpoint address "${address}" is not a valid IP address`);
    else if (fqdnProblem(address))
      report.error(`${path}.address`, `endpoint address "${address}" is not a valid FQDN or an IP address`);
  }
  for (const [name, port] of ports) {
    const at = `${path}.ports.${name}`;
    if (servicePorts && !servicePorts.has(name))
      report.error(at, `endpoint port ${port} is not defined by the service entry`);
    const nameProblem = portNameProblem(name);
    if (nameProblem) report.error(at, nameProblem);
    const portP = portProblem(port);
    if (portP) report.error(at, portP);
  }
  for (const p of labelsProblems(we.labels)) report.error(`${path}.labels`, p);
  if (unix && servicePorts && servicePorts.size !== 1)
    report.error(path, "exactly 1 service port required for unix endpoints");
}

export function validateWorkloadGroup(wg: WorkloadGroup, report: Report): void {
  if (!wg.template) {
    report.error("spec.template", "template is required");
    return;
  }
  // Like istiod, the template is not checked as a WorkloadEntry: its address and more are filled in when a
  // workload registers.
  const problems = labelsProblems(wg.metadata?.labels);
  if (problems.length) report.error("spec.metadata.labels", `invalid labels: ${problems.join("; ")}`);
  if (wg.probe) validateReadinessProbe(wg.probe, "spec.probe", report);
}

const PROBE_HEADER_NAME = /^[-A-Za-z0-9]+$/;

/** istiod's readiness probe rules: non-negative timings and one check (httpGet, tcpSocket or exec; not grpc). */
function validateReadinessProbe(probe: NonNullable<WorkloadGroup["probe"]>, path: string, report: Report): void {
  for (const field of [
    "periodSeconds",
    "initialDelaySeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
  ] as const)
    if ((probe[field] ?? 0) < 0) report.error(`${path}.${field}`, `${field} must be non-negative`);
  const port = (value: number | undefined, at: string) => {
    const n = value ?? 0;
    if (n < 1 || n > 65535) report.error(at, `port number ${n} must be in the range 1..65535`);
  };
  if (probe.httpGet) {
    port(probe.httpGet.port, `${path}.httpGet.port`);
    const scheme = probe.httpGet.scheme ?? "";
    if (scheme !== "" && scheme !== "HTTP" && scheme !== "HTTPS")
      report.error(`${path}.httpGet.scheme`, 'httpGet.scheme must be one of "HTTPS", "HTTP"');
    list(probe.httpGet.httpHeaders).forEach((header, i) => {
      const name = header.name ?? "";
      if (name === "") report.error(`${path}.httpGet.httpHeaders[${i}].name`, "header name cannot be empty");
      else if (!PROBE_HEADER_NAME.test(name))
        report.error(`${path}.httpGet.httpHeaders[${i}].name`, `header name ${name} is not a valid header name`);
    });
  } else if (probe.tcpSocket) port(probe.tcpSocket.port, `${path}.tcpSocket.port`);
  else if (probe.exec) {
    if (list(probe.exec.command).length === 0) report.error(`${path}.exec.command`, "exec.command is required");
  } else
    report.error(
      path,
      probe.grpc
        ? "unknown health check method grpc (istiod accepts httpGet, tcpSocket and exec)"
        : "a health check method (httpGet, tcpSocket or exec) is required",
    );
}

export function validateServiceEntry(se: ServiceEntry, namespace: string, report: Report): void {
  const resolution = se.resolution ?? ServiceEntry_Resolution.NONE;
  const resolutionName = ServiceEntry_Resolution[resolution] ?? String(resolution);
  const hosts = list(se.hosts);
  const addresses = list(se.addresses);
  const endpoints = list(se.endpoints);
  const ports = list(se.ports);
  if (se.workloadSelector) {
    const labels = Object.entries(dict(se.workloadSelector.labels));
    for (const [key, value] of labels) {
      if (key === "")
        report.error("spec.workloadSelector", `empty key is not supported in selector: "${key}=${value}"`);
      if (key.includes("*") || value.includes("*"))
        report.error("spec.workloadSelector", `wildcard is not supported in selector: "${key}=${value}"`);
    }
    if (labels.length === 0)
      report.warning(
        "spec.workloadSelector",
        "service entry: workload selector specified without labels, will be applied to all services in namespace",
      );
    if (endpoints.length) report.error("spec", "only one of WorkloadSelector or Endpoints is allowed in Service Entry");
  }
  if (hosts.length === 0) report.error("spec.hosts", "service entry must have at least one host");
  hosts.forEach((host, i) => {
    const at = `spec.hosts[${i}]`;
    if (host === "*") {
      report.error(at, `invalid host ${host}`);
      return;
    }
    const problem = wildcardDomainProblem(host);
    if (problem) report.error(at, problem);
    const partial = resolution === ServiceEntry_Resolution.DYNAMIC_DNS ? undefined : partialWildcardProblem(host);
    if (partial) report.warning(at, partial);
  });
  let cidr = false;
  addresses.forEach((address, i) => {
    cidr ||= address.includes("/");
    const problem = ipSubnetProblem(address);
    if (problem) report.error(`spec.addresses[${i}]`, problem);
  });
  if (cidr && resolution !== ServiceEntry_Resolution.NONE && resolution !== ServiceEntry_Resolution.STATIC)
    report.error("spec.addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types");
  const names = new Set<string>();
  const numbers = new Set<number>();
  ports.forEach((port, i) => {
    const at = `spec.ports[${i}]`;
    const name = port.name ?? "";
    const number = port.number ?? 0;
    if (names.has(name)) report.error(`${at}.name`, `service entry port name "${name}" already defined`);
    names.add(name);
    if (numbers.has(number)) report.error(`${at}.number`, `service entry port ${number} already defined`);
    numbers.add(number);
    if (port.targetPort) {
      const problem = portProblem(port.targetPort);
      if (problem) report.error(`${at}.targetPort`, problem);
    }
    // Istio skips this warning when addresses are auto-allocated (its DNS proxy option); xdskit does not allocate.
    if (addresses.length === 0 && (!port.protocol || port.protocol === "TCP"))
      report.warning(
        at,
        "addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled",
      );
    for (const [field, problem] of [
      ["name", portNameProblem(name)],
      ["protocol", protocolProblem(port.protocol ?? "")],
      ["number", portProblem(number)],
    ] as const)
      if (problem) report.error(`${at}.${field}`, problem);
  });
  switch (resolution) {
    case ServiceEntry_Resolution.NONE:
      if (endpoints.length) report.error("spec.endpoints", "no endpoints should be provided for resolution type none");
      if (se.workloadSelector)
        report.warning("spec.workloadSelector", "workloadSelector should not be set when resolution mode is NONE");
      break;
    case ServiceEntry_Resolution.STATIC:
      endpoints.forEach((endpoint, i) => {
        validateWorkloadEntry(endpoint, `spec.endpoints[${i}]`, report, names, false);
      });
      break;
    case ServiceEntry_Resolution.DNS:
    case ServiceEntry_Resolution.DNS_ROUND_ROBIN: {
      if (endpoints.length === 0) {
        for (const [i, host] of hosts.entries()) {
          const problem = fqdnProblem(host);
          if (problem) {
            report.error(
              `spec.hosts[${i}]`,
              `hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode ${resolutionName}, ${problem}`,
            );
            break;
          }
        }
      }
      if (resolution === ServiceEntry_Resolution.DNS_ROUND_ROBIN && endpoints.length > 1)
        report.error("spec.endpoints", `there must only be 0 or 1 endpoint for resolution mode ${resolutionName}`);
      endpoints.forEach((endpoint, i) => {
        const at = `spec.endpoints[${i}]`;
        const address = endpoint.address ?? "";
        if (!isIpAddress(address) && fqdnProblem(address))
          report.error(`${at}.address`, `endpoint address "${address}" is not a valid FQDN or an IP address`);
        for (const p of labelsProblems(endpoint.labels)) report.error(`${at}.labels`, p);
        for (const [name, port] of Object.entries(dict(endpoint.ports))) {
          if (!names.has(name))
            report.error(`${at}.ports.${name}`, `endpoint port ${port} is not defined by the service entry`);
          const problem = portNameProblem(name) ?? portProblem(port);
          if (problem) report.error(`${at}.ports.${name}`, problem);
        }
      });
      if (addresses.length > 0 && hosts.length > 1 && ports.some((p) => isTcpProtocol(parseProtocol(p.protocol ?? ""))))
        report.warning(
          "spec.hosts",
          "service entry can not have more than one host specified simultaneously with address and tcp port",
        );
      break;
    }
    case ServiceEntry_Resolution.DYNAMIC_DNS:
      // Hosts are resolved per request (Envoy's dynamic forward proxy): wildcard hosts, HTTP/TLS ports only.
      if (hosts.length === 0)
        report.error("spec.hosts", `at least one wildcard host must be provided for resolution type ${resolutionName}`);
      hosts.forEach((host, i) => {
        if (!host.startsWith("*"))
          report.error(`spec.hosts[${i}]`, `host must be wildcarded for resolution mode ${resolutionName}`);
      });
      if (addresses.length)
        report.error(
          "spec.addresses",
          `addresses cannot be set for resolution type ${resolutionName}. HTTP route domains will only be generatedfrom the hosts field values`,
        );
      if (endpoints.length)
        report.error(
          "spec.endpoints",
          `endpoints cannot be set for resolution type ${resolutionName}. Destination IP address determined from hostsfield values`,
        );
      ports.forEach((port, i) => {
        const protocol = parseProtocol(port.protocol ?? "");
        if (protocol !== "HTTP" && protocol !== "TLS" && protocol !== "GRPC" && protocol !== "HTTP2")
          report.error(
            `spec.ports[${i}].protocol`,
            `only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type ${resolutionName}`,
          );
      });
      break;
    default:
      report.error("spec.resolution", `unsupported resolution type ${resolutionName}`);
  }
  // Plain TCP cannot tell hosts apart (no Host header, no SNI), unless the hosts are ignored (NONE).
  if (resolution !== ServiceEntry_Resolution.NONE && hosts.length > 1) {
    const plain = ports.find((p) => {
      const protocol = parseProtocol(p.protocol ?? "");
      return !isHttpProtocol(protocol) && !isTlsProtocol(protocol);
    });
    if (plain) report.error("spec.ports", "multiple hosts provided with non-HTTP, non-TLS ports");
  }
  validateExportTo(namespace, list(se.exportTo), true, false, "spec.exportTo", report);
}
