import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import {
  CREATE_CERTIFICATE_PATH,
  createCertificateAuthority,
  createCsr,
  generateKeyPair,
  writeWorkloadFiles,
} from "@xdskit/certs";
import {
  Cluster_DiscoveryType,
  DiscoveryRequest,
  DiscoveryResponse,
  DownstreamTlsContext,
  HttpConnectionManager,
  type Listener,
  type Node,
  packAny,
  resourceTypes,
} from "@xdskit/core";
import { IstioCertificateRequest, IstioCertificateResponse } from "@xdskit/core/services";
import type { AnyConfigObject } from "@xdskit/translate";
import { afterEach, describe, expect, it } from "vitest";
import { type SidecarAgent, startSidecarAgent } from "../agent/sidecar-agent.js";
import { type ControlPlane, createControlPlane } from "./control-plane.js";
import { createIstioTranslator } from "./istio-translator.js";
import type { MeshTranslator } from "./mesh-translator.js";

/** A small custom mesh: every ServiceEntry host and port becomes a STATIC cluster, for every proxy. */
function serviceEntryClusters() {
  let clusters: { name: string; type: Cluster_DiscoveryType; connectTimeout: { seconds: number; nanos: number } }[] =
    [];
  const updates: number[] = [];
  const translator: MeshTranslator = {
    update(objects: readonly AnyConfigObject[]) {
      updates.push(objects.length);
      clusters = objects.flatMap((o) =>
        o.kind === "ServiceEntry"
          ? (o.spec.hosts ?? []).flatMap((host) =>
              (o.spec.ports ?? []).map((p) => ({
                name: `outbound|${p.number}||${host}`,
                type: Cluster_DiscoveryType.STATIC,
                connectTimeout: { seconds: 1, nanos: 0 },
              })),
            )
          : [],
      );
      return [];
    },
    resourcesFor: (node: Node) => (node.id?.startsWith("sidecar~") ? { Cluster: clusters } : undefined),
  };
  return { translator, updates };
}

const serviceEntry = (name: string, hosts: unknown = [`${name}.default.svc.cluster.local`]) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "ServiceEntry",
  metadata: { name, namespace: "default" },
  spec: {
    hosts,
    location: "MESH_INTERNAL",
    resolution: "STATIC",
    ports: [{ number: 9080, name: "http", protocol: "HTTP" }],
  },
});

function logSink() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: { level: "debug", destination } };
}

const planes: ControlPlane[] = [];
const agents: SidecarAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop({ drainMs: 0 })));
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

