// The HTTP control endpoint of the TypeScript servers under test (the Go peer implements the same
// protocol in main.go): POST /load, POST /update, GET /acked, GET /stats. It owns the workload state
// and the update rules; a backend only has to put the resulting resources into its cache and report
// the ACKs its ADS server processes to the AckCounter.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type Cluster, type ClusterLoadAssignment, resourceTypes } from "@xdskit/core";
import { applyUpdate, readWorkload } from "../workload.js";
import { AckCounter } from "./acks.js";
import { LOOPBACK, parseFlags } from "./proc.js";
import type { AckedResponse, LoadRequest, ServerStats, UpdateRequest, UpdateResponse } from "./protocol.js";

const CDS = resourceTypes.Cluster.typeUrl;
const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;

/** Resources for every node, with a SotW version per type. */
export interface BenchSnapshot {
  clusters: readonly Cluster[];
  endpoints: readonly ClusterLoadAssignment[];
  clusterVersion: string;
  endpointVersion: string;
}

/** The versions the ADS server puts in responses (and in ACK events) after a snapshot was set. */
export interface BenchVersions {
  clusters: string;
  endpoints: string;
  /** For the `POST /update` answer; default: the seq. */
  version?: string;
}

/** What a server under test plugs into the control endpoint. */
export interface BenchBackend {
  /**
   * Makes `snapshot` the state every node sees, synchronously: the control endpoint registers the
   * update's versions with the AckCounter right after it returns, before any ACK can be processed.
   */
  setSnapshot(snapshot: BenchSnapshot): BenchVersions;
  /** DiscoveryResponse payload bytes written so far, if the backend counts them. */
  bytesSent?(): number;
  /** Extra facts for /stats. */
  info?(): Record<string, string | number>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve(text ? JSON.parse(text) : {});
      } catch (e) {
        reject(e);
      }
    });
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function stats(backend: BenchBackend): ServerStats {
  // CPU before and after the forced GC, so that it is billed to no interval the runner measures.
  const cpu = process.cpuUsage();
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const mem = process.memoryUsage();
  const afterGc = process.cpuUsage();
  const out: ServerStats = {
    cpuUserSec: cpu.user / 1e6,
    cpuSystemSec: cpu.system / 1e6,
    cpuAfterGcSec: (afterGc.user + afterGc.system) / 1e6,
    rssBytes: mem.rss,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    heapUsedBytes: mem.heapUsed,
    externalBytes: mem.external,
    info: { runtime: `node ${process.version}`, gcExposed: gc ? 1 : 0, ...backend.info?.() },
  };
  const sent = backend.bytesSent?.();
  if (sent !== undefined) out.bytesSent = sent;
  return out;
}

/** `GET /acked?seq&streams&timeoutMs`: long-polls the AckCounter; 504 on timeout. */
async function acked(acks: AckCounter, url: URL, res: ServerResponse): Promise<void> {
  const q = url.searchParams;
  const seq = q.has("seq") ? Number(q.get("seq")) : Number.NaN;
  const streams = q.has("streams") ? Number(q.get("streams")) : Number.NaN;
  const timeoutMs = Number(q.get("timeoutMs") ?? 60_000);
  if (!Number.isInteger(seq) || !Number.isInteger(streams) || !(timeoutMs > 0))
    return send(res, 400, { error: `bad query ${url.search}: needs integer seq and streams, optional timeoutMs > 0` });
  try {
    send(res, 200, (await acks.wait(seq, streams, Math.min(timeoutMs, 2 ** 31 - 1))) satisfies AckedResponse);
  } catch (e) {
    send(res, 504, { error: (e as Error).message });
  }
}

/**
 * Parses `--control-port` and `--ads-port`, lets `start(adsPort, acks)` bring up the ADS server (which
 * reports every ACK it processes to `acks`), serves the control protocol and prints `READY` once both
 * listen. SIGTERM closes everything.
 */
export async function runBenchServer(
  start: (adsPort: number, acks: AckCounter) => Promise<BenchBackend>,
): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const controlPort = Number(flags.get("control-port"));
  const adsPort = Number(flags.get("ads-port"));
  if (!controlPort || !adsPort) throw new Error("--control-port and --ads-port are required");
  exitWithParent(Number(flags.get("parent-pid") ?? 0));
  const acks = new AckCounter();
  const backend = await start(adsPort, acks);

  let state: BenchSnapshot | undefined;
  let busy = Promise.resolve();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? "/";
    if (req.method === "GET" && url === "/stats") return send(res, 200, stats(backend));
    if (req.method === "POST" && url === "/load") {
      const body = (await readBody(req)) as LoadRequest;
      const w = readWorkload(body.workload);
      state = { clusters: w.clusters, endpoints: w.endpoints, clusterVersion: "0", endpointVersion: "0" };
      const versions = backend.setSnapshot(state);
      acks.expect(0, { [CDS]: versions.clusters, [EDS]: versions.endpoints }); // GET /acked?seq=0: the load
      const version = versions.version ?? "0";
      return send(res, 200, { version } satisfies UpdateResponse);
    }
    if (req.method === "POST" && url === "/update") {
      const body = (await readBody(req)) as UpdateRequest;
      if (!state) return send(res, 409, { error: "POST /load first" });
      if (body.kind !== "one-endpoint" && body.kind !== "full-replace")
        return send(res, 400, { error: `unknown kind ${String(body.kind)}` });
      const next = applyUpdate(body.kind, body.seq, state.clusters, state.endpoints);
      const v = String(body.seq);
      state = {
        clusters: next.clusters,
        endpoints: next.endpoints,
        clusterVersion: next.changed.clusters ? v : state.clusterVersion,
        endpointVersion: next.changed.endpoints ? v : state.endpointVersion,
      };
      const versions = backend.setSnapshot(state);
      // Same tick as the cache update: no ACK of the new versions can have been processed yet.
      acks.expect(body.seq, {
        ...(next.changed.clusters ? { [CDS]: versions.clusters } : {}),
        ...(next.changed.endpoints ? { [EDS]: versions.endpoints } : {}),
      });
      return send(res, 200, { version: versions.version ?? v } satisfies UpdateResponse);
    }
    send(res, 404, { error: `no route ${req.method} ${url}` });
  };

  const http = createServer((req, res) => {
    // GET /acked long-polls; it must not hold up the queue below.
    if (req.method === "GET" && req.url?.startsWith("/acked?")) {
      void acked(acks, new URL(req.url, "http://control"), res);
      return;
    }
    // Control requests are handled one at a time, in arrival order.
    busy = busy.then(() =>
      handle(req, res).catch((e: Error) => {
        if (!res.headersSent) send(res, 500, { error: e.stack ?? e.message });
      }),
    );
  });
  await new Promise<void>((resolve) => http.listen(controlPort, LOOPBACK, resolve));

  const shutdown = () => {
    http.close();
    backend.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  console.log(`READY control=${controlPort} ads=${adsPort}`);
}

/** Exits once process `pid` (the runner) is gone; signal 0 only checks that it exists. */
function exitWithParent(pid: number): void {
  if (!pid) return;
  setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch {
      console.error(`runner (pid ${pid}) is gone: exiting`);
      process.exit(0);
    }
  }, 1000).unref();
}
