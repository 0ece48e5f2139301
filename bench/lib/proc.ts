// Process and HTTP helpers shared by the runner, the servers and the load clients.
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";

/**
 * Node flags for the runner: workspace packages resolve to their TypeScript sources (the "source" export
 * condition) and tsx runs them.
 */
export const NODE_TS_ARGS = ["--conditions=source", "--import", "tsx"] as const;

/**
 * Node flags for the servers under test and the load clients. By default workspace packages resolve to their
 * built `dist/` (what users run: tsx compiles sources with esbuild's keepNames, which gives every function
 * an own `name` property and so costs memory and time per closure); `fromSource` runs the TypeScript sources.
 */
export function childNodeArgs(fromSource: boolean): readonly string[] {
  return fromSource ? NODE_TS_ARGS : ["--import", "tsx"];
}

/** Loopback only: every socket of the bench binds or connects here. */
export const LOOPBACK = "127.0.0.1";

/** Wall-clock time in ms with sub-ms resolution, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A free loopback TCP port (bound and released; the caller binds it again right away). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, LOOPBACK, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** `--key=value` flags into a map (a bare `--flag` is "true"). */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of argv) {
    if (!a.startsWith("--")) continue;
    const eq = a.indexOf("=");
    if (eq < 0) out.set(a.slice(2), "true");
    else out.set(a.slice(2, eq), a.slice(eq + 1));
  }
  return out;
}

/** JSON over HTTP on loopback, with a timeout. */
export function httpJson<T>(
  port: number,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 120_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        host: LOOPBACK,
        port,
        method,
        path,
        headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 500) >= 300) {
            reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${text}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (e) {
            reject(new Error(`${method} ${path}: bad JSON: ${text.slice(0, 200)} (${(e as Error).message})`));
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Starts a server process and resolves once it printed a line starting with `READY`. */
export function spawnServer(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not become ready in ${timeoutMs} ms\n${err}`));
    }, timeoutMs);
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      err = (err + d).slice(-4000);
    });
    // After READY the server's output goes to XDSKIT_BENCH_SERVER_LOG when set (e.g. --trace-gc), else nowhere.
    const log = process.env.XDSKIT_BENCH_SERVER_LOG;
    let ready = false;
    child.stdout?.on("data", (d: string) => {
      if (ready) {
        if (log) appendFileSync(log, d);
        return;
      }
      out += d;
      if (/^READY/m.test(out)) {
        ready = true;
        out = "";
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited before ready (code ${code}, signal ${signal})\n${err}`));
    });
  });
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves when it exited. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
