// `xdskit test`: route test files (xdskit's, istio-config-validator's, router_check_tool's) checked with the
// simulator against a config directory or a running control plane, with route coverage and JUnit output.
import fs from "node:fs/promises";
import { loadConfig } from "@xdskit/translate";
import type { Command } from "commander";
import { parseRouteTestFile } from "../route-tests/load.js";
import { type RouteTestCase, RouteTestFileError } from "../route-tests/model.js";
import { formatJunit, formatRun } from "../route-tests/report.js";
import { runRouteTests } from "../route-tests/run.js";
import { RouteTestSourceError, type TestTarget, targetOfConfig, targetOfControlPlane } from "../route-tests/source.js";
import { readConfigFiles } from "../sources/file-source.js";
import { CliError, type CliIo } from "./cli-io.js";

interface TestFlags {
  tests: string[];
  controlPlane?: string;
  proxy?: string;
  type?: string;
  address?: string;
  port?: string;
  output: string;
  junit?: string;
  failUnder?: string;
  quiet: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function addTestCommand(program: Command, io: CliIo, examples: (...lines: string[]) => string): void {
  program
    .command("test")
    .description("check route test files (xdskit, istio-config-validator, Envoy router_check_tool) with the simulator")
    .argument("[config...]", "Istio config: YAML/JSON files or directories (or use --control-plane)")
    .requiredOption("-t, --tests <file|dir>", "a test file or a directory of them (repeat for more)", collect, [])
    .option("--control-plane <url>", "test what a running control plane serves (its monitoring address)")
    .option("-p, --proxy <workload>", "namespace/workload or a node id (default: the gateway)")
    .option("--type <type>", "with --proxy namespace/workload: sidecar, router (gateway) or proxyless", "sidecar")
    .option("--address <ip>", "the listener address requests arrive at (a Sidecar's egress bind)")
    .option(
      "--port <port>",
      "the listener port when a request names none (default: the proxy's only HTTP port, else 80)",
    )
    .option("-o, --output <format>", "text or json", "text")
    .option("--junit <file>", "also write the results as JUnit XML (for CI systems)")
    .option("--fail-under <percent>", "fail when fewer routes than this are exercised (route coverage)")
    .option("-q, --quiet", "print failures and the summary only", false)
    .addHelpText(
      "after",
      examples(
        "xdskit test examples/route-tests/mesh -t examples/route-tests/tests",
        "xdskit test mesh/ -t routes.test.yaml --junit junit.xml --fail-under 80",
        "xdskit test mesh/ -t icv-tests/ -p default/productpage-v1 --address 127.0.20.1",
        "xdskit test --control-plane http://127.0.0.1:15014 -t envoy-router-tests.json -o json",
      ),
    )
    .addHelpText(
      "after",
      "\nTest files are read in the format their shape says: xdskit's (tests: name, request, expect),\nistio-config-validator's (testCases) or Envoy router_check_tool's (tests: test_name, input, validate).\nExit code 1 when a test fails or coverage is under --fail-under. See docs/cli.md.\n",
    )
    .action(async (config: string[], flags: TestFlags) => {
      if (flags.output !== "text" && flags.output !== "json")
        throw new CliError(`--output ${flags.output}: expected text or json`);
      if (flags.type !== undefined && !["sidecar", "router", "proxyless"].includes(flags.type))
        throw new CliError(`--type ${flags.type}: expected sidecar, router or proxyless`);
      const port = flags.port === undefined ? undefined : Number(flags.port);
      if (port !== undefined && (!Number.isInteger(port) || port <= 0 || port > 65535))
        throw new CliError(`--port ${flags.port}: expected a port number`);
      const failUnder = flags.failUnder === undefined ? undefined : Number(flags.failUnder);
      if (failUnder !== undefined && (!Number.isFinite(failUnder) || failUnder < 0 || failUnder > 100))
        throw new CliError(`--fail-under ${flags.failUnder}: expected a percentage from 0 to 100`);
      if (flags.controlPlane !== undefined && config.length > 0)
        throw new CliError("give config paths or --control-plane, not both");
      if (flags.controlPlane === undefined && config.length === 0)
        throw new CliError("give the config to test (files or directories), or --control-plane <url>");

      const warn = (text: string) => io.stderr(`xdskit test: warning: ${text}\n`);
      const cases: RouteTestCase[] = [];
      let testFiles: Array<{ file: string; text: string }>;
      try {
        testFiles = await readConfigFiles(flags.tests);
      } catch (error) {
        throw new CliError(`--tests: ${(error as Error).message}`);
      }
      if (testFiles.length === 0) throw new CliError(`--tests ${flags.tests.join(" ")}: no .yaml, .yml or .json file`);
      try {
        for (const { file, text } of testFiles) cases.push(...parseRouteTestFile(file, text, warn));
      } catch (error) {
        if (error instanceof RouteTestFileError) throw new CliError(error.message);
        throw error;
      }
      if (cases.length === 0) throw new CliError(`no test case in ${testFiles.map((f) => f.file).join(", ")}`);

      let target: TestTarget;
      try {
        if (flags.controlPlane !== undefined) {
          const icv = cases.find((c) => c.format === "istio-config-validator");
          if (icv)
            throw new CliError(
              `${icv.file}: istio-config-validator tests compare Istio objects, which a control plane's config dump lacks: give the config directory instead of --control-plane`,
            );
          target = await targetOfControlPlane(flags.controlPlane, flags.proxy);
        } else {
          const loaded = loadConfig(await readConfigFiles(config));
          target = targetOfConfig(
            loaded,
            { ...(flags.proxy !== undefined ? { proxy: flags.proxy } : {}), type: flags.type as "sidecar" },
            warn,
          );
        }
      } catch (error) {
        if (error instanceof RouteTestSourceError) throw new CliError(error.message);
        throw error;
      }
      if (flags.output === "text")
        io.stderr(`xdskit test: ${cases.length} test cases against ${target.proxy} (${target.why})\n`);
      if ((target.resources.routes ?? []).length === 0)
        warn(
          `${target.proxy} has no HTTP route configuration: a sidecar gets one per port of the services (Service, ServiceEntry) in the config, a gateway per Gateway server`,
        );

      const run = runRouteTests(cases, target.resources, {
        ...(flags.address !== undefined ? { address: flags.address } : {}),
        ...(port !== undefined ? { port } : {}),
      });
      const underCoverage = failUnder !== undefined && run.coverage.percent < failUnder;
      if (flags.junit !== undefined) {
        try {
          await fs.writeFile(flags.junit, formatJunit(run));
        } catch (error) {
          throw new CliError(`--junit ${flags.junit}: ${(error as Error).message}`);
        }
      }
      if (flags.output === "json")
        io.stdout(
          `${JSON.stringify({ proxy: target.proxy, ...run, ...(failUnder !== undefined ? { failUnder } : {}) }, null, 2)}\n`,
        );
      else {
        let text = formatRun(run, { verbose: !flags.quiet });
        if (flags.quiet) text = text.replace(/^PASS .*\n/gm, "");
        io.stdout(text);
      }
      if (underCoverage)
        io.stderr(
          `xdskit test: route coverage ${run.coverage.percent.toFixed(1)}% is under --fail-under ${failUnder}%\n`,
        );
      if (run.failed + run.errors > 0 || underCoverage) throw new CliError("", 1);
    });
}
