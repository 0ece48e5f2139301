// Runs a proxyless gRPC client (@grpc/grpc-js-xds) in a child process, so that every run has its own
// xDS bootstrap (grpc-js-xds reads GRPC_XDS_BOOTSTRAP once per process and caches it) and its own
// xDS client, with nothing leaking into the test process's environment.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const CHILD_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "grpc-xds-client-child.mjs");

export interface XdsBootstrapOptions {
  /** The xDS server, "127.0.0.1:15010". */
  serverUri: string;
  /** node.id; default "xdskit-grpc-client". */
  nodeId?: string;
  /** node.cluster */
  cluster?: string;
  /** node.metadata (a google.protobuf.Struct as plain JSON). */
  metadata?: Record<string, unknown>;
  /** node.locality; default {} (grpc-js-xds rejects a bootstrap whose node has no locality). */
  locality?: { region?: string; zone?: string; sub_zone?: string };
  /** xds_servers[0].server_features; default ["xds_v3"]. Add "ignore_resource_deletion" to test that. */
  serverFeatures?: string[];
  /** Extra top-level bootstrap fields, e.g. certificate_providers or server_listener_resource_name_template. */
  extra?: Record<string, unknown>;
}

/** The gRPC xDS bootstrap file format (gRFC A27), snake_case as grpc-js-xds reads it. */
export interface GrpcXdsBootstrap {
  xds_servers: Array<{
    server_uri: string;
    channel_creds: Array<{ type: string; config?: Record<string, unknown> }>;
    server_features?: string[];
  }>;
  node: {
    id: string;
    cluster?: string;
    metadata?: Record<string, unknown>;
    locality: { region?: string; zone?: string; sub_zone?: string };
  };
  [key: string]: unknown;
}

/** A gRPC xDS bootstrap talking plaintext to one xDS server. */
export function xdsBootstrap(options: XdsBootstrapOptions): GrpcXdsBootstrap {
  return {
    xds_servers: [
      {
        server_uri: options.serverUri,
        channel_creds: [{ type: "insecure" }],
        server_features: options.serverFeatures ?? ["xds_v3"],
      },
    ],
    node: {
      id: options.nodeId ?? "xdskit-grpc-client",
      ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
      locality: options.locality ?? {},
    },
    ...options.extra,
  };
}

export interface RunXdsClientOptions {
  /** The bootstrap object (see {@link xdsBootstrap}); written to a temp file named by GRPC_XDS_BOOTSTRAP. */
  bootstrap: object;
  /** e.g. "xds:///echo" */
  target: string;
  /** Number of Who calls, made one after the other on one channel; default 1. */
  calls?: number;
  /** Metadata of every call, or per call (index i uses metadata[i % length]). */
  metadata?: Record<string, string> | Array<Record<string, string>>;
  /** Budget of the whole run (xDS resolution included); default 10 s. The child is killed 15 s later. */
  timeoutMs?: number;
  /** Deadline of each call; default: what is left of timeoutMs. */
  deadlineMs?: number;
  /** Queue calls while the channel is not ready instead of failing fast; default false. */
  waitForReady?: boolean;
  /** GRPC_TRACE for the child (e.g. "xds_client,xds_resolver"), with GRPC_VERBOSITY=DEBUG; output in stderr. */
  trace?: string;
  /** More environment variables for the child (e.g. GRPC_EXPERIMENTAL_XDS_WRR_LB). */
  env?: Record<string, string>;
}

export type XdsCallResult =
  | { ok: true; service: string; version: string; metadata: Record<string, string> }
  | { ok: false; code: number; codeName: string; details: string };

export interface XdsClientRun {
  results: XdsCallResult[];
  /** "service/version" → how many calls it answered; failures under "error:<CODE_NAME>". */
  tally: Record<string, number>;
  elapsedMs: number;
  /** The child's stderr (grpc-js logs, traces). */
  stderr: string;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  children.add(child);
  child.once("exit", () => children.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch {}
    }
  });
}

/** Runs the Who calls in a fresh child process and returns what each call got. */
export async function runXdsClient(options: RunXdsClientOptions): Promise<XdsClientRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-grpc-xds-"));
  const bootstrapFile = path.join(dir, "bootstrap.json");
  fs.writeFileSync(bootstrapFile, JSON.stringify(options.bootstrap, null, 2));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const config = {
    target: options.target,
    calls: options.calls ?? 1,
    metadata: options.metadata,
    timeoutMs,
    deadlineMs: options.deadlineMs,
    waitForReady: options.waitForReady,
  };

  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, GRPC_XDS_BOOTSTRAP: bootstrapFile };
  delete env.GRPC_XDS_BOOTSTRAP_CONFIG;
  if (options.trace) {
    env.GRPC_TRACE = options.trace;
    env.GRPC_VERBOSITY = "DEBUG";
  }

  try {
    const child = spawn(process.execPath, [CHILD_SCRIPT, JSON.stringify(config)], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    track(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      if (stderr.length > 4 * 1024 * 1024) stderr = stderr.slice(-4 * 1024 * 1024);
    });
    let killedForTimeout = false;
    // A safety net only: the child's budget starts after it has loaded grpc-js-xds, which alone takes seconds
    // on a loaded machine (Node 20 more than 24).
    const killAfterMs = timeoutMs + 15_000;
    const killer = setTimeout(() => {
      killedForTimeout = true;
      child.kill("SIGKILL");
    }, killAfterMs);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c) => resolve(c));
    }).finally(() => clearTimeout(killer));

    const stderrTail = stderr.trimEnd().split("\n").slice(-30).join("\n");
    if (killedForTimeout)
      throw new Error(`grpc xDS client ${options.target}: killed after ${killAfterMs} ms\n${stderrTail}`);
    const line = stdout.trim().split("\n").at(-1) ?? "";
    let parsed: { results: XdsCallResult[]; elapsedMs: number };
    try {
      parsed = JSON.parse(line) as { results: XdsCallResult[]; elapsedMs: number };
    } catch {
      throw new Error(`grpc xDS client ${options.target}: exited with ${code} without a result line\n${stderrTail}`);
    }
    const tally: Record<string, number> = {};
    for (const r of parsed.results) {
      const key = r.ok ? `${r.service}/${r.version}` : `error:${r.codeName}`;
      tally[key] = (tally[key] ?? 0) + 1;
    }
    return { results: parsed.results, tally, elapsedMs: parsed.elapsedMs, stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