describe("createControlPlane", () => {
  it("serves a real Envoy, pushes applied changes, rejects an invalid one and keeps the last good config", async () => {
    const { translator } = serviceEntryClusters();
    const log = logSink();
    const cp = await createControlPlane({
      translator,
      config: { objects: [serviceEntry("reviews")], debounceMs: 10 },
      xds: { port: 0 },
      xdsTls: { port: 0 },
      monitoring: { port: 0 },
      logger: log.logger,
    });
    planes.push(cp);
    const agent = await startSidecarAgent({
      ip: "127.0.0.1",
      name: "productpage-v1",
      labels: { app: "productpage" },
      discoveryAddress: cp.xdsAddress,
      adminPort: 0,
      onLog: () => {},
    });
    agents.push(agent);
    const clustersOfEnvoy = async () => {
      const text = await (await fetch(`${agent.adminUrl()}/clusters?format=json`)).text();
      return (JSON.parse(text).cluster_statuses as { name: string }[])
        .map((c) => c.name)
        .filter((n) => n.startsWith("outbound"));
    };
    const applied = async () => {
      await cp.settled();
      const snapshot = cp.cache.getSnapshot(agent.nodeId);
      expect(snapshot).toBeDefined();
      await cp.cache.awaitApplied(agent.nodeId, snapshot?.version ?? "", { timeoutMs: 15_000 });
      await agent.ready();
    };
    // wait for the proxy to connect and take the first config
    for (let i = 0; i < 600 && !cp.cache.getSnapshot(agent.nodeId); i++) await new Promise((r) => setTimeout(r, 25));
    await applied();
    expect(await clustersOfEnvoy()).toEqual(["outbound|9080||reviews.default.svc.cluster.local"]);

    cp.apply(serviceEntry("ratings"));
    await applied();
    expect((await clustersOfEnvoy()).sort()).toEqual([
      "outbound|9080||ratings.default.svc.cluster.local",
      "outbound|9080||reviews.default.svc.cluster.local",
    ]);

    // An invalid version of ratings is rejected: Envoy keeps both clusters, the diagnostics say why.
    const before = cp.cache.getSnapshot(agent.nodeId)?.version;
    cp.apply(serviceEntry("ratings", 5));
    await cp.settled();
    expect(cp.cache.getSnapshot(agent.nodeId)?.version).toBe(before);
    expect(cp.status().diagnostics.map((d) => `${d.severity} ${d.kind} ${d.name}`)).toEqual([
      "error ServiceEntry ratings",
    ]);
    expect(log.lines.some((l) => l.msg === "config rejected; the last good version keeps being served")).toBe(true);

    cp.delete({ kind: "ServiceEntry", namespace: "default", name: "reviews" });
    await applied();
    expect(await clustersOfEnvoy()).toEqual(["outbound|9080||ratings.default.svc.cluster.local"]);

    const syncz = JSON.parse(await (await fetch(`${cp.monitoring?.url}/debug/syncz`)).text());
    expect(syncz[0]).toMatchObject({ proxy: agent.nodeId, types: { CDS: { state: "SYNCED" } } });
    const metrics = await (await fetch(`${cp.monitoring?.url}/metrics`)).text();
    expect(metrics).toMatch(/^pilot_total_rejected_configs 1$/m);
    expect(metrics).toMatch(/^pilot_xds 1$/m);
    expect(cp.status().proxies.map((p) => p.proxy)).toEqual([agent.nodeId]);
    const dump = JSON.parse(
      await (await fetch(`${cp.monitoring?.url}/debug/config_dump?proxy=${encodeURIComponent(agent.nodeId)}`)).text(),
    );
    expect(dump.resources.Cluster.map((c: { name: string }) => c.name)).toEqual([
      "outbound|9080||ratings.default.svc.cluster.local",
    ]);
    expect(log.lines.some((l) => l.msg === "proxy connected" && l.proxy === agent.nodeId)).toBe(true);
  });

  it("watches a config directory: edits are taken after the debounce; close frees its ports", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-cp-"));
    try {
      fs.writeFileSync(path.join(dir, "mesh.yaml"), JSON.stringify(serviceEntry("reviews")));
      const { translator, updates } = serviceEntryClusters();
      const cp = await createControlPlane({
        translator,
        config: { path: dir, debounceMs: 20 },
        xds: { port: 0 },
        xdsTls: { port: 0 },
        monitoring: { port: 0 },
        logger: { level: "silent" },
      });
      expect(cp.status()).toMatchObject({ objects: 1, diagnostics: [] });
      fs.writeFileSync(path.join(dir, "more.yaml"), JSON.stringify(serviceEntry("details")));
      for (let i = 0; i < 400 && cp.status().objects < 2; i++) await new Promise((r) => setTimeout(r, 25));
      await cp.settled();
      expect(cp.status().objects).toBe(2);
      expect(updates.at(-1)).toBe(2);
      const ports = cp.ports;
      await cp.close();
      const again = await createControlPlane({
        translator,
        xds: { port: ports.xds },
        xdsTls: { port: ports.xdsTls },
        monitoring: { port: ports.monitoring },
        logger: { level: "silent" },
      });
      planes.push(again);
      expect(again.ports).toEqual(ports);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad options at the door and fails fast on a missing config path", async () => {
    const { translator } = serviceEntryClusters();
    await expect(createControlPlane({ translator: {} as never })).rejects.toThrow(
      "options.translator must have update() and resourcesFor()",
    );
    await expect(createControlPlane({ translator, ca: false, xds: { port: -1 } })).rejects.toThrow(
      "xds.port must be 0..65535",
    );
    await expect(
      createControlPlane({
        translator,
        config: { path: "/no/such/dir" },
        xds: { port: 0 },
        xdsTls: false,
        monitoring: false,
        logger: { level: "silent" },
      }),
    ).rejects.toThrow("config path /no/such/dir does not exist");
    await expect(createControlPlane({ translator, xdsTls: { csrWorkers: -1 } })).rejects.toThrow(
      "createControlPlane: xdsTls.csrWorkers must be a whole number from 0 to 64, got -1",
    );
    const ca = await createCertificateAuthority();
    await expect(createControlPlane({ translator, ca, xdsTls: { csrWorkers: 2 } })).rejects.toThrow(
      "xdsTls.csrWorkers needs ca to be options, not a ready CA",
    );
  });
});

