// The request a simulation routes, checked at the API's door and normalised into what Envoy sees once
// the HTTP connection manager has read it: pseudo-headers, lower-case header names, scheme, authority.
import { XdsKitError } from "@xdskit/core";

/** A request to simulate. Every field is optional; see each default. */
export interface SimulationRequest {
  /** Pick the listener by name instead of by address and port. */
  listener?: string;
  /** Route with this RouteConfiguration directly (no listener): by name, as RDS would. */
  routeConfiguration?: string;
  /**
   * Destination address of the connection; default the address of a listener named in `listener` (unless
   * it is 0.0.0.0 / ::), else "127.0.0.1".
   */
  address?: string;
  /**
   * Destination port of the connection; default the port of `url`, else the port of a listener named in
   * `listener`, else 80 (443 for https).
   */
  port?: number;
  /** HTTP method; default "GET". */
  method?: string;
  /** "http://host:port/path?query" (sets scheme, authority, path and, unless given, port). */
  url?: string;
  /** Host header (:authority); default the host of `url`. */
  authority?: string;
  /** :path with the query; default the path of `url`, else "/". */
  path?: string;
  /** :scheme; default the scheme of `url`, else "https" when `tls` is given, else "http". */
  scheme?: "http" | "https";
  /** More request headers, by name (case-insensitive); an array sends the header several times. */
  headers?: Readonly<Record<string, string | readonly string[]>>;
  /** The downstream connection's source; default 127.0.0.1:40000. */
  source?: { address?: string; port?: number };
  /**
   * The downstream TLS handshake, for filter chain matching. Seen only through a listener with the TLS
   * inspector (or a filter chain with a transport socket for an already-terminated connection).
   */
  tls?: { sni?: string; alpn?: readonly string[] };
  /**
   * Envoy's per-request random value, used for runtime_fraction matches and to pick a weighted cluster.
   * Default: none — a fraction strictly between 0 and 100 % is reported as uncertain and counted as a
   * match, and a split between several clusters names no single cluster.
   */
  randomValue?: number;
}

/** What the simulator routes on: the request as Envoy holds it after the connection manager. */
export interface NormalizedRequest {
  readonly method: string;
  readonly scheme: "http" | "https";
  readonly authority: string;
  readonly path: string;
  readonly headers: Map<string, string[]>;
  readonly destination: { address: string; port: number };
  /** Which parts of the destination the caller gave (the rest may come from a named listener). */
  readonly destinationGiven: { address: boolean; port: boolean };
  readonly source: { address: string; port: number };
  readonly tls: { sni?: string; alpn: readonly string[] } | undefined;
  readonly randomValue: number | undefined;
  readonly listener: string | undefined;
  readonly routeConfiguration: string | undefined;
}

const bad = (field: string, why: string): never => {
  throw new XdsKitError("INVALID_ARGUMENT", `simulate: request.${field} ${why}`);
};

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") bad(field, `must be a string, got ${typeof value}`);
  return value as string;
}

function optionalPort(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 65535)
    bad(field, `must be a port number (0-65535), got ${JSON.stringify(value)}`);
  return value as number;
}

/** Checks a plain-JS request and fills the defaults. */
export function normalizeRequest(request: SimulationRequest): NormalizedRequest {
  if (typeof request !== "object" || request === null)
    throw new XdsKitError("INVALID_ARGUMENT", "simulate: the request must be an object");
  const url = optionalString(request.url, "url");
  let parsed: URL | undefined;
  if (url !== undefined) {
    try {
      parsed = new URL(url);
    } catch {
      bad("url", `is not an absolute URL: ${JSON.stringify(url)}`);
    }
    if (parsed && parsed.protocol !== "http:" && parsed.protocol !== "https:")
      bad("url", `must be http: or https:, got ${parsed.protocol}`);
  }
  const tlsInput = request.tls;
  if (tlsInput !== undefined && (typeof tlsInput !== "object" || tlsInput === null)) bad("tls", "must be an object");
  const sni = optionalString(tlsInput?.sni, "tls.sni");
  const alpn = tlsInput?.alpn ?? [];
  if (!Array.isArray(alpn) || alpn.some((p) => typeof p !== "string")) bad("tls.alpn", "must be an array of strings");
  const scheme =
    request.scheme ??
    (parsed ? (parsed.protocol.slice(0, -1) as "http" | "https") : tlsInput !== undefined ? "https" : "http");
  if (scheme !== "http" && scheme !== "https") bad("scheme", `must be "http" or "https", got ${String(scheme)}`);
  const method = optionalString(request.method, "method") ?? "GET";
  const authority = optionalString(request.authority, "authority") ?? parsed?.host ?? "";
  const path = optionalString(request.path, "path") ?? (parsed ? `${parsed.pathname}${parsed.search}` : "/");
  if (!path.startsWith("/") && path !== "*") bad("path", `must start with "/", got ${JSON.stringify(path)}`);
  const urlPort = parsed?.port ? Number(parsed.port) : undefined;
  const port = optionalPort(request.port, "port") ?? urlPort ?? (scheme === "https" ? 443 : 80);
  const address = optionalString(request.address, "address") ?? "127.0.0.1";
  const source = {
    address: optionalString(request.source?.address, "source.address") ?? "127.0.0.1",
    port: optionalPort(request.source?.port, "source.port") ?? 40000,
  };
  const randomValue = request.randomValue;
  if (randomValue !== undefined && (!Number.isSafeInteger(randomValue) || randomValue < 0))
    bad("randomValue", `must be a non-negative integer, got ${JSON.stringify(randomValue)}`);

  const headers = new Map<string, string[]>();
  const add = (name: string, value: string) => {
    const list = headers.get(name);
    if (list) list.push(value);
    else headers.set(name, [value]);
  };
  add(":method", method);
  add(":scheme", scheme);
  add(":authority", authority);
  add(":path", path);
  const extra = request.headers ?? {};
  if (typeof extra !== "object" || extra === null) bad("headers", "must be an object of header values");
  for (const [rawName, value] of Object.entries(extra)) {
    const name = rawName.toLowerCase();
    if (name === "host" || name === ":authority") {
      if (typeof value !== "string") bad(`headers.${rawName}`, "must be one string");
      headers.set(":authority", [value as string]);
      continue;
    }
    if (name.startsWith(":")) bad(`headers.${rawName}`, "is a pseudo-header: use method, scheme, authority or path");
    const values = typeof value === "string" ? [value] : value;
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string"))
      bad(`headers.${rawName}`, "must be a string or an array of strings");
    for (const v of values as string[]) add(name, v);
  }
  // The connection manager sets x-forwarded-proto from the connection when the client sent none.
  if (!headers.has("x-forwarded-proto")) add("x-forwarded-proto", scheme);
  return {
    method,
    scheme,
    authority: headers.get(":authority")?.[0] ?? authority,
    path,
    headers,
    destination: { address, port },
    destinationGiven: {
      address: request.address !== undefined,
      port: request.port !== undefined || urlPort !== undefined,
    },
    source,
    tls: tlsInput !== undefined ? { ...(sni !== undefined ? { sni } : {}), alpn: alpn as string[] } : undefined,
    randomValue,
    listener: optionalString(request.listener, "listener"),
    routeConfiguration: optionalString(request.routeConfiguration, "routeConfiguration"),
  };
}
