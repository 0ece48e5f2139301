// The flags that say which workload a proxy is, shared by `bootstrap` and `proxy`.
import path from "node:path";
import { type Command, Option } from "commander";
import type { WorkloadBootstrapOptions } from "../agent/bootstrap.js";
import { CliError } from "./cli-io.js";

export function addWorkloadOptions(command: Command): Command {
  return command
    .requiredOption("--ip <address>", "the workload's IP (its WorkloadEntry address)")
    .requiredOption("--name <name>", "the workload's name, e.g. reviews-v2")
    .option("-n, --namespace <namespace>", "the workload's namespace", "default")
    .option("--service-account <name>", "the workload's service account", "default")
    .option("-l, --label <key=value>", "a label of the workload (repeat for more)", collect, [])
    .addOption(
      new Option("--type <type>", "sidecar, or router for a gateway").choices(["sidecar", "router"]).default("sidecar"),
    )
    .option("--discovery-address <host:port>", "the control plane's xDS address", "127.0.0.1:15010")
    .option("--delta", "use delta (incremental) xDS instead of state-of-the-world", false)
    .option("--admin-port <port>", "Envoy's admin port on 127.0.0.1 (0 = pick one)", "15000")
    .option(
      "--xds-tls-dir <dir>",
      "connect over mTLS (the control plane's 15012) with the certificate files in <dir> (from xdskit ca issue)",
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function workloadOf(flags: Record<string, unknown>): WorkloadBootstrapOptions {
  const labels: Record<string, string> = {};
  for (const pair of flags.label as string[]) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new CliError(`--label ${pair}: expected key=value, e.g. --label app=reviews`);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const adminPort = Number(flags.adminPort);
  if (!Number.isInteger(adminPort)) throw new CliError(`--admin-port ${flags.adminPort}: expected a port number`);
  return {
    ip: flags.ip as string,
    name: flags.name as string,
    namespace: flags.namespace as string,
    serviceAccount: flags.serviceAccount as string,
    labels,
    type: flags.type as "sidecar" | "router",
    discoveryAddress: flags.discoveryAddress as string,
    delta: flags.delta as boolean,
    adminPort,
    ...(typeof flags.xdsTlsDir === "string" ? { xdsTls: { certificateDir: path.resolve(flags.xdsTlsDir) } } : {}),
  };
}
