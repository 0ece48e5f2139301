// The route simulator against real Envoy: seeded random RouteConfigurations over a small platform, each
// served by xdskit's ADS server to ONE Envoy (one push per configuration, many requests per push), and for
// every request the simulator's prediction — the upstream reached with the path and host it saw, the
// redirect's status and Location, the direct response's status and body, or a 404 — must equal what
// Envoy did. XDSKIT_SIM_SEED=<n> replays (or explores) another seed; a failure prints the seed.
import http from "node:http";
import https from "node:https";
import {
  DownstreamTlsContext,
  HttpConnectionManager,
  type Listener,
  packAny,
  type RouteConfiguration,
  type Snapshot,
} from "@xdskit/core";
import { explain, resourcesFromConfigDump, type SimulationResult, simulate } from "@xdskit/translate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { HCM_TYPE, routerFilter, socketAddress } from "../harness/envoy-config.js";
import { freePort } from "../harness/ports.js";
import { createTestPki, type TestPki } from "../harness/test-pki.js";
import { type HttpUpstream, type HttpUpstreamReply, startHttpUpstream } from "../harness/upstreams.js";
import { edsClusterVia, endpointsOf, envoyBootstrap, httpListenerVia, startXds, type XdsUnderTest } from "./helpers.js";
import {
  type ChainCriteria,
  type ChainProbe,
  CLUSTERS,
  createRandom,
  type GeneratedRequest,
  randomChains,
  randomProbe,
  randomRequest,
  randomRouteConfiguration,
} from "./simulator-differential-cases.js";

const SEED = Number(process.env.XDSKIT_SIM_SEED ?? 20261202);
const CONFIGS = 16;
const REQUESTS_PER_CONFIG = 24;
const CHAIN_CONFIGS = 10;
const PROBES_PER_CONFIG = 16;
const ROUTE = "diff-route";
const NODE = "simulator-differential";

/** What came back through Envoy, reduced to what the simulator predicts. */
interface Observed {
  status: number;
  upstream?: string;
  path?: string;
  host?: string;
  timeoutMs?: number;
  location?: string;
  body?: string;
}

/** An HTTP listener on 127.0.0.1:0 routing with RDS `ROUTE` over ADS. */
function httpListener(name: string, options: Partial<HttpConnectionManager>): Listener {
  return httpListenerVia(name, ROUTE, "ads-sotw", options);
}

const TLS_INSPECTOR = "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector";
const HTTP_INSPECTOR = "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector";
const TLS_CONTEXT = "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";

/** A filter chain answering every request with a direct response naming the chain (TLS when it asks for tls). */
function namedChain(name: string, tls: TestPki | undefined): NonNullable<Listener["filterChains"]>[number] {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: name,
    routeConfig: {
      name,
      virtualHosts: [
        {
          name,
          domains: ["*"],
          routes: [{ match: { prefix: "/" }, directResponse: { status: 200, body: { inlineString: name } } }],
        },
      ],
    },
    httpFilters: [routerFilter()],
  });
  const context = tls
    ? DownstreamTlsContext.fromPartial({
        commonTlsContext: {
          tlsCertificates: [
            { certificateChain: { inlineBytes: tls.server.cert }, privateKey: { inlineBytes: tls.server.key } },
          ],
        },
      })
    : undefined;
  return {
    name,
    filters: [
      {
        name: "envoy.filters.network.http_connection_manager",
        typedConfig: packAny(HCM_TYPE, HttpConnectionManager, hcm),
      },
    ],
    ...(context
      ? {
          transportSocket: {
            name: "envoy.transport_sockets.tls",
            typedConfig: packAny(TLS_CONTEXT, DownstreamTlsContext, context),
          },
        }
      : {}),
  };
}

