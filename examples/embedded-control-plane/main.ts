// A control plane inside your own Node application: createControlPlane with config applied from code (no files),
// an Envoy ingress gateway run by xdskit's agent, and a routing change made by calling cp.apply() again.
// Run: node --conditions=source --import tsx examples/embedded-control-plane/main.ts
import http from "node:http";
import net from "node:net";
import { createControlPlane, findEnvoy, startSidecarAgent } from "xdskit";

/** A tiny upstream that says which version answered. */
async function startUpstream(version: string): Promise<{ port: number; close(): void }> {
  const server = http.createServer((_req, res) => res.end(`hello from ${version}\n`));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** A free port for the gateway: Istio's Gateway names its port, so it must be known before the config is. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const v1 = await startUpstream("v1");
const v2 = await startUpstream("v2");
const gatewayPort = await freePort();

// Istio's objects as plain values: a service with two workloads, its subsets, a gateway and a route.
const meta = (name: string) => ({ name, namespace: "default" });
const service = [
  {
    apiVersion: "networking.istio.io/v1",
    kind: "ServiceEntry",
    metadata: meta("hello"),
    spec: {
      hosts: ["hello.default.svc.cluster.local"],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      ports: [{ number: 80, name: "http", protocol: "HTTP" }],
      workloadSelector: { labels: { app: "hello" } },
    },
  },
  ...[
    ["hello-v1", "v1", v1.port],
    ["hello-v2", "v2", v2.port],
  ].map(([name, version, port]) => ({
    apiVersion: "networking.istio.io/v1",
    kind: "WorkloadEntry",
    metadata: meta(name as string),
    spec: { address: "127.0.0.1", ports: { http: port }, labels: { app: "hello", version } },
  })),
  {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: meta("hello"),
    spec: {
      host: "hello.default.svc.cluster.local",
      subsets: [
        { name: "v1", labels: { version: "v1" } },
        { name: "v2", labels: { version: "v2" } },
      ],
    },
  },
  {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: meta("hello-gateway"),
    spec: {
      selector: { istio: "ingressgateway" },
      servers: [{ port: { number: gatewayPort, name: "http", protocol: "HTTP" }, hosts: ["*"] }],
    },
  },
];
const routeTo = (subset: string) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: meta("hello"),
  spec: {
    hosts: ["*"],
    gateways: ["hello-gateway"],
    http: [{ route: [{ destination: { host: "hello.default.svc.cluster.local", subset } }] }],
  },
});

const cp = await createControlPlane({
  config: { objects: [...service, routeTo("v1")] },
  xds: { port: 0 },
  xdsTls: false,
  monitoring: false,
  logger: { level: "error" }, // "warn" would also log each rejected object as a JSON line
});
const gateway = await startSidecarAgent({
  envoy: await findEnvoy({ install: true }),
  discoveryAddress: cp.xdsAddress,
  type: "router",
  ip: "127.0.0.1",
  name: "ingressgateway",
  namespace: "istio-system",
  labels: { istio: "ingressgateway" },
  adminPort: 0,
  drainMs: 0,
  onLog: () => {}, // Envoy's own log lines (warnings and up)
});

/** GETs through the gateway until `expected` answers (Envoy applies each push within milliseconds). */
async function untilAnswer(expected: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const text = await fetch(`http://127.0.0.1:${gatewayPort}/`)
      .then((r) => r.text())
      .catch((error: Error) => error.message);
    if (text.includes(expected) || attempt === 300) return text.trim();
    await new Promise((r) => setTimeout(r, 100));
  }
}

try {
  await gateway.ready({ timeoutMs: 30_000 });
  console.log(`through the gateway: ${await untilAnswer("v1")}`);
  cp.apply(routeTo("v2")); // the same VirtualService, now to v2: validated, translated, pushed
  await cp.settled();
  console.log(`after cp.apply(): ${await untilAnswer("v2")}`);
  cp.apply({ ...routeTo("v1"), spec: { hosts: ["*"], gateways: ["hello-gateway"], http: [{}] } }); // no route
  await cp.settled();
  const [problem] = cp.status().diagnostics;
  console.log(`an invalid VirtualService is rejected: ${problem?.message}`);
  console.log(`and the last good one keeps serving: ${await untilAnswer("v2")}`);
} finally {
  await gateway.stop({ drainMs: 0 });
  await cp.close();
  v1.close();
  v2.close();
}
