// Fan-out benchmark runner. For each (server, mode, N, R): start the server process, POST /load,
// start the load-client processes, wait until every stream holds the config, then per update kind
// run warm-up + trials of POST /update and time until the last stream received the new version and
// until the server processed the last stream's ACK of it (GET /acked); trials never overlap.
// Also an idle-streams memory run (heap and RSS per stream). Everything is loopback and bounded.
//
// Run through bench/run.ts (`npm run bench -- --flags`), which sets the Node flags this needs.
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  childNodeArgs,
  freePort,
  httpJson,
  LOOPBACK,
  nowMs,
  parseFlags,
  sleep,
  spawnServer,
  stopChild,
} from "./lib/proc.js";
import type { AckedResponse, FromClient, ServerStats, ToClient, UpdateResponse, XdsMode } from "./lib/protocol.js";
import { fmt, linearFit, percentile, printTable } from "./lib/report.js";
import { benchDir, cacheDir, ensureWorkload, readWorkloadHeader, type UpdateKind } from "./workload.js";

export type ServerName = "reference" | "floor" | "xdskit" | "xdskit-linear" | "go-control-plane";
const ALL_SERVERS: readonly ServerName[] = ["xdskit", "xdskit-linear", "go-control-plane", "reference", "floor"];

interface Options {
  servers: ServerName[];
  modes: XdsMode[];
  ns: number[];
  rs: number[];
  kinds: UpdateKind[];
  trials: number;
  warmup: number;
  clients: number;
  perChannel: number;
  /** GOMAXPROCS of the go-control-plane peer; 0 = Go's default (every core). */
  gomaxprocs: number;
  idleNs: number[];
  idleR: number;
  idleMode: XdsMode;
  maxInitialGb: number;
  ratio: [ServerName, ServerName] | undefined;
  json: string | undefined;
  gapMs: number;
  /** Node binary for the TS servers and the load clients. */
  node: string;
  /** Servers and clients run the TypeScript sources instead of the built packages. */
  source: boolean;
  /** Load-client implementation: `load-client-go/` (grpc-go) or `load-client.ts` (grpc-js). */
  clientImpl: ClientImpl;
  /** GOMAXPROCS of each Go load-client process. */
  clientGomaxprocs: number;
}

export type ClientImpl = "go" | "js";

// ---- servers under test ----

const GO_DIR = path.join(benchDir, "go-control-plane");
const GO_BIN = path.join(cacheDir, "gcp-server");
/** The Go load client (its own module), built like the peer. */
const GO_CLIENT_DIR = path.join(benchDir, "load-client-go");
const GO_CLIENT_BIN = path.join(cacheDir, "load-client-go");

/** GOFLAGS for the peer's build: the caller's, plus -mod=mod unless a -mod is set. */
function goFlags(): string {
  const current = process.env.GOFLAGS ?? "";
  return current.includes("-mod=") ? current : `${current} -mod=mod`.trim();
}

/** Builds the Go main package in `dir` into `bin` if missing or older than its sources (modules come from the Go proxy). */
function ensureGoBuild(dir: string, bin: string, what: string): string {
  const sources = readdirSync(dir)
    .filter((f) => (f.endsWith(".go") && !f.endsWith("_test.go")) || f === "go.mod" || f === "go.sum")
    .map((f) => statSync(path.join(dir, f)).mtimeMs);
  if (existsSync(bin) && statSync(bin).mtimeMs >= Math.max(...sources)) return bin;
  mkdirSync(cacheDir, { recursive: true });
  console.error(`building ${what}: go build -o ${path.relative(process.cwd(), bin)} (in ${dir})`);
  execFileSync("go", ["build", "-o", bin, "."], {
    cwd: dir,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, GOFLAGS: goFlags() },
  });
  return bin;
}

/** Builds the go-control-plane peer if missing or older than its sources. */
export function ensureGoBinary(): string {
  return ensureGoBuild(GO_DIR, GO_BIN, "go-control-plane peer");
}

/** Builds the Go load client (`load-client-go/`) if missing or older than its sources. */
export function ensureGoClientBinary(): string {
  return ensureGoBuild(GO_CLIENT_DIR, GO_CLIENT_BIN, "Go load client");
}

