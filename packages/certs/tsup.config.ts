import { defineConfig } from "tsup";

export default defineConfig({
  // csr-worker: the script of createCsrWorkerPool's threads, found beside the entry point that starts them.
  entry: ["src/index.ts", "src/csr-worker.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  // import.meta.url in the CJS build too (where the worker script is looked up).
  shims: true,
});
