// Gateway rules: servers, ports, hosts and TLS settings.
import { type Gateway, type Server, type ServerTLSSettings, ServerTLSSettings_TLSmode } from "@xdskit/core/istio";
import {
  ipAddressProblem,
  isDns1123Label,
  isHttpProtocol,
  isIpAddress,
  isTlsProtocol,
  parseProtocol,
  partialWildcardProblem,
  portProblem,
  wildcardDomainProblem,
} from "./names.js";
import { list, type Report } from "./report.js";

export function validateGateway(gateway: Gateway, name: string, report: Report): void {
  if (!isDns1123Label(name)) report.error("metadata.name", `invalid gateway name: "${name}"`);
  const servers = list(gateway.servers);
  if (servers.length === 0) report.error("spec.servers", "gateway must have at least one server");
  servers.forEach((server, i) => {
    validateServer(server, `spec.servers[${i}]`, report);
  });
  const portNames = new Set<string>();
  servers.forEach((server, i) => {
    if (!server.port) return;
    const portName = server.port.name ?? "";
    if (portNames.has(portName))
      report.error(`spec.servers[${i}].port.name`, `port names in servers must be unique: duplicate name ${portName}`);
    portNames.add(portName);
    if (!isHttpProtocol(parseProtocol(server.port.protocol ?? "")) && server.tls?.httpsRedirect)
      report.warning(`spec.servers[${i}].tls.httpsRedirect`, "tls.httpsRedirect should only be used with http servers");
  });
}

function validateServer(server: Server, path: string, report: Report): void {
  const hosts = list(server.hosts);
  if (hosts.length === 0) report.error(`${path}.hosts`, "server config must contain at least one host");
  hosts.forEach((host, i) => {
    for (const p of gatewayHostProblems(host)) report.error(`${path}.hosts[${i}]`, p);
  });
  const port = server.port;
  const bind = server.bind ?? "";
  let portValid = true;
  if (!port) {
    report.error(`${path}.port`, "port is required");
    portValid = false;
  } else {
    const protocol = port.protocol ?? "";
    if (!parseProtocol(protocol)) {
      report.error(
        `${path}.port.protocol`,
        `invalid protocol "${protocol}", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`,
      );
      portValid = false;
    }
    const number = port.number ?? 0;
    if (number > 0 || !bind.startsWith("unix://")) {
      const problem = portProblem(number);
      if (problem) {
        report.error(`${path}.port.number`, problem);
        portValid = false;
      }
    }
    if ((port.targetPort ?? 0) > 0) {
      report.error(`${path}.port.targetPort`, "targetPort has no impact on Gateways");
      portValid = false;
    }
    if (!port.name) {
      report.error(`${path}.port.name`, `port name must be set: number:${number} protocol:"${protocol}"`);
      portValid = false;
    }
  }
  if (bind.startsWith("unix://")) {
    const socket = bind.slice("unix://".length);
    if (socket === "") report.error(`${path}.bind`, "unix address must not be empty");
    else if (!socket.startsWith("@") && (!socket.startsWith("/") || socket.endsWith("/")))
      report.error(`${path}.bind`, `${socket} is not an absolute path to a file`);
    if (port?.number) report.error(`${path}.bind`, `port number must be 0 for unix domain socket`);
  } else if (bind !== "") {
    const problem = ipAddressProblem(bind);
    if (problem) report.error(`${path}.bind`, problem);
  }
  validateServerTls(server.tls, `${path}.tls`, report);
  if (portValid && port) {
    const protocol = parseProtocol(port.protocol ?? "");
    if (isTlsProtocol(protocol) && !server.tls) {
      report.error(path, "server must have TLS settings for HTTPS/TLS protocols");
    } else if (!isTlsProtocol(protocol) && server.tls) {
      const tls = server.tls;
      if (isHttpProtocol(protocol)) {
        // Only an httpsRedirect (a passthrough-mode TLS block without certificates) is allowed on plain HTTP.
        const passthrough = (tls.mode ?? 0) === ServerTLSSettings_TLSmode.PASSTHROUGH;
        if (!passthrough || tls.caCertificates || tls.privateKey || tls.serverCertificate)
          report.error(`${path}.tls`, "server cannot have TLS settings for plain text HTTP ports");
      } else {
        report.error(`${path}.tls`, "server cannot have TLS settings for non HTTPS/TLS ports");
      }
    }
  }
}

