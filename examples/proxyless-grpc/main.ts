// Proxyless gRPC routed by Istio YAML: a @grpc/grpc-js-xds client (no Envoy) dials xds:///echo.default.svc.cluster.local:7070
// and createControlPlane serves it what istiod would (an api_listener, routes, subset clusters, endpoints). A
// VirtualService sends jason to v2 and splits the rest 50/50; cp.apply() then moves everyone to v1, live.
// Run: node --conditions=source --import tsx examples/proxyless-grpc/main.ts
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { createControlPlane, grpcBootstrap } from "xdskit";
import { parseAllDocuments } from "yaml";

// A tiny gRPC service without .proto files: JSON on the wire, one method that says which version answered.
const WHO = "/example.Echo/Who";
const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value ?? {})),
  deserialize: (bytes: Buffer) => (bytes.length ? JSON.parse(bytes.toString()) : {}),
};

async function startEcho(version: string): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  const method = { path: WHO, requestStream: false, responseStream: false, originalName: "who" };
  server.addService(
    {
      Who: {
        ...method,
        requestSerialize: json.serialize,
        requestDeserialize: json.deserialize,
        responseSerialize: json.serialize,
        responseDeserialize: json.deserialize,
      },
    },
    { Who: (_call: unknown, reply: grpc.sendUnaryData<unknown>) => reply(null, { version }) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, server };
}

const v1 = await startEcho("v1");
const v2 = await startEcho("v2");

const mesh = `
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
`;

const cp = await createControlPlane({
  config: { objects: parseAllDocuments(mesh).map((d) => d.toJS()) },
  xds: { port: 0 },
  xdsTls: false,
  monitoring: false,
  logger: { level: "warn" },
});

// The client's bootstrap, in Istio's conventions; GENERATOR=grpc tells the control plane it is proxyless.
const bootstrap = grpcBootstrap({
  ip: "127.0.0.1",
  name: "echo-client",
  discoveryAddress: cp.xdsAddress,
  metadata: { GENERATOR: "grpc" },
}) as { node: Record<string, unknown> };
bootstrap.node.locality = {}; // grpc-js-xds requires the field, even empty
process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify(bootstrap);
grpcXds.register();

const client = new grpc.Client("xds:///echo.default.svc.cluster.local:7070", grpc.credentials.createInsecure());
function who(user?: string): Promise<string> {
  const metadata = new grpc.Metadata({ waitForReady: true });
  if (user) metadata.set("end-user", user);
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      WHO,
      json.serialize,
      json.deserialize,
      {},
      metadata,
      { deadline: Date.now() + 15_000 },
      (e, r) => (e ? reject(e) : resolve((r as { version: string }).version)),
    ),
  );
}
async function tally(calls: number, user?: string): Promise<string> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < calls; i++) {
    const version = await who(user);
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return Object.entries(counts)
    .sort()
    .map(([version, n]) => `${version}=${n}`)
    .join(" ");
}

try {
  console.log(`jason: ${await tally(10, "jason")}`);
  console.log(`others: ${await tally(40)}`);
  cp.apply({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: "echo", namespace: "default" },
    spec: { hosts: ["echo"], http: [{ route: [{ destination: { host: "echo", subset: "v1" } }] }] },
  });
  await cp.settled();
  // The client applies the push asynchronously: wait for the first v1 answer to jason, then count.
  for (let i = 0; i < 100 && (await who("jason")) !== "v1"; i++) await new Promise((r) => setTimeout(r, 100));
  console.log(`after cp.apply(), jason: ${await tally(10, "jason")}`);
} finally {
  client.close();
  await cp.close();
  v1.server.forceShutdown();
  v2.server.forceShutdown();
  process.exit(0); // the xDS client keeps its ADS channel and timers alive
}
