import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/services.ts", "src/istio.ts", "src/watcher.ts", "src/extensions.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
});
