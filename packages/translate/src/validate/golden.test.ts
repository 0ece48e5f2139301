// Every Istio fixture loads and validates; the diagnostics are compared with a golden file reviewed in diffs.
// Regenerate it (and review the diff) with: npm run golden:validation -w packages/translate
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatConfigDiagnostic } from "../config/diagnostics.js";
import { loadConfig } from "../config/loader.js";
import { analyzeConfig } from "./analyze.js";
import { validateConfig } from "./validate-config.js";

const fixtures = path.resolve(import.meta.dirname, "../../../../test/fixtures/istio");
const golden = path.resolve(import.meta.dirname, "../../golden/validation.txt");
const list = (dir: string) =>
  fs
    .readdirSync(path.join(fixtures, dir))
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .map((f) => `${dir}/${f}`);

const PLATFORM = "bookinfo/platform/bookinfo.yaml";
const DESTINATION_RULES = "bookinfo/networking/destination-rule-all.yaml";

/** Which files are loaded together: Bookinfo's routing samples need its platform and (for subsets) its rules. */
function cases(): Array<{ name: string; files: string[] }> {
  const out: Array<{ name: string; files: string[] }> = [];
  for (const file of list("bookinfo/platform"))
    out.push({ name: file, files: file === PLATFORM ? [file] : [PLATFORM, file] });
  for (const file of list("bookinfo/networking")) {
    const needsRules = file.includes("/virtual-service-") || file.includes("/fault-injection-");
    out.push({ name: file, files: needsRules ? [PLATFORM, DESTINATION_RULES, file] : [PLATFORM, file] });
  }
  for (const file of list("testdata-config")) out.push({ name: file, files: [file] });
  return out;
}

function render(): { text: string; silent: string[] } {
  const lines: string[] = [];
  const silent: string[] = [];
  for (const { name, files } of cases()) {
    const { objects, diagnostics } = loadConfig(
      files.map((file) => ({ file, text: fs.readFileSync(path.join(fixtures, file), "utf8") })),
    );
    const own = (d: { file?: string }) => d.file === name;
    if (!objects.some((o) => o.source?.file === name) && !diagnostics.some(own)) silent.push(name);
    const validation = validateConfig(objects);
    const analysis = analyzeConfig(objects);
    const written = objects.filter((o) => o.source?.file === name).length;
    const rejected = new Set(
      validation.filter((d) => d.severity === "error").map((d) => `${d.kind}/${d.namespace}/${d.name}`),
    );
    lines.push(`## ${name}${files.length > 1 ? ` (with ${files.filter((f) => f !== name).join(", ")})` : ""}`);
    lines.push(`objects: ${written} loaded, ${rejected.size} rejected by validation`);
    // Diagnostics about the fixture itself; the platform files it is loaded with have sections of their own.
    for (const d of [...diagnostics, ...validation, ...analysis].filter(own)) lines.push(formatConfigDiagnostic(d));
    lines.push("");
  }
  return { text: lines.join("\n"), silent };
}

describe("golden: validation of Istio's fixtures", () => {
  it("loads and validates every fixture with the diagnostics recorded in golden/validation.txt", () => {
    const { text: actual, silent } = render();
    // Every fixture produced objects or said why not: nothing is dropped silently.
    expect(silent).toEqual([]);
    if (process.env.UPDATE_GOLDEN === "1") {
      fs.mkdirSync(path.dirname(golden), { recursive: true });
      fs.writeFileSync(golden, actual);
    }
    expect(fs.existsSync(golden), "golden/validation.txt is missing: run npm run golden:validation").toBe(true);
    expect(actual).toBe(fs.readFileSync(golden, "utf8"));
  });
});
