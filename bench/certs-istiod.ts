// `npm run bench:certs:istiod`: xdskit's CA side by side with istiod's, on the same machine, driven by the same
// client: Istio's own agent CA client (CitadelClient.CSRSign, CSRs from Istio's pki/util), from the Go program
// bench/istiod-ca (built into .cache/istiod-ca on first use). istiod's CA runs standalone (Istio's pki/ca with
// its self-signed RSA-2048 root, behind its IstioCertificateService gRPC server); xdskit's runs in
// bench/certs-server.ts once per root key type. All CAs are started first and the runs alternate between them,
// so that a busy machine's load falls on each alike. Each run keeps c calls in flight for --duration seconds
// after a warm-up; the CA's CPU time during the run is read from /proc.
// Flags: --root-keys=ECDSA_P256,RSA_2048,RSA_4096  --in-flight=16,64  --csr-keys=EC_P256,RSA_2048
//        --duration=4  --rounds=1 (more: the best run of each is shown)
//        --istiod-root-keys=RSA_2048 (istiod's default; add RSA_4096 and ECDSA_P256, a plug-in root, for a
//        comparison root key by root key: the ratios are always against RSA_2048 too)
//        --istiod-cpuprofile=<file>: istiod's CA (RSA_2048) writes a Go CPU profile (`go tool pprof -top <file>`)
//        An empty --root-keys= runs istiod's CA alone.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { NODE_TS_ARGS, parseFlags } from "./lib/proc.js";

const flags = parseFlags(process.argv.slice(2));
const rootKeys = (flags.get("root-keys") ?? "ECDSA_P256,RSA_2048,RSA_4096").split(",").filter(Boolean);
const inFlights = (flags.get("in-flight") ?? "16,64").split(",").map(Number);
const csrKeys = (flags.get("csr-keys") ?? "EC_P256,RSA_2048").split(",");
const durationSeconds = Number(flags.get("duration") ?? 4);
const rounds = Number(flags.get("rounds") ?? 1);
const istiodRootKeys = (flags.get("istiod-root-keys") ?? "RSA_2048").split(",").filter(Boolean);
const here = fileURLToPath(new URL(".", import.meta.url));
const repoRoot = join(here, "..");
const sourceDir = join(here, "istiod-ca");
const binary = join(repoRoot, ".cache", "istiod-ca");

const fmt = (value: number, digits = 0) =>
  value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

/** Builds the Go program when it is missing or older than its sources. */
function buildBinary(): void {
  const newest = Math.max(...["main.go", "go.mod", "go.sum"].map((f) => statSync(join(sourceDir, f)).mtimeMs));
  if (existsSync(binary) && statSync(binary).mtimeMs >= newest) return;
  console.log("(building bench/istiod-ca into .cache/istiod-ca: bench/istiod-ca/build.sh)");
  execFileSync("sh", [join(sourceDir, "build.sh")], { stdio: "inherit" });
}

interface Ca {
  readonly label: string;
  readonly rootKey: string;
  readonly port: number;
  /** PEM the signed certificates chain to. */
  readonly caRoot: string;
  /** PEM the CA's serving certificate chains to. */
  readonly servingRoot: string;
  readonly process: ChildProcess;
}