/** Gateway hosts are `dnsName` or `namespace/dnsName`; the name must be an FQDN (or `*`), IPs are allowed. */
export function gatewayHostProblems(host: string): string[] {
  const out: string[] = [];
  const slash = host.indexOf("/");
  let name = host;
  if (slash >= 0) {
    const ns = host.slice(0, slash);
    name = host.slice(slash + 1);
    if (!ns || !name) out.push("config namespace and dnsName in host entry cannot be empty");
    if (ns !== "*" && ns !== "." && !isDns1123Label(ns)) out.push(`invalid namespace value "${ns}" in gateway`);
  }
  if (name !== "*" && !name.includes(".")) out.push("short names (non FQDN) are not allowed");
  const problem = wildcardDomainProblem(name);
  if (problem && !isIpAddress(name)) out.push(problem);
  const partial = partialWildcardProblem(name);
  if (partial) out.push(partial);
  return out;
}

export function validateServerTls(tls: ServerTLSSettings | undefined, path: string, report: Report): void {
  if (!tls) return;
  const mode = tls.mode ?? ServerTLSSettings_TLSmode.PASSTHROUGH;
  const minVersion = tls.minProtocolVersion ?? 0;
  if ((minVersion === 1 || minVersion === 2) && list(tls.cipherSuites).length === 0)
    report.warning(
      `${path}.minProtocolVersion`,
      "TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.",
    );
  const credentialNames = list(tls.credentialNames);
  const tlsCertificates = list(tls.tlsCertificates);
  if (mode === ServerTLSSettings_TLSmode.ISTIO_MUTUAL) {
    if (tls.serverCertificate) report.error(path, "ISTIO_MUTUAL TLS cannot have associated server certificate");
    if (tls.privateKey) report.error(path, "ISTIO_MUTUAL TLS cannot have associated private key");
    if (tls.caCertificates) report.error(path, "ISTIO_MUTUAL TLS cannot have associated CA bundle");
    if (tlsCertificates.length) report.error(path, "ISTIO_MUTUAL TLS cannot have associated tlsCertificates");
    if (tls.credentialName) report.error(path, "ISTIO_MUTUAL TLS cannot have associated credentialName");
    if (credentialNames.length) report.error(path, "ISTIO_MUTUAL TLS cannot have associated credentialNames");
    return;
  }
  const modeName = ServerTLSSettings_TLSmode[mode] ?? String(mode);
  if (mode === ServerTLSSettings_TLSmode.PASSTHROUGH || mode === ServerTLSSettings_TLSmode.AUTO_PASSTHROUGH) {
    if (
      tls.caCrl ||
      tls.serverCertificate ||
      tls.privateKey ||
      tls.caCertificates ||
      tlsCertificates.length ||
      tls.credentialName ||
      credentialNames.length
    )
      report.warning(path, `${modeName} mode does not use certificates, they will be ignored`);
  }
  const sources =
    Number(!!(tls.serverCertificate && tls.privateKey)) +
    Number(!!tls.credentialName) +
    Number(credentialNames.length > 0) +
    Number(tlsCertificates.length > 0);
  if (sources > 1)
    report.error(
      path,
      "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified",
    );
  const terminating =
    mode === ServerTLSSettings_TLSmode.SIMPLE ||
    mode === ServerTLSSettings_TLSmode.MUTUAL ||
    mode === ServerTLSSettings_TLSmode.OPTIONAL_MUTUAL;
  if (terminating && (tls.credentialName || credentialNames.length > 0)) return; // certificates come from SDS
  if (terminating) {
    const prefix = mode === ServerTLSSettings_TLSmode.SIMPLE ? "SIMPLE TLS" : "MUTUAL TLS";
    if (prefix === "MUTUAL TLS" && !tls.caCertificates) report.error(path, `${prefix} requires a client CA bundle`);
    if (tlsCertificates.length > 2) report.warning(path, `${prefix} can support up to 2 server certificates`);
    const certs = tlsCertificates.length
      ? tlsCertificates
      : [{ serverCertificate: tls.serverCertificate, privateKey: tls.privateKey }];
    for (const cert of certs) {
      if (!cert.serverCertificate) report.error(path, `${prefix} requires a server certificate`);
      if (!cert.privateKey) report.error(path, `${prefix} requires a private key`);
    }
  }
  if (tls.caCrl) {
    if (tls.credentialName)
      report.error(path, "CRL is not supported with credentialName. CRL has to be specified in the credential");
    if (mode === ServerTLSSettings_TLSmode.SIMPLE) report.error(path, "CRL is not supported with SIMPLE TLS");
  }
}