/** The chains listener: two ports on 127.0.0.1, TLS and HTTP inspectors, one chain per criteria set. */
function chainsListener(
  chains: ChainCriteria[],
  ports: { first: number; second: number },
  pki: TestPki,
  withDefault: boolean,
): Listener {
  const cidr = (range: [string, number] | undefined) =>
    range ? [{ addressPrefix: range[0], prefixLen: range[1] }] : undefined;
  return {
    name: "chains",
    address: socketAddress("127.0.0.1", ports.first),
    additionalAddresses: [{ address: socketAddress("127.0.0.1", ports.second) }],
    listenerFilters: [
      {
        name: "envoy.filters.listener.tls_inspector",
        typedConfig: { typeUrl: `type.googleapis.com/${TLS_INSPECTOR}`, value: new Uint8Array() },
      },
      {
        name: "envoy.filters.listener.http_inspector",
        typedConfig: { typeUrl: `type.googleapis.com/${HTTP_INSPECTOR}`, value: new Uint8Array() },
      },
    ],
    filterChains: chains.map((c) => ({
      ...namedChain(c.name, c.transportProtocol === "tls" ? pki : undefined),
      filterChainMatch: {
        ...(c.destinationPort ? { destinationPort: ports[c.destinationPort] } : {}),
        ...(c.serverName ? { serverNames: [c.serverName] } : {}),
        ...(c.transportProtocol ? { transportProtocol: c.transportProtocol } : {}),
        ...(c.applicationProtocol ? { applicationProtocols: [c.applicationProtocol] } : {}),
        ...(c.sourcePrefix ? { sourcePrefixRanges: cidr(c.sourcePrefix) } : {}),
        ...(c.directSourcePrefix ? { directSourcePrefixRanges: cidr(c.directSourcePrefix) } : {}),
        ...(c.sourceType ? { sourceType: c.sourceType } : {}),
      },
    })),
    ...(withDefault ? { defaultFilterChain: namedChain("default", undefined) } : {}),
  };
}

/** One fresh connection per probe: the chain's name when a chain answered, else "failed". */
function probeChain(port: number, probe: ChainProbe): Promise<string> {
  return new Promise((resolve) => {
    const options = {
      host: "127.0.0.1",
      port,
      path: "/",
      agent: false as const,
      localAddress: probe.source,
      timeout: 3000,
    };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve(res.statusCode === 200 ? Buffer.concat(chunks).toString("utf8") : `failed: ${res.statusCode}`),
      );
      res.on("error", () => resolve("failed"));
    };
    let req: http.ClientRequest;
    if (probe.tls) {
      const secure: https.RequestOptions & { ALPNProtocols: string[] } = {
        ...options,
        rejectUnauthorized: false,
        ...(probe.tls.sni !== undefined ? { servername: probe.tls.sni } : {}),
        ALPNProtocols: probe.tls.alpn,
      };
      req = https.request(secure, onResponse);
    } else req = http.request(options, onResponse);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve("failed"));
    req.end();
  });
}

