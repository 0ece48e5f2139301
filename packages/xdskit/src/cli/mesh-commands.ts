// `xdskit translate` and `xdskit simulate`: what a proxy of a config directory gets, and where a request goes.
import { createSnapshot } from "@xdskit/core";
import {
  buildMesh,
  explain,
  formatConfigDiagnostic,
  generate,
  loadConfig,
  type MeshProxy,
  proxyOf,
  type SimulationRequest,
  simulate,
} from "@xdskit/translate";
import type { Command } from "commander";
import { stringify } from "yaml";
import { snapshotToJson } from "../monitoring/sync-status.js";
import { readConfigFiles } from "../sources/file-source.js";
import { CliError, type CliIo } from "./cli-io.js";

/** Loads the config under `paths` and finds the proxy; config errors are printed as warnings on stderr. */
async function meshAndProxy(paths: readonly string[], who: string, type: string, io: CliIo) {
  const loaded = loadConfig(await readConfigFiles(paths));
  for (const d of loaded.diagnostics.filter((x) => x.severity === "error"))
    io.stderr(`${formatConfigDiagnostic(d)} (ignored)\n`);
  const mesh = buildMesh(loaded.objects);
  if (type !== "sidecar" && type !== "router" && type !== "proxyless")
    throw new CliError(`--type ${type}: expected sidecar, router or proxyless`);
  let proxy: MeshProxy;
  if (who.includes("~")) proxy = proxyOf(mesh, { id: who });
  else {
    if (!who.includes("/"))
      throw new CliError(`--proxy ${who}: give namespace/workload (e.g. default/productpage-v1) or a node id`);
    proxy = proxyOf(mesh, who, { type: type as MeshProxy["type"] });
  }
  return { mesh, proxy };
}

function outputOf(value: string, allowed: readonly string[]): string {
  if (!allowed.includes(value)) throw new CliError(`--output ${value}: expected ${allowed.join(" or ")}`);
  return value;
}

export function addMeshCommands(program: Command, io: CliIo, examples: (...lines: string[]) => string): void {
  program
    .command("translate")
    .description(
      "print the xDS resources (clusters, endpoints, listeners, routes) a proxy gets from a config directory",
    )
    .argument("<paths...>", "YAML/JSON files or directories")
    .requiredOption(
      "-p, --proxy <workload>",
      "namespace/workload (a WorkloadEntry, Pod or Deployment) or an Envoy node id",
    )
    .option("--type <type>", "sidecar, router (gateway) or proxyless (gRPC)", "sidecar")
    .option("-o, --output <format>", "yaml or json", "yaml")
    .option("--kind <kind>", "only this kind (Cluster, ClusterLoadAssignment, Listener, RouteConfiguration, Secret)")
    .addHelpText(
      "after",
      examples(
        "xdskit translate .cache/bookinfo-demo/mesh -p default/productpage-v1",
        "xdskit translate .cache/bookinfo-demo/mesh -p istio-system/istio-ingressgateway --type router --kind RouteConfiguration",
        "xdskit translate mesh/ -p 'sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local' -o json",
      ),
    )
    .action(async (paths: string[], flags: { proxy: string; type: string; output: string; kind?: string }) => {
      const output = outputOf(flags.output, ["yaml", "json"]);
      const { mesh, proxy } = await meshAndProxy(paths, flags.proxy, flags.type, io);
      const dump = snapshotToJson(createSnapshot({ resources: { ...generate(mesh, proxy) } }));
      let resources: Record<string, unknown[]> = dump.resources;
      if (flags.kind) {
        if (
          !(flags.kind in resources) &&
          !["Cluster", "ClusterLoadAssignment", "Listener", "RouteConfiguration", "Secret"].includes(flags.kind)
        )
          throw new CliError(
            `--kind ${flags.kind}: expected Cluster, ClusterLoadAssignment, Listener, RouteConfiguration or Secret`,
          );
        resources = { [flags.kind]: resources[flags.kind] ?? [] };
      }
      const value = { proxy: proxy.id, resources };
      io.stdout(output === "json" ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 }));
    });

  program
    .command("simulate")
    .description("where a request from a proxy goes, why, and which route matched (Envoy's matching rules)")
    .argument("<paths...>", "YAML/JSON files or directories")
    .requiredOption("-p, --proxy <workload>", "namespace/workload or an Envoy node id: whose config routes the request")
    .requiredOption("-u, --url <url>", "the request, e.g. http://reviews:9080/reviews/0")
    .option("--type <type>", "sidecar, router (gateway) or proxyless (gRPC)", "sidecar")
    .option("-X, --method <method>", "HTTP method", "GET")
    .option(
      "-H, --header <name: value>",
      "a request header (repeat for more)",
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option("--address <ip>", "the listener address the request arrives at (e.g. a Sidecar's egress bind)")
    .option("--port <port>", "the listener port (default: the URL's)")
    .option("-o, --output <format>", "text or json", "text")
    .addHelpText(
      "after",
      examples(
        "xdskit simulate .cache/bookinfo-demo/mesh -p default/productpage-v1 --address 127.0.20.1 -u http://reviews:9080/reviews/0 -H 'end-user: jason'",
        "xdskit simulate .cache/bookinfo-demo/mesh -p istio-system/istio-ingressgateway --type router -u http://localhost:8080/productpage",
      ),
    )
    .action(
      async (
        paths: string[],
        flags: {
          proxy: string;
          url: string;
          type: string;
          method: string;
          header: string[];
          address?: string;
          port?: string;
          output: string;
        },
      ) => {
        const output = outputOf(flags.output, ["text", "json"]);
        const { mesh, proxy } = await meshAndProxy(paths, flags.proxy, flags.type, io);
        const headers: Record<string, string[]> = {};
        for (const h of flags.header) {
          const colon = h.indexOf(":");
          if (colon <= 0) throw new CliError(`--header ${h}: expected "name: value"`);
          const name = h.slice(0, colon).trim().toLowerCase();
          headers[name] = [...(headers[name] ?? []), h.slice(colon + 1).trim()];
        }
        const port = flags.port === undefined ? undefined : Number(flags.port);
        if (port !== undefined && !Number.isInteger(port))
          throw new CliError(`--port ${flags.port}: expected a port number`);
        const request: SimulationRequest = {
          url: flags.url,
          method: flags.method,
          headers,
          ...(flags.address ? { address: flags.address } : {}),
          ...(port !== undefined ? { port } : {}),
        };
        const result = simulate(generate(mesh, proxy), request);
        io.stdout(output === "json" ? `${JSON.stringify(result, null, 2)}\n` : `${explain(result)}\n`);
      },
    );
}
