// Runs real Envoy processes for tests: one bootstrap per instance in its own temp dir, admin on a
// loopback port chosen by the kernel, readiness through /ready, typed-enough admin helpers, and a
// process "exit" hook that kills any Envoy a test forgot to stop.
//
// A missing Envoy is an error (never a skip): run `npm run envoy:install` first.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type ResolvedEnvoy, resolveEnvoyBinary } from "./envoy-binary.mjs";
import { freePorts } from "./ports.js";
import { waitFor } from "./wait.js";

/**
 * A bootstrap: a proto3 JSON object (e.g. from `messageToJson("envoy.config.bootstrap.v3.Bootstrap", ...)`,
 * or written by hand in snake_case), or YAML/JSON text. In text, `{{port:NAME}}` is replaced by the
 * port allocated for NAME (see {@link StartEnvoyOptions.ports}).
 */
export type BootstrapInput = object | string;

export interface StartEnvoyOptions {
  /** The bootstrap, or a function building it from the ports allocated for `ports`. */
  bootstrap: BootstrapInput | ((ports: Record<string, number>) => BootstrapInput);
  /** Names of free loopback ports to allocate before the bootstrap is built, e.g. `["http"]`. */
  ports?: readonly string[];
  /** `-l`; default "warning". */
  logLevel?: string;
  /** `--component-log-level`, e.g. "upstream:debug,config:debug". */
  componentLogLevel?: string;
  /** `--service-node` (the xDS node id) when the bootstrap sets none. */
  nodeId?: string;
  /** `--service-cluster`. */
  serviceCluster?: string;
  /** Extra command-line arguments. */
  args?: readonly string[];
  /** How long to wait for admin /ready to say LIVE; default 15 s. */
  readyTimeoutMs?: number;
  /** false: resolve as soon as the admin endpoint answers, LIVE or not (e.g. to watch a stuck init). */
  waitReady?: boolean;
  /** Grace period between SIGTERM and SIGKILL in stop(); default 3 s. */
  stopGraceMs?: number;
  /** Label used in error messages; default "envoy-<n>". */
  name?: string;
}

export interface ConfigDumpFilter {
  /** `?resource=`, e.g. "dynamic_active_clusters", "dynamic_listeners", "dynamic_route_configs". */
  resource?: string;
  /** `?mask=` (field mask, applied per resource with `resource`). */
  mask?: string;
  /** `?name_regex=`. */
  nameRegex?: string;
  /** `?include_eds` (EDS is left out of /config_dump by default). */
  includeEds?: boolean;
}

/** /config_dump: with `resource` each entry of configs is one resource (e.g. a DynamicListener). */
export interface ConfigDump {
  configs: Array<{ "@type": string; [key: string]: unknown }>;
}

export interface HostStatus {
  address?: { socket_address?: { address?: string; port_value?: number } };
  stats?: Array<{ name: string; value?: string; type?: string }>;
  health_status?: { eds_health_status?: string; [flag: string]: unknown };
  weight?: number;
  locality?: Record<string, string>;
  [key: string]: unknown;
}

/** /clusters?format=json */
export interface ClustersJson {
  cluster_statuses?: Array<{
    name: string;
    added_via_api?: boolean;
    host_statuses?: HostStatus[];
    [key: string]: unknown;
  }>;
}

export interface EnvoyHandle {
  readonly name: string;
  readonly pid: number;
  /** e.g. "http://127.0.0.1:40123" */
  readonly adminUrl: string;
  /** The ports allocated for `options.ports`. */
  readonly ports: Readonly<Record<string, number>>;
  /** The instance's temp dir (bootstrap file, admin address file); removed by stop(). */
  readonly dir: string;
  readonly bootstrapPath: string;
  readonly binary: ResolvedEnvoy;
  /** Any admin endpoint as text; throws on a non-2xx status. */
  admin(pathAndQuery: string, init?: { method?: "GET" | "POST" }): Promise<string>;
  configDump(filter?: string | ConfigDumpFilter): Promise<ConfigDump>;
  clusters(): Promise<ClustersJson>;
  /** Counters and gauges by name (histograms and text readouts left out). */
  stats(): Promise<Record<string, number>>;
  stat(name: string): Promise<number | undefined>;
  certs(): Promise<unknown>;
  /** The port a listener is actually bound to (works for listeners configured with port 0). */
  listenerPort(listenerName: string): Promise<number>;
  /** Polls `predicate` until truthy; the timeout error carries Envoy's log tail. */
  waitFor<T>(predicate: () => T | Promise<T>, timeoutMs?: number): Promise<NonNullable<T>>;
  /** Everything Envoy wrote to stdout and stderr (the newest ~2 MB). */
  logs(): string;
  /** Exit code once Envoy has exited, else undefined. */
  exitCode(): number | null | undefined;
  /** SIGTERM, SIGKILL after the grace period; always removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const LOG_LIMIT = 2 * 1024 * 1024;
const ADMIN_OVERLAY = JSON.stringify({
  admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
});

let binaryPromise: Promise<ResolvedEnvoy> | undefined;

/** The Envoy binary the harness runs (ENVOY_BIN, .cache/envoy-path, PATH or .cache/envoy-venv). */
export function envoyBinary(): Promise<ResolvedEnvoy> {
  binaryPromise ??= resolveEnvoyBinary({ install: false });
  // A failed lookup is not cached, so a later `npm run envoy:install` is picked up.
  binaryPromise.catch(() => {
    binaryPromise = undefined;
  });
  return binaryPromise;
}

interface Tracked {
  child: ChildProcess;
  dir: string;
}
const running = new Set<Tracked>();
let exitHookInstalled = false;

function track(entry: Tracked): void {
  running.add(entry);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const { child, dir } of running) {
      try {
        child.kill("SIGKILL");
      } catch {}
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {}
    }
    running.clear();
  });
}

