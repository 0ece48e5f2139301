// A small Envoy launcher for the examples (xdskit publishes none yet): runs Envoy with a bootstrap in a
// temporary directory, its admin interface on a loopback port the kernel picks, and waits until it is LIVE.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface RunningEnvoy {
  /** The port a listener named in the configuration is bound to (useful with port_value 0). */
  listenerPort(listenerName: string): Promise<number>;
  /** Stops Envoy and removes its directory. */
  stop(): Promise<void>;
}

/** Envoy's path: ENVOY_BIN, else the one `npm run envoy:install` recorded in .cache/envoy-path, else `envoy`. */
export function envoyPath(): string {
  if (process.env.ENVOY_BIN) return process.env.ENVOY_BIN;
  const recorded = new URL("../../.cache/envoy-path", import.meta.url);
  if (fs.existsSync(recorded)) return fs.readFileSync(recorded, "utf8").trim();
  return "envoy";
}

/** Starts Envoy with `bootstrap` (YAML) and resolves once its admin /ready says LIVE. */
export async function startEnvoy(bootstrap: string, { readyTimeoutMs = 15_000 } = {}): Promise<RunningEnvoy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-example-envoy-"));
  const configPath = path.join(dir, "envoy.yaml");
  const adminAddressPath = path.join(dir, "admin-address");
  fs.writeFileSync(configPath, bootstrap);
  const binary = envoyPath();
  const child = spawn(
    binary,
    [
      ...["-c", configPath, "--admin-address-path", adminAddressPath, "-l", "warning"],
      ...["--config-yaml", "admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }"],
      // Several Envoys may run on one host: no shared-memory base id, no hot restart, one worker.
      ...["--use-dynamic-base-id", "--disable-hot-restart", "--concurrency", "1"],
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", (error) => {
      output += `\ncannot run ${binary}: ${error.message} (set ENVOY_BIN, or run npm run envoy:install)`;
      resolve();
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const stop = async () => {
    if (!done) child.kill("SIGTERM");
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + readyTimeoutMs;
  let admin = "";
  for (;;) {
    if (done) {
      await stop();
      throw new Error(`Envoy exited before it was ready:\n${output}`);
    }
    if (!admin && fs.existsSync(adminAddressPath)) admin = `http://${fs.readFileSync(adminAddressPath, "utf8").trim()}`;
    const ready = admin
      ? await fetch(`${admin}/ready`).then(
          (r) => r.text(),
          () => "",
        )
      : "";
    if (ready.trim() === "LIVE") break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Envoy was not LIVE within ${readyTimeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return {
    async listenerPort(listenerName) {
      const listeners = (await (await fetch(`${admin}/listeners?format=json`)).json()) as {
        listener_statuses?: { name: string; local_address?: { socket_address?: { port_value?: number } } }[];
      };
      const port = listeners.listener_statuses?.find((l) => l.name === listenerName)?.local_address?.socket_address
        ?.port_value;
      if (!port) throw new Error(`Envoy has no bound listener "${listenerName}"`);
      return port;
    },
    stop,
  };
}