describe("createControlPlane: the CA on istiod's port 15012", () => {
  for (const csrWorkers of [0, 2])
    it(`signs a workload's CSR over TLS for the identity its token proves, and counts it (CSRs read ${csrWorkers ? "in worker threads" : "on the gRPC thread"})`, async () => {
      const cp = await createControlPlane({
        translator: serviceEntryClusters().translator,
        xds: { port: 0 },
        xdsTls: {
          port: 0,
          csrWorkers,
          verifyToken: ({ token }) =>
            token === "reviews-token" ? "spiffe://cluster.local/ns/default/sa/bookinfo-reviews" : undefined,
        },
        monitoring: { port: 0 },
        logger: { level: "silent" },
      });
      planes.push(cp);
      const roots = cp.ca?.trustBundle.join("") ?? "";
      const client = new grpc.Client(
        `127.0.0.1:${cp.ports.xdsTls}`,
        grpc.credentials.createSsl(Buffer.from(roots), null, null, { checkServerIdentity: () => undefined }),
      );
      const pair = await generateKeyPair("ECDSA_P256");
      const csr = createCsr("spiffe://cluster.local/ns/default/sa/bookinfo-reviews", pair.privateKey, pair.publicKey);
      const call = (token: string, request = csr) =>
        new Promise<IstioCertificateResponse>((resolve, reject) => {
          const metadata = new grpc.Metadata();
          metadata.add("authorization", `Bearer ${token}`);
          client.makeUnaryRequest(
            CREATE_CERTIFICATE_PATH,
            (value: IstioCertificateRequest) => Buffer.from(IstioCertificateRequest.encode(value).finish()),
            (bytes: Buffer) => IstioCertificateResponse.decode(bytes),
            { csr: request, validityDuration: 3600 } as IstioCertificateRequest,
            metadata,
            (error, response) => (error ? reject(error) : resolve(response as IstioCertificateResponse)),
          );
        });
      try {
        const response = await call("reviews-token");
        const leaf = new X509Certificate(response.certChain?.[0] ?? "");
        expect(leaf.subjectAltName).toBe("URI:spiffe://cluster.local/ns/default/sa/bookinfo-reviews");
        expect(leaf.verify(new X509Certificate(roots).publicKey)).toBe(true); // issued by the control plane's root
        await expect(call("stolen-token")).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
        await expect(call("reviews-token", "not a csr")).rejects.toMatchObject({
          code: grpc.status.INVALID_ARGUMENT,
          details: 'malformed CSR: expected one PEM block "CERTIFICATE REQUEST", found 0',
        });
        const metrics = await (await fetch(`${cp.monitoring?.url}/metrics`)).text();
        expect(metrics).toMatch(/^citadel_server_success_cert_issuance_count 1$/m);
      } finally {
        client.close();
      }
    });
});

