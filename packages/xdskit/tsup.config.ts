import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
  },
  {
    // The executable and xdskit/bookinfo: ESM only (top-level await; the demo finds its YAML from import.meta.url).
    // The shebang in src/cli.ts is kept.
    entry: { cli: "src/cli.ts", bookinfo: "src/bookinfo/index.ts" },
    format: ["esm"],
    dts: { entry: { bookinfo: "src/bookinfo/index.ts" } },
    sourcemap: true,
    target: "node20",
  },
]);
