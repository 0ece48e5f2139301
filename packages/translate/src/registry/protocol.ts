// Istio's protocol selection: a Kubernetes port's appProtocol, else its name's prefix (`http`, `http-web`,
// `grpc-api`, ...); a ServiceEntry or Gateway port's `protocol` field. Unnamed ports are UNKNOWN (sniffed).
import type { PortProtocol } from "./model.js";

const KNOWN: Readonly<Record<string, PortProtocol>> = {
  http: "HTTP",
  http2: "HTTP2",
  grpc: "GRPC",
  "grpc-web": "GRPC-WEB",
  https: "HTTPS",
  tls: "TLS",
  tcp: "TCP",
  mongo: "MONGO",
  redis: "REDIS",
  mysql: "MYSQL",
  udp: "UDP",
  h2c: "HTTP2",
};

/** A protocol name as written (`HTTP`, `grpc`, `kubernetes.io/h2c`) to Istio's protocol, or UNKNOWN. */
export function parseProtocol(value: string | undefined): PortProtocol {
  if (!value) return "UNKNOWN";
  const lower = value.toLowerCase();
  return KNOWN[lower.startsWith("kubernetes.io/") ? lower.slice("kubernetes.io/".length) : lower] ?? "UNKNOWN";
}

/** The protocol of a Kubernetes Service port: appProtocol wins, then the name's prefix before `-`. */
export function protocolOfKubernetesPort(name: string | undefined, appProtocol: string | undefined): PortProtocol {
  if (appProtocol) {
    const declared = parseProtocol(appProtocol);
    if (declared !== "UNKNOWN") return declared;
  }
  if (!name) return "UNKNOWN";
  const lower = name.toLowerCase();
  if (lower.startsWith("grpc-web")) return "GRPC-WEB";
  const dash = lower.indexOf("-");
  return parseProtocol(dash < 0 ? lower : lower.slice(0, dash));
}

/** HTTP-family protocols get HTTP connection managers and route configurations. UNKNOWN is sniffed as HTTP. */
export function isHttpProtocol(protocol: PortProtocol): boolean {
  return (
    protocol === "HTTP" ||
    protocol === "HTTP2" ||
    protocol === "GRPC" ||
    protocol === "GRPC-WEB" ||
    protocol === "UNKNOWN"
  );
}

/** Protocols whose upstream connections are HTTP/2. */
export function isHttp2Protocol(protocol: PortProtocol): boolean {
  return protocol === "HTTP2" || protocol === "GRPC" || protocol === "GRPC-WEB";
}
