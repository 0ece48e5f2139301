// The smallest real xdskit setup: serve a snapshot file over ADS to a real Envoy, then send a request
// through that Envoy to a Node upstream.  Run: npm run demo
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { checkSnapshotConsistency, createSnapshotCache, formatDiagnostic, snapshotFromJson } from "@xdskit/core";
import { createXdsServer } from "@xdskit/server";
import { envoyPath, startEnvoy } from "./envoy.js";

const NODE_ID = "hello-envoy";

// 1. An upstream service that says who it is.
const upstream = http.createServer((req, res) => res.end(`hello from the upstream, you asked for ${req.url}\n`));
await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
const upstreamPort = (upstream.address() as AddressInfo).port;

// 2. The snapshot file, with the upstream's real port filled in.
const json = JSON.parse(readFileSync(new URL("./snapshot.json", import.meta.url), "utf8"));
json.resources.ClusterLoadAssignment[0].endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value =
  upstreamPort;
const snapshot = snapshotFromJson(json);
const problems = checkSnapshotConsistency(snapshot);
if (problems.length > 0) throw new Error(problems.map(formatDiagnostic).join("\n"));

// 3. The control plane: a snapshot cache and an ADS server.
const cache = createSnapshotCache();
cache.setSnapshot(NODE_ID, snapshot);
const server = createXdsServer({ cache });
const xdsPort = await server.listen("127.0.0.1:0");
console.log(`xdskit ADS server on 127.0.0.1:${xdsPort}, snapshot version ${snapshot.version}`);

// 4. A real Envoy (ENVOY_BIN, or the one `npm run envoy:install` installed) bootstrapped to that server.
console.log(`envoy at ${envoyPath()}`);
const envoy = await startEnvoy(`
node: { id: ${NODE_ID}, cluster: demo }
dynamic_resources:
  ads_config: { api_type: GRPC, transport_api_version: V3, grpc_services: [{ envoy_grpc: { cluster_name: xds } }] }
  lds_config: { ads: {}, resource_api_version: V3 }
  cds_config: { ads: {}, resource_api_version: V3 }
static_resources:
  clusters:
  - name: xds
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${xdsPort} } } } }] }]
`);

try {
  // 5. Wait until Envoy has ACKed the whole snapshot, then send a request through it.
  await cache.awaitApplied(NODE_ID, snapshot.version, { timeoutMs: 15_000 });
  const status = cache.tracker.status(NODE_ID);
  for (const [typeUrl, type] of status?.types ?? [])
    console.log(`  ${type.state} ${typeUrl.split("/")[1]} ${type.acked?.version}`);
  const port = await envoy.listenerPort("listener_0");
  const response = await fetch(`http://127.0.0.1:${port}/productpage`);
  const body = await response.text();
  console.log(`GET http://127.0.0.1:${port}/productpage via Envoy -> ${response.status}: ${body.trim()}`);
  if (response.status !== 200 || !body.includes("hello from the upstream")) process.exitCode = 1;
} finally {
  await envoy.stop();
  await server.close({ graceMs: 1000 });
  upstream.close();
}