/** Starts a CA process and waits for its "READY <port> <root> [<serving root>]" line. */
function startCa(label: string, rootKey: string, command: string, args: string[], servingRoot?: string): Promise<Ca> {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`${label} exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const [word, port, caRoot, ownServingRoot] = line.split(" ");
      if (word !== "READY" || !caRoot) return;
      resolve({
        label,
        rootKey,
        port: Number(port),
        caRoot,
        servingRoot: servingRoot ?? ownServingRoot ?? caRoot,
        process: child,
      });
    });
  });
}

interface Run {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  clientCpuSeconds: number;
  serverCpuSeconds: number;
  failures: number;
  errors?: string[];
  load: string;
}

function runLoad(ca: Ca, csrKey: string, inFlight: number, csrCache: string): Run {
  const before = load();
  const stdout = execFileSync(
    binary,
    [
      "load",
      `-addr=127.0.0.1:${ca.port}`,
      `-serving-root=${ca.servingRoot}`,
      `-ca-root=${ca.caRoot}`,
      "-token=bench/load",
      `-csr-key=${csrKey}`,
      `-c=${inFlight}`,
      `-duration=${durationSeconds}s`,
      `-csr-cache=${csrCache}`,
      `-server-pid=${ca.process.pid}`,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const run = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as Run;
  if (run.failures) throw new Error(`${ca.label}: ${run.failures} failed calls, e.g. ${(run.errors ?? []).join("; ")}`);
  return { ...run, load: before };
}

buildBinary();
console.log("# istiod's CA and xdskit's, one client: Istio's agent CA client (CitadelClient.CSRSign)");
console.log(`node ${process.version}, ${cpus().length} CPUs, load average at start ${load()}\n`);

const dir = mkdtempSync(join(tmpdir(), "xdskit-certs-istiod-"));
const csrCache = join(dir, "csrs");
mkdirSync(csrCache);
execFileSync(binary, ["serving-cert", `-dir=${dir}`]);
const servingCert = join(dir, "serving-cert.pem");
const servingKey = join(dir, "serving-key.pem");
const istiodProfile = flags.get("istiod-cpuprofile");
const cas: Ca[] = [];
for (const rootKey of istiodRootKeys)
  cas.push(
    await startCa("istiod", rootKey, binary, [
      "serve",
      `-dir=${dir}`,
      `-root-key=${rootKey}`,
      ...(istiodProfile && rootKey === "RSA_2048" ? [`-cpuprofile=${istiodProfile}`] : []),
    ]),
  );
for (const rootKey of rootKeys) {
  cas.push(
    await startCa(
      "xdskit",
      rootKey,
      process.execPath,
      [
        ...NODE_TS_ARGS,
        join(here, "certs-server.ts"),
        `--root-key=${rootKey}`,
        `--dir=${dir}`,
        `--serving-cert=${servingCert}`,
        `--serving-key=${servingKey}`,
      ],
      join(dir, "serving-root.pem"),
    ),
  );
}

const best = new Map<string, Run>();
const key = (ca: Ca, csrKey: string, inFlight: number) => `${ca.label} ${ca.rootKey} ${csrKey} ${inFlight}`;
try {
  for (const csrKey of csrKeys)
    for (const inFlight of inFlights)
      for (let round = 0; round < rounds; round++)
        for (const ca of round % 2 ? [...cas].reverse() : cas) {
          const run = runLoad(ca, csrKey, inFlight, csrCache);
          const previous = best.get(key(ca, csrKey, inFlight));
          if (!previous || run.perSecond > previous.perSecond) best.set(key(ca, csrKey, inFlight), run);
        }
} finally {
  await Promise.all(
    cas.map((ca) => {
      const exited = new Promise((resolve) => ca.process.once("exit", resolve));
      ca.process.stdin?.end();
      return exited;
    }),
  );
}

console.log(
  `Each run: ${durationSeconds} s of CSRs after a 1 s warm-up${rounds > 1 ? `, best of ${rounds} rounds (alternating order)` : ""}. ` +
    "CPU ms per CSR: the CA process's user + system time (all its threads) over the run ÷ CSRs signed.\n",
);
console.log(
  "| CSR key | in flight | CA (root key) | CSR/s | p50 / p99 ms | CA CPU ms/CSR | client CPU ms/CSR | load avg | CSR/s ÷ istiod RSA_2048 | CA CPU: istiod RSA_2048 ÷ this | CSR/s ÷ istiod, same root key |",
);
console.log("|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|");
const ratios: string[] = [];
const cpuPerCsr = (run: Run) => (run.serverCpuSeconds * 1000) / run.requests;
const istiodWith = (rootKey: string) => cas.find((ca) => ca.label === "istiod" && ca.rootKey === rootKey);
const baseline = istiodWith("RSA_2048") ?? (cas[0] as Ca);
for (const csrKey of csrKeys)
  for (const inFlight of inFlights) {
    const istiod = best.get(key(baseline, csrKey, inFlight)) as Run;
    for (const ca of cas) {
      const run = best.get(key(ca, csrKey, inFlight)) as Run;
      const ratio = run.perSecond / istiod.perSecond;
      const cpuRatio = cpuPerCsr(istiod) / cpuPerCsr(run);
      const sameRoot = istiodWith(ca.rootKey);
      const sameRootRun = sameRoot && ca.label !== "istiod" ? best.get(key(sameRoot, csrKey, inFlight)) : undefined;
      const sameRootRatio = sameRootRun ? run.perSecond / sameRootRun.perSecond : undefined;
      console.log(
        `| ${csrKey} | ${inFlight} | ${ca.label} (${ca.rootKey}) | ${fmt(run.perSecond)} | ${fmt(run.p50Ms, 1)} / ${fmt(run.p99Ms, 1)} | ` +
          `${fmt(cpuPerCsr(run), 2)} | ${fmt((run.clientCpuSeconds * 1000) / run.requests, 2)} | ${run.load} | ` +
          `${fmt(ratio, 2)} | ${fmt(cpuRatio, 2)} | ${sameRootRatio === undefined ? "-" : fmt(sameRootRatio, 2)} |`,
      );
      if (ca.label !== "istiod")
        ratios.push(
          `${ca.rootKey} root, ${csrKey} CSRs, ${inFlight} in flight: xdskit/istiod ${fmt(ratio, 2)}× CSR/s, ` +
            `CA CPU per CSR istiod/xdskit ${fmt(cpuRatio, 2)} — ${ratio > 1 ? "faster" : "NOT faster"}` +
            (sameRootRatio === undefined ? "" : `; against istiod with a ${ca.rootKey} root ${fmt(sameRootRatio, 2)}×`),
        );
    }
  }
console.log(
  `\nxdskit against istiod with its default RSA_2048 root (above 1 is better for xdskit):\n  ${ratios.join("\n  ")}`,
);
console.log(`\nload average at end ${load()}`);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
