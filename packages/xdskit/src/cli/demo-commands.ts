// `xdskit demo` (Istio's Bookinfo tutorial on this machine) and `xdskit apply` (config into a watched directory).
import fs from "node:fs";
import path from "node:path";
import {
  type AnyConfigObject,
  analyzeConfig,
  type ConfigDiagnostic,
  configKey,
  formatConfigDiagnostic,
  loadConfig,
} from "@xdskit/translate";
import type { Command } from "commander";
import { DEFAULT_DEMO_DIR, demoGuide, runningDemo, startBookinfoDemo } from "../bookinfo/demo.js";
import { readConfigFiles } from "../sources/file-source.js";
import { CliError, type CliIo } from "./cli-io.js";
import { checkConfigFiles } from "./validate-command.js";

/** How the guide spells this CLI: from the TypeScript sources it is the repository's npm script. */
const cliName = () => (import.meta.url?.endsWith(".ts") ? "npm run xdskit --" : "npx xdskit");

export function addDemoCommands(program: Command, io: CliIo, examples: (...lines: string[]) => string): void {
  program
    .command("demo")
    .description(
      "Istio's Bookinfo on this machine: a control plane, the four services, an Envoy sidecar each and a gateway",
    )
    .option("--dir <dir>", "work directory: the watched mesh/ and the samples/ (recreated)", DEFAULT_DEMO_DIR)
    .option("--free-ports", "free ports instead of 8080, 19080-19085 and 15010/15012/15014", false)
    .addHelpText("after", examples("xdskit demo", "xdskit demo --free-ports --dir /tmp/bookinfo"))
    .action(async (flags: { dir: string; freePorts: boolean }) => {
      let demo: Awaited<ReturnType<typeof startBookinfoDemo>>;
      try {
        demo = await startBookinfoDemo({
          workDir: flags.dir,
          freePorts: flags.freePorts,
          log: (line) => io.stderr(`xdskit: ${line}\n`),
        });
      } catch (error) {
        throw new CliError((error as Error).message);
      }
      io.stdout(demoGuide(demo, cliName()));
      await new Promise<void>((resolve) => {
        if (io.signal?.aborted) resolve();
        else io.signal?.addEventListener("abort", () => resolve(), { once: true });
      });
      io.stderr("xdskit: stopping the demo\n");
      await demo.stop();
    });

  program
    .command("apply")
    .description(
      "validate Istio config files, then copy them into the directory a control plane watches (default: the running demo's)",
    )
    .argument("<files...>", "YAML files (each is copied as a whole)")
    .option("--dir <dir>", "the watched directory (what `xdskit serve` was given)")
    .option("--demo-dir <dir>", "where `xdskit demo` runs (its work directory)", DEFAULT_DEMO_DIR)
    .addHelpText(
      "after",
      examples(
        "xdskit apply .cache/bookinfo-demo/samples/virtual-service-reviews-test-v2.yaml",
        "xdskit apply reviews.yaml ratings.yaml --dir ./mesh",
      ),
    )
    .action(async (files: string[], flags: { dir?: string; demoDir: string }) => {
      let dir = flags.dir;
      if (dir === undefined) {
        const demo = runningDemo(flags.demoDir);
        if (!demo)
          throw new CliError(
            `no \`xdskit demo\` running in ${flags.demoDir}: start it here first, or give --dir (the directory \`xdskit serve\` watches)`,
          );
        dir = demo.meshDir;
      }
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
        throw new CliError(`--dir ${dir}: not a directory`);
      for (const file of files)
        if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) throw new CliError(`${file}: no such file`);

      // Validate first: a file with errors is not copied, so the control plane never sees it.
      const checked = await checkConfigFiles(files);
      for (const d of checked.diagnostics) io.stderr(`${formatConfigDiagnostic(d)}\n`);
      const errors = checked.diagnostics.filter((d) => d.severity === "error").length;
      if (errors > 0) throw new CliError(`nothing applied: ${errors} error${errors === 1 ? "" : "s"} (above)`);
      if (checked.objects === 0) throw new CliError(`nothing applied: no Istio objects in ${files.join(", ")}`);

      // Cross-object analysis (istioctl analyze) never rejects anything in the control plane either: its findings,
      // even those `xdskit analyze` calls errors, are printed as warnings and the files are still applied.
      for (const d of await analyzeApply(dir, files))
        io.stderr(`${formatConfigDiagnostic({ ...d, severity: "warning" })}\n`);

      for (const file of files) {
        const target = path.join(dir, path.basename(file));
        // A first line saying where and when makes each apply a change, even of the same file again: its objects
        // then win over other files' (the control plane serves the copy changed last, like kubectl apply).
        const text = fs.readFileSync(file, "utf8");
        const stamped = /\.ya?ml$/i.test(file)
          ? `# xdskit apply ${path.resolve(file)} at ${new Date().toISOString()}\n${text}`
          : text;
        const temporary = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
        fs.writeFileSync(temporary, stamped);
        fs.renameSync(temporary, target);
        io.stdout(`applied ${file} -> ${target}\n`);
      }
    });
}

/**
 * Cross-object analysis of what `dir` holds once `files` are copied in (each replaces the file of its name, and its
 * objects win over same-named ones elsewhere): the findings in the applied files, and those in the directory's
 * files that the apply causes (not there before it), so warnings the directory already had are not repeated.
 */
export async function analyzeApply(dir: string, files: readonly string[]): Promise<ConfigDiagnostic[]> {
  const replaced = new Set(files.map((file) => path.resolve(dir, path.basename(file))));
  const current = loadConfig(await readConfigFiles([dir])).objects;
  const kept = current.filter((o) => o.source?.file === undefined || !replaced.has(path.resolve(o.source.file)));
  const applied = await readConfigFiles(files);
  const byKey = new Map<string, AnyConfigObject>();
  for (const object of [...kept, ...loadConfig(applied).objects]) {
    byKey.delete(configKey(object)); // re-inserted last: the applied copy wins
    byKey.set(configKey(object), object);
  }
  const before = new Set(analyzeConfig(current).map(formatConfigDiagnostic));
  const appliedFiles = new Set(applied.map((f) => f.file));
  return analyzeConfig([...byKey.values()]).filter(
    (d) => (d.file !== undefined && appliedFiles.has(d.file)) || !before.has(formatConfigDiagnostic(d)),
  );
}
