// Decisions compared by the differential test against istiod: what istiod's answer says (listener, filter
// chain, route configuration and virtual host from Istio's own simulation; route and action picked from
// istiod's recorded RouteConfiguration with Envoy's rules by xdskit's simulator) and what xdskit's
// translator + simulator decide for the same scenario and request.
import fs from "node:fs";
import path from "node:path";
import { type Cluster, type Node, UpstreamTlsContext, unpackAny } from "@xdskit/core";
import {
  buildMesh,
  generate,
  loadConfig,
  proxyOf,
  resourcesFromConfigDump,
  type SimulatedAction,
  type SimulationRequest,
  type SimulationResult,
  SYSTEM_ROOT_CERTS_FILE,
  simulate,
} from "@xdskit/translate";
import type { OracleRequest, OracleScenario } from "./cases.js";

/** What istiod's Go program recorded for one request (test/istiod-oracle/oracle_test.go). */
export interface IstiodRequestAnswer {
  error?: string;
  listener?: string;
  filterChain?: string;
  routeConfig?: string;
  virtualHost?: string;
  tcpCluster?: string;
}

/** What istiod's Go program recorded for one scenario. */
export interface IstiodScenarioAnswer {
  name: string;
  error?: string;
  listeners: string[] | null;
  routes: string[] | null;
  clusters: string[] | null;
  requests: IstiodRequestAnswer[] | null;
  routeConfigurations: Record<string, unknown>;
  /** Each cluster's name, transport_socket and transport_socket_matches (proto3 JSON). */
  clusterTransports?: Record<string, unknown>;
}

/** The action, reduced to what decides where a request goes and what the client gets back. */
export type ActionSummary =
  | { kind: "cluster"; cluster?: string; weightedClusters?: string[]; path: string; host: string; timeoutMs: number }
  | { kind: "redirect"; status: number; location: string }
  | { kind: "direct-response"; status: number; body?: string }
  | { kind: "tcp-proxy"; cluster?: string }
  | { kind: "local-reply"; status: number }
  | { kind: "connection-closed" }
  | { kind: "other"; detail: string };

/** One request's decision at every stage. */
export interface Decision {
  listener?: string;
  filterChain?: string;
  routeConfig?: string;
  virtualHost?: string;
  route?: { name: string; index: number };
  action: ActionSummary;
}

/** One recorded scenario: istiod's answers plus the decisions derived from its RouteConfigurations. */
export interface RecordedScenario {
  name: string;
  /** scenarioHash() of the input this was recorded for. */
  hash: string;
  error?: string;
  listeners: string[];
  routes: string[];
  clusters: string[];
  requests: Decision[];
  /** istiod's RouteConfigurations the requests went through, as proto3 JSON. */
  routeConfigurations: Record<string, unknown>;
  /** The upstream transport of each cluster a request reaches (by istiod's decisions). */
  transports: Record<string, TransportSummary>;
}

export interface RecordedAnswers {
  /** The istio.io/istio module version that answered. */
  istio: string;
  scenarios: RecordedScenario[];
}

/**
 * The recorded answers are kept in one file per group of scenarios (answers/<group>.json), each well below
 * Biome's 1 MiB limit for files it formats, so the repository's formatter still checks them.
 */
export const ANSWER_GROUPS = ["bookinfo", "random-sidecar", "random-gateway", "features"] as const;

export function answerGroupOf(scenarioName: string): (typeof ANSWER_GROUPS)[number] {
  for (const prefix of ["bookinfo", "random-sidecar", "random-gateway"] as const)
    if (scenarioName.startsWith(`${prefix}-`)) return prefix;
  return "features";
}

/** The answers of every group, in the order of the groups (each file keeps its scenarios' order). */
export function readRecordedAnswers(directory: string): RecordedAnswers {
  const parts = ANSWER_GROUPS.map(
    (group) => JSON.parse(fs.readFileSync(path.join(directory, `${group}.json`), "utf8")) as RecordedAnswers,
  );
  const versions = new Set(parts.map((p) => p.istio));
  if (versions.size !== 1) throw new Error(`answers recorded by several istio versions: ${[...versions].join(", ")}`);
  return { istio: parts[0]?.istio ?? "", scenarios: parts.flatMap((p) => p.scenarios) };
}

/** Splits answers into their group files' contents. */
export function splitRecordedAnswers(answers: RecordedAnswers): Map<string, RecordedAnswers> {
  const out = new Map<string, RecordedAnswers>(ANSWER_GROUPS.map((g) => [g, { istio: answers.istio, scenarios: [] }]));
  for (const s of answers.scenarios) out.get(answerGroupOf(s.name))?.scenarios.push(s);
  return out;
}

/** An upstream TLS context reduced to what decides whether the handshake works. */
export interface TlsSummary {
  sni?: string;
  alpn?: string[];
  /** SANs the server's certificate must carry (sorted). */
  sans?: string[];
  /** The client certificate: an SDS secret name or a file. */
  certificate?: string;
  /** The trusted roots: an SDS secret name or a file. */
  trust?: string;
}

