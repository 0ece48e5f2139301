// istiod's HTTP monitoring port (15014) on node:http: Prometheus metrics, readiness, and debug endpoints that say
// what each proxy was sent and whether it took it.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type AckTracker, XdsKitError } from "@xdskit/core";
import type { Registry } from "prom-client";
import { syncStatusOf } from "./sync-status.js";

export interface MonitoringServerOptions {
  /** Default: "127.0.0.1". Use "0.0.0.0" to let Prometheus scrape from elsewhere. */
  readonly host?: string;
  /** Default: 15014 (istiod's monitoring port); 0 = pick one. */
  readonly port?: number;
  /** Served on /metrics. Without it /metrics is 404. */
  readonly registry?: Registry;
  /** Served on /debug/syncz. */
  readonly tracker?: AckTracker;
  /** Served on /debug/config_dump?proxy=<node id>; undefined = no such proxy (404). */
  readonly configDump?: (proxy: string) => unknown;
  /** Served on /debug/diagnostics: the problems of the current config. */
  readonly diagnostics?: () => readonly unknown[];
  /** /ready answers 200 when this says ready, else 503 with the reason. Default: always ready. */
  readonly ready?: () => { ready: boolean; reason?: string };
}

export interface MonitoringServer {
  readonly port: number;
  /** e.g. "http://127.0.0.1:15014". */
  readonly url: string;
  close(): Promise<void>;
}

const ENDPOINTS = ["/metrics", "/ready", "/debug/syncz", "/debug/config_dump?proxy=<node id>", "/debug/diagnostics"];

function send(res: http.ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const sendJson = (res: http.ServerResponse, status: number, value: unknown) =>
  send(res, status, `${JSON.stringify(value, null, 2)}\n`, "application/json");

export async function startMonitoringServer(options: MonitoringServerOptions = {}): Promise<MonitoringServer> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 15014;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new XdsKitError("INVALID_ARGUMENT", `monitoring: port must be 0..65535, got ${port}`);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "only GET\n");
    switch (url.pathname) {
      case "/metrics":
        if (!options.registry) break;
        return send(res, 200, await options.registry.metrics(), options.registry.contentType);
      case "/ready": {
        const state = options.ready?.() ?? { ready: true };
        return state.ready ? send(res, 200, "ready\n") : send(res, 503, `not ready: ${state.reason ?? "starting"}\n`);
      }
      case "/debug/syncz":
        if (!options.tracker) break;
        return sendJson(res, 200, syncStatusOf(options.tracker));
      case "/debug/config_dump": {
        if (!options.configDump) break;
        const proxy = url.searchParams.get("proxy");
        if (!proxy) return send(res, 400, "give the proxy: /debug/config_dump?proxy=<node id> (see /debug/syncz)\n");
        const dump = options.configDump(proxy);
        return dump === undefined ? send(res, 404, `no config for proxy ${proxy}\n`) : sendJson(res, 200, dump);
      }
      case "/debug/diagnostics":
        if (!options.diagnostics) break;
        return sendJson(res, 200, options.diagnostics());
    }
    send(res, 404, `not found: ${url.pathname}; endpoints: ${ENDPOINTS.join(" ")}\n`);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, `${(error as Error).message}\n`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new XdsKitError(
          "INVALID_ARGUMENT",
          error.code === "EADDRINUSE"
            ? `monitoring port ${host}:${port} is in use: pick another (0 = any)`
            : error.message,
          { cause: error },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
