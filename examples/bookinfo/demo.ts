// Istio's Bookinfo tutorial on one machine: a control plane watching a copy of mesh/, the four Node services,
// an Envoy sidecar per workload and an ingress gateway, all through xdskit's agent.  Run: npm run demo
import fs from "node:fs";
import path from "node:path";
import {
  type ControlPlane,
  createControlPlane,
  findEnvoy,
  type MeshTranslator,
  type SidecarAgent,
  startSidecarAgent,
} from "xdskit";
import { startDetails } from "./apps/details.js";
import type { RunningService } from "./apps/http-service.js";
import { startProductpage } from "./apps/productpage.js";
import { startRatings } from "./apps/ratings.js";
import { type ReviewsVersion, startReviews } from "./apps/reviews.js";
import { readWorkloads } from "./workloads.js";

const here = path.dirname(new URL(import.meta.url).pathname);

export interface BookinfoDemoOptions {
  /** Default: Istio's translation. */
  readonly translator?: MeshTranslator;
  /** Where the watched copy of mesh/ lives (recreated on each start). Default: <cwd>/.cache/bookinfo-demo. */
  readonly workDir?: string;
  /** The gateway's port (Bookinfo's Gateway says 8080). */
  readonly gatewayPort?: number;
  readonly xdsPort?: number;
  readonly xdsTlsPort?: number;
  readonly monitoringPort?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Envoy log lines. Default: dropped. */
  readonly envoyLog?: (workload: string, line: string) => void;
}

export interface BookinfoDemo {
  readonly productpageUrl: string;
  /** The directory the control plane watches: copy a sample here to change routing. */
  readonly meshDir: string;
  readonly samplesDir: string;
  readonly controlPlane: ControlPlane;
  stop(): Promise<void>;
}

export async function startBookinfoDemo(options: BookinfoDemoOptions): Promise<BookinfoDemo> {
  const log = options.log ?? (() => {});
  const workDir = options.workDir ?? path.join(process.cwd(), ".cache", "bookinfo-demo");
  const meshDir = path.join(workDir, "mesh");
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  fs.cpSync(path.join(here, "mesh"), meshDir, { recursive: true });
  const workloads = readWorkloads(path.join(meshDir, "platform.yaml"));
  const envoy = await findEnvoy({ install: true, log });
  log(`Envoy ${envoy.version}: ${envoy.path}`);

  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  };
  try {
    const controlPlane = await createControlPlane({
      ...(options.translator ? { translator: options.translator } : {}),
      config: { path: meshDir },
      xds: { port: options.xdsPort ?? 15010 },
      xdsTls: { port: options.xdsTlsPort ?? 15012 },
      monitoring: { port: options.monitoringPort ?? 15014 },
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

    const productpageUrl = `http://127.0.0.1:${options.gatewayPort ?? 8080}/productpage`;
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
    return { productpageUrl, meshDir, samplesDir: path.join(here, "samples"), controlPlane, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