/** One TLS listener whose certificate and roots are the SDS secrets `default` and `ROOTCA`, over ADS. */
function sdsListenerMesh(): MeshTranslator {
  const sds = (name: string) => ({ name, sdsConfig: { ads: {} } });
  const listener: Listener = {
    name: "inbound_tls",
    address: { socketAddress: { address: "127.0.0.1", portValue: 0 } },
    filterChains: [
      {
        transportSocket: {
          name: "envoy.transport_sockets.tls",
          typedConfig: packAny(
            "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            DownstreamTlsContext,
            DownstreamTlsContext.fromPartial({
              commonTlsContext: {
                tlsCertificateSdsSecretConfigs: [sds("default")],
                validationContextSdsSecretConfig: sds("ROOTCA"),
              },
            }),
          ),
        },
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typedConfig: packAny(
              "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
              HttpConnectionManager,
              HttpConnectionManager.fromPartial({
                statPrefix: "inbound_tls",
                routeConfig: { name: "local", virtualHosts: [{ name: "all", domains: ["*"], routes: [] }] },
                httpFilters: [
                  {
                    name: "envoy.filters.http.router",
                    typedConfig: { typeUrl: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
                  },
                ],
              }),
            ),
          },
        ],
      },
    ],
  };
  return { update: () => [], resourcesFor: () => ({ Listener: [listener] }) };
}