/** A cluster's upstream transport: one socket, or sockets chosen per endpoint metadata (auto mTLS). */
export interface TransportSummary {
  socket: TlsSummary | "plaintext";
  matches?: { name: string; match: unknown; socket: TlsSummary | "plaintext" }[];
}

type Socket = Cluster["transportSocket"];

function socketSummary(socket: Socket): TlsSummary | "plaintext" {
  if (!socket?.typedConfig || !(socket.typedConfig.typeUrl ?? "").endsWith(".UpstreamTlsContext")) return "plaintext";
  const tls = unpackAny(
    socket.typedConfig,
    "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
    UpstreamTlsContext,
  );
  const common = tls.commonTlsContext;
  const combined = common?.combinedValidationContext;
  const validation = combined?.defaultValidationContext ?? common?.validationContext;
  const sans = [
    ...(validation?.matchTypedSubjectAltNames ?? []).map((m) => m.matcher),
    ...(validation?.matchSubjectAltNames ?? []),
  ]
    .map((m) => m?.exact ?? m?.prefix ?? m?.suffix ?? m?.safeRegex?.regex ?? "")
    .sort();
  // istiod's agent serves a rule's files over SDS as `file-cert:<chain>~<key>` and `file-root:<ca>` (`system`
  // for the system roots); xdskit points Envoy at the files (the system bundle's path for `system`): both
  // read as the files here.
  const files = common?.tlsCertificates?.[0];
  const certificate =
    common?.tlsCertificateSdsSecretConfigs?.[0]?.name?.replace(/^file-cert:/, "") ??
    (files ? `${files.certificateChain?.filename ?? ""}~${files.privateKey?.filename ?? ""}` : undefined);
  const trust =
    (combined?.validationContextSdsSecretConfig?.name ?? common?.validationContextSdsSecretConfig?.name)
      ?.replace(/^file-root:/, "")
      .replace(/^system$/, SYSTEM_ROOT_CERTS_FILE) ?? validation?.trustedCa?.filename;
  return {
    ...(tls.sni ? { sni: tls.sni } : {}),
    ...(common?.alpnProtocols?.length ? { alpn: [...common.alpnProtocols] } : {}),
    ...(sans.length > 0 ? { sans } : {}),
    ...(certificate ? { certificate } : {}),
    ...(trust ? { trust } : {}),
  };
}

/** What decides a cluster's upstream TLS: its transport socket, or its per-endpoint socket matches. */
export function transportSummary(cluster: Cluster): TransportSummary {
  const matches = cluster.transportSocketMatches ?? [];
  return {
    socket: socketSummary(cluster.transportSocket),
    ...(matches.length > 0
      ? {
          matches: matches.map((m) => ({
            name: m.name ?? "",
            match: m.match ?? {},
            socket: socketSummary(m.transportSocket),
          })),
        }
      : {}),
  };
}

/** The clusters a decision sends traffic to. */
export function reachedClusters(decision: Decision): string[] {
  const a = decision.action;
  if (a.kind === "tcp-proxy") return a.cluster ? [a.cluster] : [];
  if (a.kind !== "cluster") return [];
  return [...(a.cluster ? [a.cluster] : []), ...(a.weightedClusters ?? []).map((w) => w.replace(/=\d+$/, ""))];
}

/** istiod's recorded cluster transports (proto3 JSON) as summaries, for the clusters `decisions` reach. */
export function istiodTransports(
  clusterTransports: Record<string, unknown>,
  decisions: readonly Decision[],
): Record<string, TransportSummary> {
  const names = [...new Set(decisions.flatMap(reachedClusters))].filter((n) => clusterTransports[n]).sort();
  const { clusters = [] } = resourcesFromConfigDump({
    configs: [
      {
        "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
        dynamic_active_clusters: names.map((n) => ({ cluster: clusterTransports[n] })),
      },
    ],
  });
  return Object.fromEntries(clusters.map((c) => [c.name ?? "", transportSummary(c)]));
}

export function summarizeAction(action: SimulatedAction): ActionSummary {
  switch (action.kind) {
    case "cluster":
      return {
        kind: "cluster",
        ...(action.cluster !== undefined ? { cluster: action.cluster } : {}),
        ...(action.weightedClusters
          ? { weightedClusters: action.weightedClusters.map((w) => `${w.name}=${w.weight}`) }
          : {}),
        path: action.path,
        host: action.host,
        timeoutMs: action.timeoutMs,
      };
    case "redirect":
      return { kind: "redirect", status: action.status, location: action.location };
    case "direct-response":
      return { kind: "direct-response", status: action.status, ...(action.body ? { body: action.body } : {}) };
    case "tcp-proxy":
      return { kind: "tcp-proxy", ...(action.cluster !== undefined ? { cluster: action.cluster } : {}) };
    case "local-reply":
      return { kind: "local-reply", status: action.status };
    case "connection-closed":
      return { kind: "connection-closed" };
    default:
      return { kind: "other", detail: JSON.stringify(action) };
  }
}

function simulationRequest(r: OracleRequest): SimulationRequest {
  return {
    address: r.address,
    port: r.port,
    authority: r.host,
    path: r.path,
    method: r.method,
    headers: r.headers,
    ...(r.tls ? { tls: { sni: r.tls.sni } } : {}),
  };
}

