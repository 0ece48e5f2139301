// Proxyless gRPC: @grpc/grpc-js-xds clients (node metadata GENERATOR=grpc) dial xds:///echo.default.svc.cluster.local:7070
// and get what @xdskit/translate generates from Istio YAML — an api_listener per host:port, RDS
// outbound|7070||echo..., subset clusters and endpoints — served by a real xdskit server. A VirtualService
// sends jason to v2 and splits the rest 50/50.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMesh, generate, loadConfig, proxyOf } from "../../packages/translate/src/index.js";
import { runXdsClient, xdsBootstrap } from "../harness/grpc-xds-client.js";
import { type GrpcUpstream, startGrpcUpstream } from "../harness/upstreams.js";
import { startXds, type XdsUnderTest } from "./helpers.js";

const NODE_ID = "sidecar~127.0.0.1~grpc-client.default~default.svc.cluster.local";
const TARGET = "xds:///echo.default.svc.cluster.local:7070";

describe("proxyless gRPC clients routed by Istio YAML", () => {
  let v1: GrpcUpstream;
  let v2: GrpcUpstream;
  let xds: XdsUnderTest;

  beforeAll(async () => {
    v1 = await startGrpcUpstream({ service: "echo", version: "v1" });
    v2 = await startGrpcUpstream({ service: "echo", version: "v2" });
    const loaded = loadConfig(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 7070, name: grpc, protocol: GRPC }]
  workloadSelector: { labels: { app: echo } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-v1, namespace: default }
spec: { address: 127.0.0.1, ports: { grpc: ${v1.port} }, labels: { app: echo, version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-v2, namespace: default }
spec: { address: 127.0.0.1, ports: { grpc: ${v2.port} }, labels: { app: echo, version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: default }
spec:
  host: echo
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: echo, subset: v2 } }]
  - route:
    - { destination: { host: echo, subset: v1 }, weight: 50 }
    - { destination: { host: echo, subset: v2 }, weight: 50 }
`);
    expect(loaded.diagnostics).toEqual([]);
    const mesh = buildMesh(loaded);
    const proxy = proxyOf(mesh, { id: NODE_ID, metadata: { GENERATOR: "grpc", NAMESPACE: "default" } });
    expect(proxy.type).toBe("proxyless");
    xds = await startXds();
    xds.set(NODE_ID, generate(mesh, proxy));
  });

  afterAll(async () => {
    await xds?.close();
    await v1?.close();
    await v2?.close();
  });

  const bootstrap = () =>
    xdsBootstrap({ serverUri: xds.address, nodeId: NODE_ID, metadata: { GENERATOR: "grpc", NAMESPACE: "default" } });

  it("sends jason to v2 by header", async () => {
    const run = await runXdsClient({
      bootstrap: bootstrap(),
      target: TARGET,
      calls: 10,
      metadata: { "end-user": "jason" },
    });
    expect(run.tally, run.stderr.slice(-2000)).toEqual({ "echo/v2": 10 });
    expect(xds.nacks).toEqual([]);
  });

  it("splits everyone else between v1 and v2 (50/50: both within 0.5 ± 0.2 over 100 calls)", async () => {
    const run = await runXdsClient({ bootstrap: bootstrap(), target: TARGET, calls: 100 });
    const share = (run.tally["echo/v1"] ?? 0) / 100;
    expect(Object.keys(run.tally).sort(), run.stderr.slice(-2000)).toEqual(["echo/v1", "echo/v2"]);
    expect(Math.abs(share - 0.5), JSON.stringify(run.tally)).toBeLessThanOrEqual(0.2);
  });
});
