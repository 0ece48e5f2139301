// The example of docs/translate-validation.md, run: its input and the lines it prints are the ones shown there.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatConfigDiagnostic } from "../config/diagnostics.js";
import { loadConfig } from "../config/loader.js";
import { createConfigStore } from "../config/store.js";
import { analyzeConfig } from "./analyze.js";
import { validateConfig } from "./validate-config.js";

const doc = fs.readFileSync(path.resolve(import.meta.dirname, "../../../../docs/translate-validation.md"), "utf8");
const block = (language: string, index = 0) =>
  [...doc.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, "g"))][index]?.[1] ?? "";

describe("docs/translate-validation.md", () => {
  it("prints the diagnostics the document shows for its mesh.yaml", () => {
    const text = block("yaml");
    expect(text).toContain("kind: VirtualService");
    const { objects, diagnostics } = loadConfig({ file: "mesh.yaml", text });
    const lines = [...diagnostics, ...validateConfig(objects), ...analyzeConfig(objects)].map(formatConfigDiagnostic);
    expect(lines.join("\n")).toBe(block("text").trimEnd());
    const store = createConfigStore();
    expect(store.applyText({ file: "mesh.yaml", text }).results.map((r) => r.status)).toEqual(["rejected", "accepted"]);
  });
});
