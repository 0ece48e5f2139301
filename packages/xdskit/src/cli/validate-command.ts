// `xdskit validate` / `xdskit analyze`: load config files and report every problem at its file:line.
import {
  analyzeConfig,
  type ConfigDiagnostic,
  formatConfigDiagnostic,
  loadConfig,
  validateConfig,
} from "@xdskit/translate";
import type { Command } from "commander";
import { credentialDiagnostics, isSecret } from "../control-plane/gateway-credentials.js";
import { readConfigFiles } from "../sources/file-source.js";
import { CliError, type CliIo } from "./cli-io.js";

/**
 * Loads and checks the files under `paths` (schema and Istio's validation, gateway credential Secrets as the control
 * plane checks them; with `analyze`, Istio's cross-object analysis too): every diagnostic, sorted by file and line.
 */
export async function checkConfigFiles(paths: readonly string[], analyze = false) {
  const files = await readConfigFiles(paths);
  const { objects, diagnostics } = loadConfig(files);
  // Secrets are gateway credentials: the control plane's checks, not Istio's.
  const mesh = objects.filter((o) => !isSecret(o));
  const all: ConfigDiagnostic[] = [
    ...diagnostics,
    ...validateConfig(mesh),
    ...credentialDiagnostics(objects),
    ...(analyze ? analyzeConfig(mesh) : []),
  ];
  const sorted = all.sort(
    (a, b) =>
      (a.file ?? "").localeCompare(b.file ?? "") || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
  );
  return { files: files.length, objects: objects.length, diagnostics: sorted };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function addValidateCommands(program: Command, io: CliIo, examples: (...lines: string[]) => string): void {
  for (const [name, description] of [
    [
      "validate",
      "check Istio config files (schema and Istio's validation rules); file:line diagnostics, exit 1 on errors",
    ],
    ["analyze", "like validate, across objects too (istioctl analyze); file:line diagnostics, exit 1 on errors"],
  ] as const) {
    program
      .command(name)
      .description(description)
      .argument("<paths...>", "YAML/JSON files or directories (read recursively)")
      .option("-o, --output <format>", "text or json", "text")
      .addHelpText(
        "after",
        examples(
          `xdskit ${name} .cache/bookinfo-demo/mesh`,
          `xdskit ${name} mesh/ extra.yaml -o json | jq '.diagnostics[]'`,
        ),
      )
      .action(async (paths: string[], flags: { output: string }) => {
        if (flags.output !== "text" && flags.output !== "json")
          throw new CliError(`--output ${flags.output}: expected text or json`);
        const result = await checkConfigFiles(paths, name === "analyze");
        const errors = result.diagnostics.filter((d) => d.severity === "error").length;
        const warnings = result.diagnostics.length - errors;
        if (flags.output === "json") io.stdout(`${JSON.stringify(result, null, 2)}\n`);
        else for (const d of result.diagnostics) io.stdout(`${formatConfigDiagnostic(d)}\n`);
        io.stderr(
          `${plural(errors, "error")}, ${plural(warnings, "warning")} in ${plural(result.objects, "object")} from ${plural(result.files, "file")}\n`,
        );
        if (errors > 0) throw new CliError(`${name} found ${plural(errors, "error")}`, 1);
      });
  }
}
