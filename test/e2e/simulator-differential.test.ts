// The route simulator against real Envoy: seeded random RouteConfigurations over a small platform, each
// served by xdskit's ADS server to ONE Envoy (one push per configuration, many requests per push), and for
// every request the simulator's prediction — the upstream reached with the path and host it saw, the
// redirect's status and Location, the direct response's status and body, or a 404 — must equal what
// Envoy did. XDSKIT_SIM_SEED=<n> replays (or explores) another seed; a failure prints the seed.
import http from "node:http";
import { HttpConnectionManager, type Listener, packAny, type RouteConfiguration, type Snapshot } from "@xdskit/core";
import { explain, type SimulationResult, simulate } from "@xdskit/translate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { HCM_TYPE, routerFilter, socketAddress } from "../harness/envoy-config.js";
import { type HttpUpstream, type HttpUpstreamReply, startHttpUpstream } from "../harness/upstreams.js";
import { configSourceFor, edsClusterVia, endpointsOf, envoyBootstrap, startXds, type XdsUnderTest } from "./helpers.js";
import {
  CLUSTERS,
  createRandom,
  type GeneratedRequest,
  randomRequest,
  randomRouteConfiguration,
} from "./simulator-differential-cases.js";

const SEED = Number(process.env.XDSKIT_SIM_SEED ?? 20261202);
const CONFIGS = 16;
const REQUESTS_PER_CONFIG = 24;
const ROUTE = "diff-route";
const NODE = "simulator-differential";

/** What came back through Envoy, reduced to what the simulator predicts. */
interface Observed {
  status: number;
  upstream?: string;
  path?: string;
  host?: string;
  location?: string;
  body?: string;
}

/** An HTTP listener on 127.0.0.1:0 routing with RDS `ROUTE` over ADS. */
function httpListener(name: string, options: Partial<HttpConnectionManager>): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: name,
    rds: { configSource: configSourceFor("ads-sotw"), routeConfigName: ROUTE },
    httpFilters: [routerFilter()],
    ...options,
  });
  return {
    name,
    address: socketAddress("127.0.0.1", 0),
    filterChains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: packAny(HCM_TYPE, HttpConnectionManager, hcm),
          },
        ],
      },
    ],
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function send(port: number, request: GeneratedRequest): Promise<Observed> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path: request.path,
        method: request.method,
        agent,
        setHost: false,
        headers: { host: request.authority, ...request.headers },
        timeout: 3000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          const upstream = res.headers["x-upstream"];
          if (typeof upstream === "string") {
            const reply = JSON.parse(body) as HttpUpstreamReply;
            resolve({ status: res.statusCode ?? 0, upstream, path: reply.path, host: String(reply.headers.host) });
          } else
            resolve({
              status: res.statusCode ?? 0,
              ...(res.headers.location !== undefined ? { location: res.headers.location } : {}),
              body,
            });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out after 3000 ms")));
    req.on("error", reject);
    req.end();
  });
}

/** The simulator's prediction in the shape of {@link Observed}. */
function predicted(result: SimulationResult): Observed {
  const { action } = result;
  switch (action.kind) {
    case "cluster":
      return { status: 200, upstream: `u/${action.cluster}`, path: action.path, host: action.host };
    case "redirect":
      return { status: action.status, location: action.location, body: "" };
    case "direct-response":
      return { status: action.status, body: action.body ?? "" };
    case "local-reply":
      return { status: action.status, body: "" };
    default:
      return { status: -1, body: `not predicted: ${action.kind}` };
  }
}