describe("createControlPlane: an agent on 15012 with a workload certificate", () => {
  it("connects Envoy over mTLS, serves it its secrets by the proven identity, and follows new certificate files", async () => {
    const cp = await createControlPlane({
      translator: sdsListenerMesh(),
      xds: { port: 0 },
      xdsTls: { port: 0 },
      workloadCertificates: { plaintext: false }, // secrets only to an identity its client certificate proves
      monitoring: false,
      logger: { level: "silent" },
    });
    planes.push(cp);
    const ca = cp.ca;
    if (!ca) throw new Error("no CA");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-xds-tls-"));
    const identity = { namespace: "default", serviceAccount: "bookinfo-productpage" };
    await writeWorkloadFiles(dir, await ca.issue(identity));
    const agent = await startSidecarAgent({
      ip: "127.0.0.1",
      name: "productpage-v1",
      ...identity,
      labels: { app: "productpage" },
      discoveryAddress: `127.0.0.1:${cp.ports.xdsTls}`,
      xdsTls: { certificateDir: dir },
      adminPort: 0,
      onLog: () => {},
    });
    agents.push(agent);
    await agent.ready();
    const certs = async () => {
      const dump = (await (await fetch(`${agent.adminUrl()}/certs`)).json()) as {
        certificates: { cert_chain?: { path: string; serial_number: string }[] }[];
      };
      return dump.certificates.flatMap((c) => c.cert_chain ?? []);
    };
    const until = async (what: string, test: () => Promise<boolean>) => {
      for (let i = 0; i < 600; i++) {
        if (await test()) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`never: ${what}; Envoy's /certs: ${JSON.stringify(await certs())}`);
    };
    const serial = (pem: string | undefined) => new X509Certificate(pem ?? "").serialNumber.toLowerCase();
    // The listener's `default` came over the mTLS stream: only a proven identity gets secrets here.
    await until("the listener presents the certificate the control plane issued", async () => {
      const served = cp.workloadCertificate(agent.nodeId);
      return served !== undefined && (await certs()).some((c) => c.serial_number === serial(served.certChain[0]));
    });
    expect(cp.workloadCertificate(agent.nodeId)?.spiffeId).toBe(
      "spiffe://cluster.local/ns/default/sa/bookinfo-productpage",
    );
    // A renewed xDS client certificate written over the files is what Envoy's xDS cluster holds next.
    const renewed = await ca.issue(identity);
    await writeWorkloadFiles(dir, renewed);
    await until("Envoy's xDS client certificate is the renewed file", async () =>
      (await certs()).some((c) => c.serial_number === serial(renewed.certChain[0])),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("createControlPlane: an agent that gets its own 15012 certificate with a token", () => {
  it("fetches its certificate with CreateCertificate, connects Envoy over mTLS with it, and renews it in Envoy", async () => {
    const identity = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage";
    const cp = await createControlPlane({
      translator: sdsListenerMesh(),
      xds: { port: 0 },
      xdsTls: {
        port: 0,
        verifyToken: ({ token }) => (token === "productpage-token" ? identity : undefined),
      },
      workloadCertificates: { plaintext: false }, // secrets only to an identity its client certificate proves
      monitoring: false,
      logger: { level: "silent" },
    });
    planes.push(cp);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-agent-token-"));
    const rootCertFile = path.join(dir, "root-cert.pem");
    fs.writeFileSync(rootCertFile, cp.ca?.trustBundle.join("") ?? "");
    fs.writeFileSync(path.join(dir, "token"), "productpage-token\n");
    const workload = {
      ip: "127.0.0.1",
      name: "productpage-v1",
      namespace: "default",
      serviceAccount: "bookinfo-productpage",
      labels: { app: "productpage" },
      discoveryAddress: `127.0.0.1:${cp.ports.xdsTls}`,
      adminPort: 0,
      onLog: () => {},
    };
    // A refused token stops the start with the CA's reason, before Envoy runs.
    fs.writeFileSync(path.join(dir, "bad-token"), "guessed\n");
    await expect(
      startSidecarAgent({
        ...workload,
        xdsTls: { certificateDir: dir, tokenFile: path.join(dir, "bad-token"), rootCertFile },
      }),
    ).rejects.toThrow(
      /^agent for productpage-v1: no xDS client certificate for spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-productpage: the CA at 127\.0\.0\.1:\d+ refused the agent's credentials \(UNAUTHENTICATED\): bearer token refused$/,
    );

    const agent = await startSidecarAgent({
      ...workload,
      xdsTls: { certificateDir: dir, tokenFile: path.join(dir, "token"), rootCertFile, ttlSeconds: 6 },
    });
    agents.push(agent);
    const fetched = agent.certificate();
    expect(fetched?.spiffeId).toBe(identity);
    await agent.ready();
    const certs = async () => {
      const dump = (await (await fetch(`${agent.adminUrl()}/certs`)).json()) as {
        certificates: { cert_chain?: { serial_number: string }[] }[];
      };
      return dump.certificates.flatMap((c) => c.cert_chain ?? []).map((c) => c.serial_number);
    };
    const until = async (what: string, test: () => Promise<boolean>) => {
      for (let i = 0; i < 600; i++) {
        if (await test()) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`never: ${what}; Envoy's /certs: ${JSON.stringify(await certs())}`);
    };
    // Envoy's xDS cluster holds the fetched certificate, and the mTLS stream proved the identity: the listener got
    // its `default` secret, which the control plane serves only to a proven identity here.
    await until("Envoy holds the fetched certificate", async () =>
      (await certs()).includes(fetched?.serialNumber ?? "?"),
    );
    const served = () => cp.workloadCertificate(agent.nodeId);
    await until("the listener presents the control plane's workload certificate", async () => {
      const certificate = served();
      return (
        certificate !== undefined &&
        (await certs()).includes(new X509Certificate(certificate.certChain[0] ?? "").serialNumber.toLowerCase())
      );
    });
    // At about half of its 6 s lifetime the agent renews it; Envoy's xDS cluster takes the new files.
    await until("the agent renewed", async () => agent.certificate()?.serialNumber !== fetched?.serialNumber);
    const renewed = agent.certificate()?.serialNumber ?? "?";
    await until("Envoy holds the renewed certificate", async () => (await certs()).includes(renewed));
    fs.rmSync(dir, { recursive: true, force: true });
  }, 40_000);
});

describe("createControlPlane with Istio's translation", () => {
  const ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
  const sidecarNode = (namespace: string, pod: string, ip: string): Node => ({
    id: `sidecar~${ip}~${pod}.${namespace}~${namespace}.svc.cluster.local`,
  });
  const mesh = (namespace: string) => [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace },
      spec: { selector: { app: "web" }, clusterIP: "10.96.0.1", ports: [{ name: "http", port: 9080 }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Sidecar",
      metadata: { name: "default", namespace },
      spec: { egress: [{ hosts: ["./*"] }] },
    },
  ];
  const pod = (namespace: string, name: string, ip: string) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { app: "web" } },
    spec: { containers: [{ name: "app", ports: [{ containerPort: 9080 }] }] },
    status: { podIP: ip },
  });

  it("pushes a change of one namespace's endpoints to that namespace's proxies only, other snapshots untouched", async () => {
    // Istio's translator, recording which proxies the control plane asks for after the first push.
    const istio = createIstioTranslator();
    const asked: string[] = [];
    const translator: MeshTranslator = {
      update: (objects) => istio.update(objects),
      resourcesFor: (node) => {
        asked.push(node.id ?? "");
        return istio.resourcesFor(node);
      },
      changedProxies: () => istio.changedProxies(),
      disconnect: (node) => istio.disconnect(node),
    };
    const cp = await createControlPlane({
      translator,
      config: {
        objects: [
          ...mesh("a"),
          ...mesh("b"),
          pod("a", "a-1", "10.1.0.1"),
          pod("b", "b-1", "10.2.0.1"),
          pod("b", "b-2", "10.2.0.2"),
        ],
        debounceMs: 10,
      },
      xds: { port: 0 },
      ca: false,
      monitoring: false,
      logger: logSink().logger,
    });
    planes.push(cp);
    const nodes = [
      sidecarNode("a", "a-1", "10.1.0.1"),
      sidecarNode("b", "b-1", "10.2.0.1"),
      sidecarNode("b", "b-2", "10.2.0.2"),
    ];
    // Raw ADS streams: each proxy asks for clusters and is kept connected until the end.
    const client = new grpc.Client(cp.xdsAddress, grpc.credentials.createInsecure());
    const calls = nodes.map((node) => {
      const call = client.makeBidiStreamRequest(
        ADS,
        (value: DiscoveryRequest) => Buffer.from(DiscoveryRequest.encode(value).finish()),
        (bytes: Buffer) => DiscoveryResponse.decode(bytes),
      );
      call.on("error", () => {});
      const first = new Promise<DiscoveryResponse>((resolve) => call.once("data", resolve));
      call.write({ node, typeUrl: resourceTypes.Cluster.typeUrl, resourceNames: [] });
      return { call, first };
    });
    try {
      const firstResponses = await Promise.all(calls.map((c) => c.first));
      // the three fixed clusters, the inbound one, and the namespace's own service
      expect(firstResponses.map((r) => r.resources?.length)).toEqual([5, 5, 5]);
      const before = nodes.map((n) => cp.cache.getSnapshot(n.id ?? ""));
      expect(before.every((s) => s !== undefined)).toBe(true);
      const pushes = cp.status().pushes;
      asked.length = 0;

      cp.apply(pod("a", "a-2", "10.1.0.2")); // a second endpoint of a/web: only namespace a sees it
      await cp.settled();
      expect(cp.status().pushes).toBe(pushes + 1);
      const after = nodes.map((n) => cp.cache.getSnapshot(n.id ?? ""));
      expect(after[0]?.version).not.toBe(before[0]?.version);
      const assignment = after[0]
        ?.resourcesOf(resourceTypes.ClusterLoadAssignment.typeUrl)
        .get("outbound|9080||web.a.svc.cluster.local")?.resource as
        | { endpoints?: { lbEndpoints?: unknown[] }[] }
        | undefined;
      expect(assignment?.endpoints?.[0]?.lbEndpoints).toHaveLength(2);
      expect(asked).toEqual([nodes[0]?.id]); // b's proxies were not translated again
      expect(after[1]).toBe(before[1]);
      expect(after[2]).toBe(before[2]);

      cp.apply({ ...mesh("b")[0], spec: { ...mesh("b")[0]?.spec, ports: [{ name: "http", port: 9081 }] } });
      await cp.settled();
      const last = nodes.map((n) => cp.cache.getSnapshot(n.id ?? ""));
      expect(last[0]).toBe(after[0]);
      expect(last[1]?.version).not.toBe(after[1]?.version);
      expect(last[2]?.version).toBe(last[1]?.version); // two replicas, one view
    } finally {
      for (const { call } of calls) call.cancel();
      client.close();
    }
  });
});