/** Requests take turns over the three HTTP listeners. */
const listenerFor = (i: number) => ["plain", "strip-port", "merge-slashes"][i % 3] as string;

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
            const timeout = reply.headers["x-envoy-expected-rq-timeout-ms"];
            resolve({
              status: res.statusCode ?? 0,
              upstream,
              path: reply.path,
              host: String(reply.headers.host),
              ...(typeof timeout === "string" ? { timeoutMs: Number(timeout) } : {}),
            });
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
      // Envoy tells the upstream the route's timeout in x-envoy-expected-rq-timeout-ms (absent when disabled).
      return {
        status: 200,
        upstream: `u/${action.cluster}`,
        path: action.path,
        host: action.host,
        ...(action.timeoutMs > 0 ? { timeoutMs: action.timeoutMs } : {}),
      };
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
  const listeners: Listener[] = [
    httpListener("plain", {}),
    httpListener("strip-port", { stripAnyHostPort: true }),
    httpListener("merge-slashes", { mergeSlashes: true }),
  ];

  let lastRoute: RouteConfiguration = { name: ROUTE, virtualHosts: [] };
  const resources = (route: RouteConfiguration, extra: Listener[] = []) => ({
    Listener: [...listeners, ...extra],
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
      lastRoute = route;
      const snapshot: Snapshot = xds.set(NODE, resources(route));
      try {
        await xds.cache.awaitApplied(NODE, snapshot.version, { timeoutMs: 10_000 });
      } catch (error) {
        throw new Error(
          `seed ${SEED}, configuration ${c}: Envoy did not apply it (${(error as Error).message})\n${JSON.stringify(route, null, 1)}`,
        );
      }
      const requests = Array.from({ length: REQUESTS_PER_CONFIG }, () => randomRequest(random));
      const observed = await Promise.all(requests.map((request, i) => send(ports[listenerFor(i)] ?? 0, request)));
      for (const [i, request] of requests.entries()) {
        const listener = listenerFor(i);
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
      expect(outcomes[kind], kind).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it(`${CHAIN_CONFIGS} random filter chain sets × ${PROBES_PER_CONFIG} connections: same filter chain (or none)`, async () => {
    const random = createRandom(SEED + 1);
    const pki = createTestPki();
    const chainPorts = { first: await freePort(), second: await freePort() };
    let compared = 0;
    let closed = 0;
    let tlsReached = 0;
    try {
      for (let c = 0; c < CHAIN_CONFIGS; c++) {
        const chains = randomChains(random);
        const listener = chainsListener(chains, chainPorts, pki, random.chance(0.5));
        const snapshot = xds.set(NODE, resources(lastRoute, [listener]));
        try {
          await xds.cache.awaitApplied(NODE, snapshot.version, { timeoutMs: 10_000 });
        } catch (error) {
          throw new Error(
            `seed ${SEED}, chain set ${c}: Envoy did not apply it (${(error as Error).message})\n${JSON.stringify(chains)}`,
          );
        }
        const probes = Array.from({ length: PROBES_PER_CONFIG }, () => randomProbe(random));
        for (const [i, probe] of probes.entries()) {
          const port = chainPorts[probe.port];
          const result = simulate(
            { listeners: [listener] },
            { port, source: { address: probe.source }, ...(probe.tls ? { tls: probe.tls } : {}) },
          );
          const chain = result.filterChain?.name;
          const chainIsTls = chains.find((x) => x.name === chain)?.transportProtocol === "tls";
          // A chain answers only when its transport matches the connection's: else the connection fails.
          const expected = chain !== undefined && chainIsTls === (probe.tls !== undefined) ? chain : "failed";
          const actual = await probeChain(port, probe);
          const got = actual.startsWith("failed") ? "failed" : actual;
          if (got !== expected)
            expect(
              got,
              [
                `seed ${SEED}, chain set ${c}, probe ${i} (replay: XDSKIT_SIM_SEED=${SEED})`,
                `probe: ${JSON.stringify({ ...probe, port })}`,
                `chains: ${JSON.stringify(chains)} (default chain: ${listener.defaultFilterChain !== undefined})`,
                explain(result),
              ].join("\n"),
            ).toBe(expected);
          if (expected === "failed") closed++;
          else if (probe.tls) tlsReached++;
          compared++;
        }
      }
    } finally {
      pki.cleanup();
    }
    expect(compared).toBe(CHAIN_CONFIGS * PROBES_PER_CONFIG);
    // Enough probes must reach a chain, over TLS too, for the comparison to mean something.
    expect(compared - closed, "probes that reached a chain").toBeGreaterThanOrEqual(compared / 5);
    expect(tlsReached, "TLS probes that reached a chain").toBeGreaterThanOrEqual(5);
    console.log(`filter chains: ${compared} probes, ${compared - closed} reached a chain (${tlsReached} over TLS)`);
  }, 120_000);

  it("the resources read back from Envoy's /config_dump predict the same answers", async () => {
    const dumped = resourcesFromConfigDump(await envoy.configDump());
    expect(dumped.listeners?.map((l) => l.name).sort()).toEqual(expect.arrayContaining(["plain", "strip-port"]));
    expect(dumped.routes?.map((r) => r.name)).toEqual([ROUTE]); // the chains' inline routes stay in their listener
    expect(dumped.clusters?.map((c) => c.name)).toEqual(expect.arrayContaining([...CLUSTERS]));
    const random = createRandom(SEED + 2);
    const requests = Array.from({ length: 48 }, () => randomRequest(random));
    for (const [i, request] of requests.entries()) {
      const listener = listenerFor(i);
      const asked = { listener, port: ports[listener], ...request };
      const fromDump = simulate(dumped, asked);
      expect(fromDump.action, JSON.stringify(asked)).toEqual(
        simulate({ listeners, routes: [lastRoute] }, asked).action,
      );
      const actual = await send(ports[listener] ?? 0, request);
      if (!equalObserved(predicted(fromDump), actual))
        expect(actual, `seed ${SEED}, request ${JSON.stringify(asked)}\n${explain(fromDump)}`).toEqual(
          predicted(fromDump),
        );
    }
  });
});

function equalObserved(a: Observed, b: Observed): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof Observed>;
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}