/** Whether a Go toolchain is on PATH. */
function goInstalled(): boolean {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const WORKSPACE = path.resolve(benchDir, "..");
const BUILT_PACKAGES = ["core", "server"];

/** The newest mtime of any file under `dir` (0 when it does not exist). */
function newestUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(file) : statSync(file).mtimeMs);
  }
  return newest;
}

/** Runs `npm run build` when a package the servers load from dist/ is missing it or has newer sources. */
export function ensureBuilt(): void {
  const stale = BUILT_PACKAGES.filter((name) => {
    const dist = path.join(WORKSPACE, "packages", name, "dist", "index.js");
    return !existsSync(dist) || statSync(dist).mtimeMs < newestUnder(path.join(WORKSPACE, "packages", name, "src"));
  });
  if (stale.length === 0) return;
  console.error(`building the packages (${stale.join(", ")}: dist/ missing or older than src/): npm run build`);
  execFileSync("npm", ["run", "build"], { cwd: WORKSPACE, stdio: ["ignore", "ignore", "inherit"] });
}

/** Modes each server supports. */
export function serverModes(server: ServerName): XdsMode[] {
  return server === "reference" ? ["sotw"] : ["sotw", "delta"];
}

/** Whether a server can run here (xdskit: the assumed API exists; go-control-plane: a go toolchain or a built binary). */
export async function serverAvailable(server: ServerName): Promise<boolean> {
  if (server === "reference" || server === "floor") return true;
  if (server === "go-control-plane") return existsSync(GO_BIN) || goInstalled();
  try {
    // Specifiers in variables: these modules or exports may not exist yet.
    const serverSpec = "@xdskit/server";
    const coreSpec = "@xdskit/core";
    const s = (await import(serverSpec)) as Record<string, unknown>;
    const c = (await import(coreSpec)) as Record<string, unknown>;
    return (
      typeof s.createXdsServer === "function" &&
      typeof c.createSnapshotCache === "function" &&
      typeof c.createSnapshot === "function"
    );
  } catch {
    return false;
  }
}

async function startServer(
  server: ServerName,
  opts: Options,
): Promise<{ child: ChildProcess; control: number; ads: number }> {
  const control = await freePort();
  const ads = await freePort();
  // --parent-pid: the server exits when the runner is gone, even if the runner was killed with SIGKILL.
  const ports = [`--control-port=${control}`, `--ads-port=${ads}`, `--parent-pid=${process.pid}`];
  let child: ChildProcess;
  if (server === "go-control-plane") {
    child = await spawnServer(GO_BIN, [...ports, `--gomaxprocs=${opts.gomaxprocs}`], process.env, 30_000);
  } else {
    const file = path.join(benchDir, "servers", `${server === "reference" ? "reference" : server}-server.ts`);
    const profile = process.env.XDSKIT_BENCH_CPU_PROF
      ? ["--cpu-prof", `--cpu-prof-dir=${process.env.XDSKIT_BENCH_CPU_PROF}`]
      : [];
    // Extra Node flags for the TS servers, e.g. XDSKIT_BENCH_SERVER_FLAGS="--trace-gc --max-semi-space-size=32".
    profile.push(...(process.env.XDSKIT_BENCH_SERVER_FLAGS ?? "").split(" ").filter(Boolean));
    child = await spawnServer(
      opts.node,
      [...childNodeArgs(opts.source), ...profile, "--expose-gc", file, ...ports],
      process.env,
      60_000,
    );
  }
  return { child, control, ads };
}

// ---- load clients ----

class Clients {
  private readonly children: ChildProcess[] = [];
  private readonly waiters = new Set<{
    match: (i: number, m: FromClient) => boolean;
    got: Map<number, FromClient>;
    done: () => void;
  }>();
  errors: string[] = [];
  /** Why the first client that died died: waits for all clients then fail at once instead of timing out. */
  private exited: string | undefined;
  private readonly exitListeners = new Set<(why: string) => void>();
  private closing = false;

