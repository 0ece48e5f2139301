// `xdskit serve`: a control plane for a config directory, until Ctrl-C.
import type { Command } from "commander";
import { createControlPlane } from "../control-plane/control-plane.js";
import { CliError, type CliIo } from "./cli-io.js";

const LEVELS = ["trace", "debug", "info", "warn", "error", "silent"];

export function addServeCommand(program: Command, io: CliIo, examples: (...lines: string[]) => string): void {
  program
    .command("serve")
    .description("run a control plane on a directory of Istio config: watched, validated, translated, served over xDS")
    .argument("<path>", "a YAML file or a directory (watched for changes)")
    .option("--host <address>", "address to listen on (0.0.0.0 for other machines)", "127.0.0.1")
    .option("--xds-port <port>", "plaintext xDS port (0 = pick one)", "15010")
    .option("--xds-tls-port <port>", "xDS over TLS + Istio's CreateCertificate (0 = pick one)", "15012")
    .option("--ca-dir <dir>", "keep the CA's root here (created when empty); default: a new root in memory")
    .option("--monitoring-port <port>", "HTTP monitoring port: /metrics, /ready, /debug/* (0 = pick one)", "15014")
    .option("--debounce-ms <ms>", "quiet time after a change before pushing", "100")
    .option("--log-level <level>", `${LEVELS.join(", ")}`, "info")
    .addHelpText(
      "after",
      examples(
        "xdskit serve ./mesh --xds-port 0",
        "xdskit serve ./mesh --host 0.0.0.0 --xds-port 15010 --monitoring-port 15014",
        "xdskit serve ./mesh --log-level warn & xdskit proxy-status",
      ),
    )
    .action(
      async (
        path: string,
        flags: {
          host: string;
          xdsPort: string;
          xdsTlsPort: string;
          caDir?: string;
          monitoringPort: string;
          debounceMs: string;
          logLevel: string;
        },
      ) => {
        const number = (flag: string, value: string) => {
          const n = Number(value);
          if (!Number.isInteger(n) || n < 0) throw new CliError(`--${flag} ${value}: expected a whole number >= 0`);
          return n;
        };
        if (!LEVELS.includes(flags.logLevel))
          throw new CliError(`--log-level ${flags.logLevel}: expected ${LEVELS.join(", ")}`);
        const cp = await createControlPlane({
          config: { path, debounceMs: number("debounce-ms", flags.debounceMs) },
          xds: { host: flags.host, port: number("xds-port", flags.xdsPort) },
          xdsTls: { port: number("xds-tls-port", flags.xdsTlsPort) },
          ca: flags.caDir ? { dir: flags.caDir } : {},
          monitoring: { host: flags.host, port: number("monitoring-port", flags.monitoringPort) },
          logger: { level: flags.logLevel },
        });
        const status = cp.status();
        io.stderr(
          `xdskit: serving ${path} (${status.objects} objects, ${status.diagnostics.length} diagnostics): xDS ${cp.xdsAddress}, xDS over TLS + CA :${cp.ports.xdsTls}, monitoring ${cp.monitoring?.url}\n`,
        );
        await new Promise<void>((resolve) => {
          if (io.signal?.aborted) resolve();
          else io.signal?.addEventListener("abort", () => resolve(), { once: true });
        });
        io.stderr("xdskit: stopping\n");
        await cp.close();
      },
    );
}
