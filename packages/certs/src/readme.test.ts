// The README's code runs as written (from a scratch directory, so "./ca" lands there).
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { tempDir } from "./testing/openssl.js";

const run = promisify(execFile);
const packageDir = new URL("..", import.meta.url).pathname;
// tsx by absolute URL: the example runs with a scratch directory as its working directory.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

it("README example prints what its comments say", async () => {
  const readme = readFileSync(join(packageDir, "README.md"), "utf8");
  const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(code).toBeDefined();
  // Inside the package so "@xdskit/certs" resolves; .tmp/ is ignored by git.
  const scratch = join(packageDir, ".tmp");
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, `readme-${process.pid}.ts`);
  writeFileSync(file, code as string);
  const cwd = tempDir();
  const { stdout } = await run(process.execPath, ["--conditions=source", "--import", tsx, file], {
    cwd,
    timeout: 60_000,
  }).finally(() => rmSync(file, { force: true }));
  expect(stdout.trim().split("\n")).toEqual([
    "spiffe://cluster.local/ns/default/sa/bookinfo-reviews",
    "2",
    "default,ROOTCA",
    "true",
  ]);
  expect(readFileSync(join(cwd, "ca", "ca-cert.pem"), "utf8")).toMatch(/^-----BEGIN CERTIFICATE-----/);
}, 90_000);
