#!/usr/bin/env node
// `npm run node:install`: the Node runtimes test/packaging runs the built packages on (the `engines` minimum,
// Node 20, and the current LTS, Node 24), other than the one running this script, unpacked from npm's
// `node-<platform>-<arch>` packages into <repo>/.cache/node-<version>/. They are not dependencies on purpose: npm
// puts every dependency's bin first on the PATH of scripts, so a `node` among them would run the whole suite.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The runtimes the packaging test names, by major version: the exact version installed when needed. */
export const NODE_RUNTIMES = { 20: "20.20.2", 24: "24.21.0" };

/** Where `npm run node:install` puts Node `version`'s binary. */
export function installedNodePath(version) {
  return path.join(repoRoot, ".cache", `node-${version}`, "package", "bin", "node");
}

/** The binary of Node `major`: this process's when it is that major, else the one installed under .cache. */
export function nodeRuntime(major) {
  if (process.versions.node.split(".")[0] === String(major)) return process.execPath;
  return installedNodePath(NODE_RUNTIMES[major]);
}

function install(version) {
  const binary = installedNodePath(version);
  if (fs.existsSync(binary)) return binary;
  const platform = process.platform === "win32" ? "win" : process.platform;
  const spec = `node-${platform}-${process.arch}@${version}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-node-"));
  try {
    const packed = JSON.parse(
      execFileSync("npm", ["pack", spec, "--json", "--pack-destination", tmp], { encoding: "utf8" }),
    );
    const target = path.dirname(path.dirname(path.dirname(binary)));
    fs.mkdirSync(target, { recursive: true });
    execFileSync("tar", ["-xzf", path.join(tmp, packed[0].filename), "-C", target]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (!fs.existsSync(binary)) throw new Error(`${spec} holds no package/bin/node`);
  return binary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    for (const [major, version] of Object.entries(NODE_RUNTIMES)) {
      const binary = nodeRuntime(major) === process.execPath ? process.execPath : install(version);
      const reported = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
      process.stdout.write(`node ${major}: ${binary} (${reported})\n`);
    }
  } catch (error) {
    process.stderr.write(`node:install failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