  constructor(adsPort: number, mode: XdsMode, n: number, workload: string, opts: Options, deadlineMs: number) {
    const count = n === 0 ? 0 : Math.min(opts.clients, n);
    for (let i = 0; i < count; i++) {
      const lo = Math.floor((n * i) / count);
      const hi = Math.floor((n * (i + 1)) / count);
      const args = [
        `--target=${LOOPBACK}:${adsPort}`,
        `--mode=${mode}`,
        `--streams=${hi - lo}`,
        `--offset=${lo}`,
        `--workload=${workload}`,
        `--per-channel=${opts.perChannel}`,
        `--deadline-ms=${deadlineMs}`,
        `--client=${i}`,
      ];
      // Both speak the same IPC protocol over Node's channel (newline-delimited JSON on fd 3 for the Go binary).
      const child =
        opts.clientImpl === "go"
          ? spawn(GO_CLIENT_BIN, args, {
              stdio: ["ignore", "inherit", "inherit", "ipc"],
              serialization: "json",
              env: { ...process.env, GOMAXPROCS: String(opts.clientGomaxprocs) },
            })
          : fork(path.join(benchDir, "load-client.ts"), args, {
              execPath: opts.node,
              execArgv: [
                ...childNodeArgs(opts.source),
                ...(process.env.XDSKIT_BENCH_CLIENT_PROF
                  ? ["--cpu-prof", `--cpu-prof-dir=${process.env.XDSKIT_BENCH_CLIENT_PROF}`]
                  : []),
              ],
              stdio: ["ignore", "inherit", "inherit", "ipc"],
            });
      child.on("message", (m: FromClient) => this.onMessage(i, m));
      child.on("exit", (code, signal) => {
        if (this.closing || (code === 0 && !signal)) return;
        const why = signal ? `client ${i} was killed by ${signal}` : `client ${i} exited with code ${code}`;
        this.errors.push(why);
        this.exited ??= why;
        for (const listener of this.exitListeners) listener(why);
      });
      this.children.push(child);
    }
  }

  get size(): number {
    return this.children.length;
  }

  private onMessage(i: number, m: FromClient): void {
    if (m.type === "error") {
      if (this.errors.length < 10) console.error(`  client ${i}: ${m.message}`);
      this.errors.push(m.message);
    }
    for (const w of this.waiters) {
      if (w.match(i, m)) {
        w.got.set(i, m);
        if (w.got.size === this.children.length) w.done();
      }
    }
  }

