// What the four Bookinfo services share: a small node:http server that says which service and version answered,
// and an upstream call that keeps the request's tracing and user headers (the way Istio's Bookinfo does, so
// routing rules on `end-user` and distributed traces work through the sidecars).
import http from "node:http";
import type { AddressInfo } from "node:net";

/** Headers a Bookinfo service copies from its incoming request onto the calls it makes. */
export const PROPAGATED_HEADERS = [
  "x-request-id",
  "traceparent",
  "tracestate",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "b3",
  "end-user",
  "user-agent",
] as const;

export interface ServiceIdentity {
  /** "productpage", "details", "reviews" or "ratings". */
  readonly service: string;
  /** "v1", "v2", "v3". */
  readonly version: string;
}

/** Where a service reaches another: its URL (e.g. the sidecar's outbound listener) and the Host header to send. */
export interface Upstream {
  /** Base URL, e.g. "http://127.0.0.1:9080". */
  readonly url: string;
  /** Host header (the mesh service name the sidecar routes on). Default: the URL's host. */
  readonly authority?: string;
  /** Give up after this many milliseconds. Default: 10000. */
  readonly timeoutMs?: number;
}

export interface RunningService {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void> | void;

/**
 * Starts a server whose every response carries x-bookinfo-service and x-bookinfo-version, and x-bookinfo-peer: the
 * x-forwarded-client-cert its sidecar set (with mesh mTLS: who called, by SPIFFE id, and who answered).
 */
export async function serve(
  identity: ServiceIdentity,
  options: { host?: string; port?: number },
  handler: Handler,
): Promise<RunningService> {
  const host = options.host ?? "127.0.0.1";
  const server = http.createServer((req, res) => {
    res.setHeader("x-bookinfo-service", identity.service);
    res.setHeader("x-bookinfo-version", identity.version);
    const peer = req.headers["x-forwarded-client-cert"];
    if (typeof peer === "string") res.setHeader("x-bookinfo-peer", peer);
    const url = new URL(req.url ?? "/", "http://localhost");
    Promise.resolve()
      .then(() => handler(req, res, url))
      .catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: (error as Error).message });
        else res.end();
      });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function headersToPropagate(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROPAGATED_HEADERS) {
    const value = req.headers[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

/** The answer of an upstream call: status 0 means no HTTP answer at all (refused, timed out). */
export interface UpstreamResponse {
  readonly status: number;
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** GET `path` on an upstream with the given headers; never throws (failures are status 0). */
export function getFrom(upstream: Upstream, path: string, headers: Record<string, string>): Promise<UpstreamResponse> {
  const base = new URL(upstream.url);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: base.hostname,
        port: base.port || 80,
        path: `${base.pathname.replace(/\/$/, "")}${path}`,
        method: "GET",
        headers: { ...headers, host: upstream.authority ?? base.host },
        agent: false,
        timeout: upstream.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }),
        );
        res.on("error", (error) => resolve({ status: 0, body: error.message, headers: {} }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (error) => resolve({ status: 0, body: error.message, headers: {} }));
    req.end();
  });
}