describe(`the route simulator agrees with Envoy (seed ${SEED})`, () => {
  const upstreams: HttpUpstream[] = [];
  let xds: XdsUnderTest;
  let envoy: EnvoyHandle;
  const ports: Record<string, number> = {};
  // Two listeners on the same routes: Envoy's defaults, and strip_any_host_port.
  const listeners: Listener[] = [httpListener("plain", {}), httpListener("strip-port", { stripAnyHostPort: true })];

  const resources = (route: RouteConfiguration) => ({
    Listener: listeners,
    RouteConfiguration: [route],
    Cluster: CLUSTERS.map((name) => edsClusterVia(name, "ads-sotw")),
    ClusterLoadAssignment: CLUSTERS.map((name, i) => endpointsOf(name, upstreams[i]?.port ?? 0)),
  });

  beforeAll(async () => {
    for (const name of CLUSTERS) upstreams.push(await startHttpUpstream({ service: "u", version: name }));
    xds = await startXds();
    const first = xds.set(NODE, resources({ name: ROUTE, virtualHosts: [] }));
    envoy = await startEnvoy({
      name: NODE,
      bootstrap: envoyBootstrap({ transport: "ads-sotw", xdsPort: xds.port, nodeId: NODE }),
    });
    await xds.cache.awaitApplied(NODE, first.version, { timeoutMs: 10_000 });
    for (const l of listeners) ports[l.name ?? ""] = await envoy.waitFor(() => envoy.listenerPort(l.name ?? ""), 5000);
  });

  afterAll(async () => {
    agent.destroy();
    await envoy?.stop();
    await xds?.close();
    for (const u of upstreams) await u.close();
  });

  it(`${CONFIGS} random route configurations × ${REQUESTS_PER_CONFIG} requests: same upstream, path, host, redirect or direct response`, async () => {
    const random = createRandom(SEED);
    let compared = 0;
    const outcomes: Record<string, number> = {};
    for (let c = 0; c < CONFIGS; c++) {
      const route = randomRouteConfiguration(random, ROUTE);
      const snapshot: Snapshot = xds.set(NODE, resources(route));
      try {
        await xds.cache.awaitApplied(NODE, snapshot.version, { timeoutMs: 10_000 });
      } catch (error) {
        throw new Error(
          `seed ${SEED}, configuration ${c}: Envoy did not apply it (${(error as Error).message})\n${JSON.stringify(route, null, 1)}`,
        );
      }
      const requests = Array.from({ length: REQUESTS_PER_CONFIG }, () => randomRequest(random));
      const observed = await Promise.all(
        requests.map((request, i) => send(ports[i % 2 === 0 ? "plain" : "strip-port"] ?? 0, request)),
      );
      for (const [i, request] of requests.entries()) {
        const listener = i % 2 === 0 ? "plain" : "strip-port";
        const result = simulate(
          { listeners, routes: [route] },
          {
            listener,
            port: ports[listener],
            method: request.method,
            authority: request.authority,
            path: request.path,
            headers: request.headers,
          },
        );
        const prediction = predicted(result);
        const actual = observed[i] as Observed;
        if (JSON.stringify(prediction) !== JSON.stringify(actual) && !equalObserved(prediction, actual)) {
          const detail = [
            `seed ${SEED}, configuration ${c}, request ${i} (replay: XDSKIT_SIM_SEED=${SEED})`,
            `request: ${JSON.stringify({ listener, ...request })}`,
            `simulator: ${JSON.stringify(prediction)}`,
            `envoy:     ${JSON.stringify(actual)}`,
            explain(result),
            `configuration: ${JSON.stringify(route)}`,
          ].join("\n");
          expect(actual, detail).toEqual(prediction);
        }
        compared++;
        outcomes[result.action.kind] = (outcomes[result.action.kind] ?? 0) + 1;
      }
    }
    expect(compared).toBe(CONFIGS * REQUESTS_PER_CONFIG);
    // The generator must exercise every outcome, or the comparison proves little.
    for (const kind of ["cluster", "redirect", "direct-response", "local-reply"])
      expect(outcomes[kind], kind).toBeGreaterThanOrEqual(3);
  }, 120_000);
});

function equalObserved(a: Observed, b: Observed): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof Observed>;
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}