  /** Waits for one matching message from every client; `trigger` runs after the waiter is in place. */
  async all<T extends FromClient>(
    match: (m: FromClient) => m is T,
    timeoutMs: number,
    what: string,
    trigger?: () => void,
  ): Promise<T[]> {
    if (this.children.length === 0) {
      trigger?.();
      return [];
    }
    const got = new Map<number, FromClient>();
    let resolveAll: () => void = () => {};
    const completed = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    const waiter = { match: (_i: number, m: FromClient) => match(m), got, done: () => resolveAll() };
    this.waiters.add(waiter);
    let timer: NodeJS.Timeout | undefined;
    let onExit: (why: string) => void = () => {};
    const timedOut = new Promise<never>((_, reject) => {
      onExit = (why) => reject(new Error(`${why} while the runner waited for ${what}`));
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what} (${got.size}/${this.children.length} clients)`,
            ),
          ),
        timeoutMs,
      );
    });
    this.exitListeners.add(onExit);
    try {
      if (this.exited) onExit(this.exited);
      else trigger?.();
      await Promise.race([completed, timedOut]);
    } finally {
      this.waiters.delete(waiter);
      this.exitListeners.delete(onExit);
      clearTimeout(timer);
    }
    return [...got.values()] as T[];
  }

  send(msg: ToClient): void {
    for (const c of this.children) if (c.connected) c.send(msg);
  }

  async counters(): Promise<{ bytes: number; responses: number; errors: number }> {
    const all = await this.all(
      (m): m is Extract<FromClient, { type: "counters" }> => m.type === "counters",
      30_000,
      "counters",
      () => this.send({ type: "counters" }),
    );
    return all.reduce(
      (s, m) => ({ bytes: s.bytes + m.bytes, responses: s.responses + m.responses, errors: s.errors + m.errors }),
      {
        bytes: 0,
        responses: 0,
        errors: 0,
      },
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    this.send({ type: "exit" });
    await Promise.all(this.children.map((c) => stopChild(c, 2000)));
  }
}

/** Seconds from the first stream opened (any client) until the last stream held the config. */
function connectTime(ready: readonly Extract<FromClient, { type: "ready" }>[], fallback: number): number {
  if (ready.length === 0) return 0;
  const opened = Math.min(...ready.map((m) => m.openedAt));
  return (Math.max(...ready.map((m) => m.lastConfigAt)) - (Number.isFinite(opened) ? opened : fallback)) / 1000;
}

// ---- one session: a server with N connected streams ----

export interface Row {
  server: ServerName;
  mode: XdsMode;
  n: number;
  r: number;
  kind: UpdateKind;
  trials: number;
  /** Receipt latency: start of POST /update → the last stream received the update (client clock). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Ack latency: start of POST /update → the server processed the last stream's ACK of it (GET /acked). */
  ackP50Ms: number;
  ackP99Ms: number;
  ackMaxMs: number;
  /** Trials whose ackedAt came before the last receipt (a clock or counting bug; should be 0). */
  ackBeforeReceipt: number;
  /** The last trial's `GET /acked` diagnostics: per changed type, streams counted and ACKs processed. */
  lastAcked: Pick<AckedResponse, "streams" | "acks"> | undefined;
  /** Median time for POST /update to return (cache updated). */
  updateCallMs: number;
  /** From client start until every stream held the initial config. */
  connectSec: number;
  connectCpuSec: number;
  cpuMsPerUpdate: number;
  peakRssMb: number;
  heapMb: number;
  mbPerUpdate: number;
  serverMbPerUpdate: number | undefined;
  errors: number;
  verifyErrors: string[];
  info: string;
}

const MB = 1024 * 1024;
const cpuOf = (s: ServerStats) => s.cpuUserSec + s.cpuSystemSec;
/** Where an interval that starts at these stats starts: after their forced GC (servers that report it). */
const cpuFrom = (s: ServerStats) => s.cpuAfterGcSec ?? cpuOf(s);
/** Node: V8 heap plus off-heap Buffers after GC; Go: HeapAlloc after GC. */
const heapOf = (s: ServerStats) => s.heapUsedBytes + (s.externalBytes ?? 0);

async function session(server: ServerName, mode: XdsMode, n: number, r: number, opts: Options): Promise<Row[]> {
  const workload = ensureWorkload(r);
  const header = readWorkloadHeader(workload);
  const perStreamBytes = header.clusterBytes + header.endpointBytes;
  // Generous, size-scaled bounds: 10 MB/s of config per phase plus a floor.
  const connectTimeout = 60_000 + (n * perStreamBytes) / 10_000;
  const updateTimeout = 30_000 + (n * perStreamBytes) / 10_000;
  const deadline = connectTimeout + (opts.warmup + opts.trials) * opts.kinds.length * (updateTimeout + 5_000) + 60_000;

  const { child, control: srv, ads } = await startServer(server, opts);
  let clients: Clients | undefined;
  const rows: Row[] = [];
  try {
    await httpJson<UpdateResponse>(srv, "POST", "/load", { workload });
    const loaded = await httpJson<ServerStats>(srv, "GET", "/stats");
    const t0 = nowMs();
    const c = new Clients(ads, mode, n, workload, opts, deadline);
    clients = c;
    const ready = await c.all(
      (m): m is Extract<FromClient, { type: "ready" }> => m.type === "ready",
      connectTimeout,
      `initial config on ${n} streams`,
    );
    const connectSec = connectTime(ready, t0);
    // seq 0 is the /load: the first trial starts once the server processed every initial ACK.
    await httpJson<AckedResponse>(
      srv,
      "GET",
      `/acked?seq=0&streams=${n}&timeoutMs=${Math.round(connectTimeout)}`,
      undefined,
      connectTimeout + 10_000,
    );
    await sleep(500);
    const steady = await httpJson<ServerStats>(srv, "GET", "/stats");
    let seq = 0;
    for (const kind of opts.kinds) {
      const before = await httpJson<ServerStats>(srv, "GET", "/stats");
      const cBefore = await c.counters();
      const latencies: number[] = [];
      const ackLatencies: number[] = [];
      let ackBeforeReceipt = 0;
      let lastAcked: Row["lastAcked"];
      const calls: number[] = [];
      const verifyErrors: string[] = [];
      for (let t = 0; t < opts.warmup + opts.trials; t++) {
        seq++;
        const target = header.clusterNames[seq % r] ?? "";
        const s = seq;
        await c.all(
          (m): m is Extract<FromClient, { type: "armed" }> => m.type === "armed" && m.seq === s,
          30_000,
          `arm ${s}`,
          () => c.send({ type: "arm", seq: s, kind, target }),
        );
        let start = 0;
        let call: Promise<number> = Promise.resolve(0);
        const done = await c.all(
          (m): m is Extract<FromClient, { type: "done" }> => m.type === "done" && m.seq === s,
          updateTimeout,
          `update ${s} (${kind}) on ${n} streams`,
          () => {
            start = nowMs();
            call = httpJson<UpdateResponse>(srv, "POST", "/update", { kind, seq: s }, updateTimeout).then(
              () => nowMs() - start,
            );
            // Handled now (the trial then times out waiting for "done"); `await call` below rethrows.
            call.catch((e: Error) => c.errors.push(e.message));
          },
        );
        const callMs = await call;
        // The server's time of the last ACK; the next trial starts only once it has processed them all.
        const acked = await httpJson<AckedResponse>(
          srv,
          "GET",
          `/acked?seq=${s}&streams=${n}&timeoutMs=${Math.round(updateTimeout)}`,
          undefined,
          updateTimeout + 10_000,
        );
        for (const d of done) if (d.verifyError) verifyErrors.push(d.verifyError);
        // Every stream counted exactly once per changed type (more: a counting bug).
        for (const [typeUrl, count] of Object.entries(acked.streams))
          if (count !== n) verifyErrors.push(`seq ${s}: ${count} streams counted for ${typeUrl}, expected ${n}`);
        lastAcked = { streams: acked.streams, acks: acked.acks };
        const receivedAt = Math.max(...done.map((d) => d.lastAt), start);
        if (t >= opts.warmup) {
          latencies.push(receivedAt - start);
          ackLatencies.push(acked.ackedAt - start);
          if (acked.ackedAt < receivedAt) ackBeforeReceipt++;
          calls.push(callMs);
        }
        await sleep(opts.gapMs);
      }
      const after = await httpJson<ServerStats>(srv, "GET", "/stats");
      const cAfter = await c.counters();
      const updates = opts.warmup + opts.trials;
      const sent =
        after.bytesSent !== undefined && before.bytesSent !== undefined
          ? (after.bytesSent - before.bytesSent) / updates / MB
          : undefined;
      rows.push({
        server,
        mode,
        n,
        r,
        kind,
        trials: opts.trials,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        maxMs: Math.max(...latencies),
        ackP50Ms: percentile(ackLatencies, 50),
        ackP99Ms: percentile(ackLatencies, 99),
        ackMaxMs: Math.max(...ackLatencies),
        ackBeforeReceipt,
        lastAcked,
        updateCallMs: percentile(calls, 50),
        connectSec,
        connectCpuSec: cpuOf(steady) - cpuFrom(loaded),
        cpuMsPerUpdate: ((cpuOf(after) - cpuFrom(before)) / updates) * 1000,
        peakRssMb: after.peakRssBytes / MB,
        heapMb: heapOf(steady) / MB,
        mbPerUpdate: (cAfter.bytes - cBefore.bytes) / updates / MB,
        serverMbPerUpdate: sent,
        errors: cAfter.errors + c.errors.length,
        verifyErrors,
        info: Object.entries(after.info ?? {})
          .filter(([k]) => ["runtime", "goControlPlane", "gomaxprocs"].includes(k))
          .map(([k, v]) => `${k}=${v}`)
          .join(" "),
      });
      const last = rows[rows.length - 1] as Row;
      console.error(
        `  ${server} ${mode} N=${n} R=${r} ${kind}: p50 ${fmt(last.p50Ms)} ms, p99 ${fmt(last.p99Ms)} ms, ` +
          `ack p50 ${fmt(last.ackP50Ms)} ms, ack p99 ${fmt(last.ackP99Ms)} ms, ` +
          `cpu ${fmt(last.cpuMsPerUpdate)} ms/update, ${fmt(last.mbPerUpdate, 2)} MB/update` +
          (ackBeforeReceipt ? `, ACK BEFORE RECEIPT in ${ackBeforeReceipt} trials (clock or counting bug)` : "") +
          (verifyErrors.length ? `, VERIFY: ${verifyErrors[0]}` : ""),
      );
    }
  } finally {
    await clients?.close();
    await stopChild(child);
  }
  return rows;
}

// ---- idle-streams memory run ----

interface IdlePoint {
  server: ServerName;
  n: number;
  heapMb: number;
  rssMb: number;
  connectSec: number;
}

async function idlePoint(server: ServerName, n: number, opts: Options): Promise<IdlePoint> {
  const workload = ensureWorkload(opts.idleR);
  const header = readWorkloadHeader(workload);
  const timeout = 60_000 + (n * (header.clusterBytes + header.endpointBytes)) / 10_000;
  const { child, control, ads } = await startServer(server, opts);
  let clients: Clients | undefined;
  try {
    await httpJson(control, "POST", "/load", { workload });
    const t0 = nowMs();
    const c = new Clients(ads, opts.idleMode, n, workload, opts, timeout + 60_000);
    clients = c;
    const ready = await c.all(
      (m): m is Extract<FromClient, { type: "ready" }> => m.type === "ready",
      timeout,
      `initial config on ${n} streams`,
    );
    await sleep(1000);
    const s = await httpJson<ServerStats>(control, "GET", "/stats");
    return {
      server,
      n,
      heapMb: heapOf(s) / MB,
      rssMb: s.rssBytes / MB,
      connectSec: connectTime(ready, t0),
    };
  } finally {
    await clients?.close();
    await stopChild(child);
  }
}

// ---- options ----

function list(v: string | undefined, fallback: string): string[] {
  return (v ?? fallback)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function parseOptions(argv: readonly string[]): Promise<Options> {
  const f = parseFlags(argv);
  const full = f.get("full") === "true";
  let servers = list(f.get("server"), "auto") as Array<ServerName | "auto">;
  if (servers.includes("auto")) {
    const avail: ServerName[] = [];
    for (const s of ALL_SERVERS) if (await serverAvailable(s)) avail.push(s);
    servers = avail;
  }
  for (const s of servers)
    if (!ALL_SERVERS.includes(s as ServerName)) throw new Error(`unknown --server ${s} (${ALL_SERVERS.join(", ")})`);
  let ratio: [ServerName, ServerName] | undefined;
  const r = f.get("ratio");
  if (r !== undefined && r !== "false") {
    const [a, b] = (r === "true" ? "xdskit/go-control-plane" : r).split("/") as [ServerName, ServerName];
    ratio = [a, b];
  }
  const idle = f.get("idle") ?? (full ? "0,1000,2000,5000,10000" : "0,500,1000");
  const clientImpl = (f.get("client-impl") ?? (existsSync(GO_CLIENT_BIN) || goInstalled() ? "go" : "js")) as ClientImpl;
  if (clientImpl !== "go" && clientImpl !== "js") throw new Error(`unknown --client-impl ${clientImpl} (go, js)`);
  return {
    servers: servers as ServerName[],
    modes: list(f.get("mode"), "sotw,delta") as XdsMode[],
    ns: list(f.get("n"), full ? "100,1000,2000,10000" : "100,1000").map(Number),
    rs: list(f.get("r"), full ? "100,1000,5000" : "100,1000").map(Number),
    kinds: list(f.get("kind"), "one-endpoint,full-replace") as UpdateKind[],
    trials: Number(f.get("trials") ?? (full ? 10 : 5)),
    warmup: Number(f.get("warmup") ?? 1),
    clients: Number(f.get("clients") ?? 2),
    perChannel: Number(f.get("per-channel") ?? 100),
    gomaxprocs: Number(f.get("gomaxprocs") ?? 0),
    idleNs: idle === "none" ? [] : list(idle, "").map(Number),
    idleR: Number(f.get("idle-r") ?? 100),
    idleMode: (f.get("idle-mode") ?? "sotw") as XdsMode,
    // The default matrix skips N=1000 × R=1000 (1.4 GB initial push); --max-initial-gb or --full include it.
    maxInitialGb: Number(f.get("max-initial-gb") ?? (full ? 16 : 0.5)),
    ratio,
    json: f.get("json"),
    gapMs: Number(f.get("gap-ms") ?? 100),
    node: f.get("node") ?? process.execPath,
    source: f.get("source") === "true",
    clientImpl,
    clientGomaxprocs: Number(f.get("client-gomaxprocs") ?? 1),
  };
}

/** The load clients, for the run header and the table footer. */
function describeClients(opts: Options): string {
  return opts.clientImpl === "go"
    ? `go (${path.relative(process.cwd(), GO_CLIENT_BIN)}, grpc-go, GOMAXPROCS=${opts.clientGomaxprocs} each)`
    : `js (load-client.ts on ${opts.node}, grpc-js, ${opts.source ? "TypeScript sources" : "built packages"})`;
}

// ---- main ----

function printRows(rows: readonly Row[]): void {
  printTable(
    "Fan-out: time from POST /update until the last stream received the new version (p50/p99) and until " +
      "the server processed the last stream's ACK of it (ack p50/p99), ms, per update",
    [
      "server",
      "mode",
      "N",
      "R",
      "update",
      "p50 ms",
      "p99 ms",
      "ack p50 ms",
      "ack p99 ms",
      "call ms",
      "cpu ms/upd",
      "MiB rx/upd",
      "connect s",
      "connect cpu s",
      "peak RSS MiB",
      "heap MiB",
      "err",
    ],
    rows.map((r) => [
      r.server,
      r.mode,
      String(r.n),
      String(r.r),
      r.kind,
      fmt(r.p50Ms),
      fmt(r.p99Ms),
      fmt(r.ackP50Ms),
      fmt(r.ackP99Ms),
      fmt(r.updateCallMs),
      fmt(r.cpuMsPerUpdate),
      fmt(r.mbPerUpdate, 2),
      fmt(r.connectSec, 2),
      fmt(r.connectCpuSec, 2),
      fmt(r.peakRssMb, 0),
      fmt(r.heapMb, 1),
      String(r.errors + r.verifyErrors.length),
    ]),
  );
}

function printRatios(rows: readonly Row[], [a, b]: [ServerName, ServerName]): void {
  const out: string[][] = [];
  for (const ra of rows.filter((r) => r.server === a)) {
    const rb = rows.find(
      (r) => r.server === b && r.mode === ra.mode && r.n === ra.n && r.r === ra.r && r.kind === ra.kind,
    );
    if (!rb) continue;
    const x = (p: number, q: number) => `${fmt(p / q, 2)}x`;
    out.push([
      ra.mode,
      String(ra.n),
      String(ra.r),
      ra.kind,
      x(ra.p50Ms, rb.p50Ms),
      x(ra.p99Ms, rb.p99Ms),
      x(ra.ackP50Ms, rb.ackP50Ms),
      x(ra.ackP99Ms, rb.ackP99Ms),
      x(ra.cpuMsPerUpdate, rb.cpuMsPerUpdate),
      x(ra.mbPerUpdate, rb.mbPerUpdate),
      x(ra.connectSec, rb.connectSec),
      x(ra.peakRssMb, rb.peakRssMb),
      x(ra.heapMb, rb.heapMb),
    ]);
  }
  if (out.length === 0) {
    console.log(`\n(no rows to compare for --ratio=${a}/${b})`);
    return;
  }
  printTable(
    `Ratio ${a} / ${b} (below 1 = ${a} is lower)`,
    [
      "mode",
      "N",
      "R",
      "update",
      "p50",
      "p99",
      "ack p50",
      "ack p99",
      "cpu/upd",
      "MiB rx/upd",
      "connect",
      "peak RSS",
      "heap",
    ],
    out,
  );
}

export async function main(argv: readonly string[]): Promise<void> {
  const opts = await parseOptions(argv);
  if (opts.servers.includes("go-control-plane")) ensureGoBinary();
  if (opts.clientImpl === "go") ensureGoClientBinary();
  if (!opts.source) ensureBuilt();
  console.error(
    `servers: ${opts.servers.join(", ")}; modes ${opts.modes.join(",")}; N ${opts.ns.join(",")}; R ${opts.rs.join(",")}; ` +
      `${opts.warmup} warm-up + ${opts.trials} trials per update kind; ${opts.clients} client processes, ` +
      `${opts.perChannel} streams per HTTP/2 connection; go GOMAXPROCS=${opts.gomaxprocs || `default (${os.cpus().length})`}; ` +
      `node ${opts.node} (${opts.source ? "TypeScript sources" : "built packages"}); ` +
      `load clients: ${describeClients(opts)}; ${os.cpus().length} CPUs`,
  );
  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const n of opts.ns)
    for (const r of opts.rs)
      for (const mode of opts.modes)
        for (const server of opts.servers) {
          if (!serverModes(server).includes(mode)) continue;
          const header = readWorkloadHeader(ensureWorkload(r));
          const initialGb = (n * (header.clusterBytes + header.endpointBytes)) / 1e9;
          if (initialGb > opts.maxInitialGb) {
            skipped.push(
              `${server} ${mode} N=${n} R=${r} (${fmt(initialGb)} GB initial push > --max-initial-gb=${opts.maxInitialGb})`,
            );
            continue;
          }
          console.error(`${server} ${mode} N=${n} R=${r} ...`);
          try {
            rows.push(...(await session(server, mode, n, r, opts)));
          } catch (e) {
            console.error(`  FAILED: ${(e as Error).message}`);
            skipped.push(`${server} ${mode} N=${n} R=${r}: ${(e as Error).message.split("\n")[0]}`);
          }
        }
  if (rows.length) printRows(rows);
  for (const r of rows)
    for (const v of r.verifyErrors.slice(0, 3)) console.log(`  verify ${r.server} ${r.mode} N=${r.n} R=${r.r}: ${v}`);
  const infos = new Map(rows.map((r) => [r.server, r.info]));
  for (const [s, i] of infos) console.log(`  ${s}: ${i}`);
  if (rows.length) console.log(`  load clients: ${describeClients(opts)}`);
  if (opts.ratio) printRatios(rows, opts.ratio);

  const idle: IdlePoint[] = [];
  if (opts.idleNs.length) {
    for (const server of opts.servers) {
      if (!serverModes(server).includes(opts.idleMode)) continue;
      for (const n of opts.idleNs) {
        console.error(`idle ${server} ${opts.idleMode} N=${n} R=${opts.idleR} ...`);
        try {
          idle.push(await idlePoint(server, n, opts));
        } catch (e) {
          console.error(`  FAILED: ${(e as Error).message}`);
        }
      }
    }
    const byServer = new Map<ServerName, IdlePoint[]>();
    for (const p of idle) byServer.set(p.server, [...(byServer.get(p.server) ?? []), p]);
    const idleRows: string[][] = [];
    for (const [server, pts] of byServer) {
      const heapFit = linearFit(
        pts.map((p) => p.n),
        pts.map((p) => p.heapMb),
      );
      const rssFit = linearFit(
        pts.map((p) => p.n),
        pts.map((p) => p.rssMb),
      );
      idleRows.push([
        server,
        pts.map((p) => `${p.n}:${fmt(p.heapMb, 0)}/${fmt(p.rssMb, 0)}`).join(" "),
        fmt(heapFit.slope * 1024, 1),
        fmt(rssFit.slope * 1024, 1),
      ]);
    }
    printTable(
      `Idle streams (${opts.idleMode}, R=${opts.idleR}): memory after GC with N streams holding the config`,
      ["server", "N:heapMiB/rssMiB", "heap KB/stream", "RSS KB/stream"],
      idleRows,
    );
    console.log(`  load clients: ${describeClients(opts)}`);
  }
  if (skipped.length) {
    console.log("\nSkipped:");
    for (const s of skipped) console.log(`  ${s}`);
  }
  if (opts.json) {
    mkdirSync(path.dirname(path.resolve(opts.json)), { recursive: true });
    writeFileSync(opts.json, `${JSON.stringify({ options: opts, rows, idle, skipped }, null, 2)}\n`);
    console.log(`\nresults written to ${opts.json}`);
  }
}