let instanceCounter = 0;

function tail(text: string, lines = 40): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function fillPorts(text: string, ports: Record<string, number>): string {
  return text.replace(/\{\{port:([\w.-]+)\}\}/g, (whole, name: string) => {
    const port = ports[name];
    if (port === undefined) throw new Error(`bootstrap uses ${whole} but options.ports has no "${name}"`);
    return String(port);
  });
}

/** Writes a bootstrap to `dir`, as .json for objects and JSON text, else as .yaml. */
function writeBootstrap(dir: string, bootstrap: BootstrapInput, ports: Record<string, number> = {}): string {
  let text: string;
  let ext: string;
  if (typeof bootstrap === "string") {
    text = fillPorts(bootstrap, ports);
    ext = text.trimStart().startsWith("{") ? "json" : "yaml";
  } else {
    text = JSON.stringify(bootstrap, null, 2);
    ext = "json";
  }
  const file = path.join(dir, `bootstrap.${ext}`);
  fs.writeFileSync(file, text);
  return file;
}

function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `xdskit-${prefix}-`));
}

/** Starts Envoy and waits until admin /ready says LIVE (or only until admin answers, with waitReady: false). */
export async function startEnvoy(options: StartEnvoyOptions): Promise<EnvoyHandle> {
  const binary = await envoyBinary();
  const name = options.name ?? `envoy-${++instanceCounter}`;
  const ports: Record<string, number> = options.ports ? await freePorts(options.ports) : {};
  const bootstrap = typeof options.bootstrap === "function" ? options.bootstrap(ports) : options.bootstrap;
  const dir = makeTempDir("envoy");
  const bootstrapPath = writeBootstrap(dir, bootstrap, ports);
  const adminAddressPath = path.join(dir, "admin-address");

  const args = [
    "-c",
    bootstrapPath,
    "--config-yaml",
    ADMIN_OVERLAY,
    "--admin-address-path",
    adminAddressPath,
    "--use-dynamic-base-id",
    "--disable-hot-restart",
    "--concurrency",
    "1",
    "-l",
    options.logLevel ?? "warning",
    ...(options.componentLogLevel ? ["--component-log-level", options.componentLogLevel] : []),
    ...(options.nodeId ? ["--service-node", options.nodeId] : []),
    ...(options.serviceCluster ? ["--service-cluster", options.serviceCluster] : []),
    ...(options.args ?? []),
  ];

  const child = spawn(binary.path, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const entry: Tracked = { child, dir };
  track(entry);

  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.length > LOG_LIMIT) output = output.slice(-LOG_LIMIT);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  let exitCode: number | null | undefined;
  let exitSignal: NodeJS.Signals | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      resolve();
    });
    child.once("error", (err) => {
      output += `\n[harness] spawn failed: ${err.message}\n`;
      exitCode = exitCode ?? -1;
      resolve();
    });
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      if (exitCode === undefined) {
        child.kill("SIGTERM");
        const grace = new Promise<"timeout">((resolve) =>
          setTimeout(() => resolve("timeout"), options.stopGraceMs ?? 3000),
        );
        if ((await Promise.race([exited, grace])) === "timeout") {
          child.kill("SIGKILL");
          await exited;
        }
      }
    }
    running.delete(entry);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const describeExit = () =>
    `${name} exited (${exitSignal ? `signal ${exitSignal}` : `code ${exitCode}`}); output tail:\n${tail(output)}`;

  // Startup: the admin address file appears once admin listens; then /ready goes LIVE after init.
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const deadline = Date.now() + readyTimeoutMs;
  let adminUrl = "";
  let lastReady = "no answer";
  for (;;) {
    if (exitCode !== undefined) {
      await stop();
      throw new Error(`${name} failed to start: ${describeExit()}`);
    }
    if (!adminUrl && fs.existsSync(adminAddressPath)) {
      const address = fs.readFileSync(adminAddressPath, "utf8").trim();
      if (address) adminUrl = `http://${address}`;
    }
    if (adminUrl) {
      try {
        const res = await fetch(`${adminUrl}/ready`);
        lastReady = `${res.status} ${(await res.text()).trim()}`;
        if (options.waitReady === false || (res.status === 200 && lastReady.endsWith("LIVE"))) break;
      } catch (err) {
        lastReady = `error: ${(err as Error).message}`;
      }
    }
    if (Date.now() >= deadline) {
      await stop();
      throw new Error(
        `${name}: admin /ready did not return LIVE within ${readyTimeoutMs} ms (last /ready: ${lastReady}; ` +
          `binary ${binary.path}); output tail:\n${tail(output)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  const admin = async (pathAndQuery: string, init: { method?: "GET" | "POST" } = {}): Promise<string> => {
    const res = await fetch(`${adminUrl}${pathAndQuery}`, { method: init.method ?? "GET" });
    const text = await res.text();
    if (!res.ok) throw new Error(`${name} admin ${pathAndQuery}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    return text;
  };
  const adminJson = async <T>(pathAndQuery: string): Promise<T> => JSON.parse(await admin(pathAndQuery)) as T;

  const handle: EnvoyHandle = {
    name,
    pid: child.pid ?? -1,
    adminUrl,
    ports,
    dir,
    bootstrapPath,
    binary,
    admin,
    configDump: (filter) => {
      const f: ConfigDumpFilter = typeof filter === "string" ? { resource: filter } : (filter ?? {});
      const query: string[] = [];
      if (f.resource) query.push(`resource=${encodeURIComponent(f.resource)}`);
      if (f.mask) query.push(`mask=${encodeURIComponent(f.mask)}`);
      if (f.nameRegex) query.push(`name_regex=${encodeURIComponent(f.nameRegex)}`);
      if (f.includeEds) query.push("include_eds");
      return adminJson<ConfigDump>(`/config_dump${query.length > 0 ? `?${query.join("&")}` : ""}`);
    },
    clusters: () => adminJson<ClustersJson>("/clusters?format=json"),
    stats: async () => {
      const json = await adminJson<{ stats?: Array<{ name?: string; value?: unknown }> }>("/stats?format=json");
      const out: Record<string, number> = {};
      for (const s of json.stats ?? [])
        if (typeof s.name === "string" && typeof s.value === "number") out[s.name] = s.value;
      return out;
    },
    stat: async (statName) => {
      const json = await adminJson<{ stats?: Array<{ name?: string; value?: unknown }> }>(
        `/stats?format=json&filter=${encodeURIComponent(`^${statName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`)}`,
      );
      const found = json.stats?.find((s) => s.name === statName);
      return typeof found?.value === "number" ? found.value : undefined;
    },
    certs: () => adminJson<unknown>("/certs"),
    listenerPort: async (listenerName) => {
      const json = await adminJson<{
        listener_statuses?: Array<{ name: string; local_address?: { socket_address?: { port_value?: number } } }>;
      }>("/listeners?format=json");
      const listener = json.listener_statuses?.find((l) => l.name === listenerName);
      const port = listener?.local_address?.socket_address?.port_value;
      if (!port) {
        const names = (json.listener_statuses ?? []).map((l) => l.name).join(", ") || "none";
        throw new Error(`${name}: no bound listener "${listenerName}" (listeners: ${names})`);
      }
      return port;
    },
    waitFor: (predicate, timeoutMs = 10_000) =>
      waitFor(predicate, {
        timeoutMs,
        what: `${name}: waitFor`,
        detail: () => (exitCode !== undefined ? describeExit() : `output tail:\n${tail(output)}`),
      }),
    logs: () => output,
    exitCode: () => exitCode,
    stop,
  };
  return handle;
}

export interface ValidateResult {
  ok: boolean;
  /**
   * Envoy's stdout and stderr; on failure it names the problem, e.g. "route: unknown cluster 'nope'".
   * Messages from protobuf's JSON parser ("no such field: 'x'") carry randomly doubled spaces on
   * purpose: match them with `\s+`.
   */
  output: string;
}

/** `envoy --mode validate -c <file>`: whether Envoy accepts the bootstrap, without running it. */
export async function validateBootstrap(
  bootstrap: BootstrapInput,
  options: { logLevel?: string; ports?: Record<string, number> } = {},
): Promise<ValidateResult> {
  const binary = await envoyBinary();
  const dir = makeTempDir("envoy-validate");
  try {
    const file = writeBootstrap(dir, bootstrap, options.ports);
    return await new Promise<ValidateResult>((resolve) => {
      execFile(
        binary.path,
        ["--mode", "validate", "-c", file, "-l", options.logLevel ?? "warning", "--disable-hot-restart"],
        { cwd: dir, timeout: 30_000, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => resolve({ ok: !err, output: `${stdout}${stderr}` }),
      );
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