/**
 * istiod's decision for one request: the stages Istio's simulation recorded, then the route and action
 * xdskit's simulator picks in istiod's own RouteConfiguration (Istio's simulation matches paths only).
 */
export function deriveIstiodDecision(
  answer: IstiodRequestAnswer,
  recorded: { routeConfigurations: Record<string, unknown>; clusters: readonly string[] },
  request: OracleRequest,
): Decision {
  const { routeConfigurations } = recorded;
  const stages = {
    ...(answer.listener ? { listener: answer.listener } : {}),
    ...(answer.filterChain ? { filterChain: answer.filterChain } : {}),
    ...(answer.routeConfig ? { routeConfig: answer.routeConfig } : {}),
    ...(answer.virtualHost ? { virtualHost: answer.virtualHost } : {}),
  };
  if (answer.error === "no listener matched" || answer.error === "no filter chains matched")
    return { ...stages, action: { kind: "connection-closed" } };
  if (answer.tcpCluster) return { ...stages, action: { kind: "tcp-proxy", cluster: answer.tcpCluster } };
  const rc = answer.routeConfig ? routeConfigurations[answer.routeConfig] : undefined;
  if (!rc) return { ...stages, action: { kind: "other", detail: answer.error ?? "no route configuration" } };
  const { routes } = resourcesFromConfigDump({
    configs: [
      {
        "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
        dynamic_route_configs: [{ route_config: rc }],
      },
    ],
  });
  // istiod's clusters by name, so that a route to a cluster istiod did not generate is Envoy's 503.
  const clusters = recorded.clusters.map((name) => ({ name }));
  const result = simulate(
    { routes, clusters },
    { ...simulationRequest(request), routeConfiguration: answer.routeConfig },
  );
  // The virtual host is Istio's pick; the simulator's own pick is checked against it by the test.
  return {
    ...stages,
    ...(result.route ? { route: { name: result.route.name, index: result.route.index } } : {}),
    action: summarizeAction(result.action),
  };
}

/** The virtual host xdskit's simulator picks in istiod's RouteConfiguration (to check it against Istio's). */
export function simulatorVirtualHostOnIstiod(
  routeConfigurations: Record<string, unknown>,
  routeConfig: string,
  request: OracleRequest,
): string | undefined {
  const rc = routeConfigurations[routeConfig];
  if (!rc) return undefined;
  const routes = resourcesFromConfigDump({
    configs: [
      { "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", dynamic_route_configs: [{ route_config: rc }] },
    ],
  });
  return simulate(routes, { ...simulationRequest(request), routeConfiguration: routeConfig }).virtualHost?.name;
}

/** What xdskit generates for a scenario's proxy: resource names and each request's decision. */
export function xdskitAnswer(scenario: OracleScenario) {
  const loaded = loadConfig([
    { file: "kubernetes.yaml", text: scenario.kubernetes },
    { file: "istio.yaml", text: scenario.istio },
  ]);
  const mesh = buildMesh(loaded);
  const who: string | Node =
    scenario.proxy.type === "router"
      ? {
          id: `router~${scenario.proxy.ip}~${scenario.proxy.name}.${scenario.proxy.namespace}~${scenario.proxy.namespace}.svc.cluster.local`,
          metadata: { NAMESPACE: scenario.proxy.namespace, LABELS: scenario.proxy.labels },
        }
      : `${scenario.proxy.namespace}/${scenario.proxy.name}`;
  const resources = generate(mesh, proxyOf(mesh, who));
  const names = (list: readonly { name?: string }[]) => list.map((r) => r.name ?? "").sort();
  const requests = scenario.requests.map((request): Decision => {
    let result: SimulationResult = simulate(resources, simulationRequest(request));
    // A sidecar's outbound traffic is captured into virtualOutbound, which hands it to the listener of its
    // original destination (what simulate() matched) and otherwise handles it with its own filter chains.
    if (
      result.action.kind === "connection-closed" &&
      scenario.proxy.type === "sidecar" &&
      resources.Listener.some((l) => l.name === "virtualOutbound")
    )
      result = simulate(resources, { ...simulationRequest(request), listener: "virtualOutbound" });
    return {
      ...(result.listener ? { listener: result.listener.name } : {}),
      ...(result.filterChain?.name ? { filterChain: result.filterChain.name } : {}),
      ...(result.routeConfiguration && !result.routeConfiguration.inline
        ? { routeConfig: result.routeConfiguration.name }
        : {}),
      ...(result.virtualHost ? { virtualHost: result.virtualHost.name } : {}),
      ...(result.route ? { route: { name: result.route.name, index: result.route.index } } : {}),
      action: summarizeAction(result.action),
    };
  });
  return {
    diagnostics: loaded.diagnostics,
    listeners: names(resources.Listener),
    routes: names(resources.RouteConfiguration),
    clusters: names(resources.Cluster),
    requests,
    transportOf: (name: string) => {
      const cluster = resources.Cluster.find((c) => c.name === name);
      return cluster ? transportSummary(cluster) : undefined;
    },
  };
}
