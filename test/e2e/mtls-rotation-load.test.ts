// Issue 10, rotation under load: two Envoy sidecars bootstrapped by the sidecar agent, their mTLS certificates
// issued and renewed by createControlPlane over SDS on their ADS streams, and a load generator sending requests
// through the client sidecar → (mTLS) → server sidecar → backend hop the whole time. With a 6 s leaf lifetime
// both Envoys' /certs show renewed serials, then a staged root rotation runs (new root added to ROOTCA, leaves
// re-issued from it, old root dropped); no request may fail. Connections to the server sidecar are recycled every
// few requests, so handshakes with the new certificates happen throughout. Only failures are counted, never
// latency: the machine may be busy.
import { X509Certificate } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  type Cluster,
  Cluster_DiscoveryType,
  DownstreamTlsContext,
  HttpConnectionManager,
  HttpProtocolOptions,
  type Listener,
  type Node,
  packAny,
  UpstreamTlsContext,
} from "@xdskit/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SidecarAgent, startSidecarAgent } from "../../packages/xdskit/src/agent/sidecar-agent.js";
import { type ControlPlane, createControlPlane } from "../../packages/xdskit/src/control-plane/control-plane.js";
import type { MeshTranslator } from "../../packages/xdskit/src/control-plane/mesh-translator.js";
import { envoyBinary } from "../harness/envoy.js";
import {
  adsConfigSource,
  HCM_TYPE,
  HTTP_PROTOCOL_OPTIONS_TYPE,
  routerFilter,
  socketAddress,
} from "../harness/envoy-config.js";
import { freePort } from "../harness/ports.js";

const CLIENT_ID = "spiffe://cluster.local/ns/shop/sa/client";
const SERVER_ID = "spiffe://cluster.local/ns/shop/sa/server";
const LEAF_TTL_SECONDS = 6;
const TLS_SOCKET = "envoy.transport_sockets.tls";
/** SubjectAltNameMatcher.SanType URI, and HttpConnectionManager.ForwardClientCertDetails SANITIZE_SET. */
const SAN_URI = 3;
const SANITIZE_SET = 3;
const sds = (name: string) => ({ name, sdsConfig: adsConfigSource() });

function hcm(statPrefix: string, cluster: string, extra: Partial<HttpConnectionManager> = {}) {
  return {
    name: "envoy.filters.network.http_connection_manager",
    typedConfig: packAny(
      HCM_TYPE,
      HttpConnectionManager,
      HttpConnectionManager.fromPartial({
        statPrefix,
        routeConfig: {
          name: statPrefix,
          virtualHosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster } }] }],
        },
        httpFilters: [routerFilter()],
        ...extra,
      }),
    ),
  };
}

function staticCluster(name: string, port: number, extra: Partial<Cluster> = {}): Cluster {
  return {
    name,
    type: Cluster_DiscoveryType.STATIC,
    connectTimeout: { seconds: 5, nanos: 0 },
    loadAssignment: {
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: socketAddress("127.0.0.1", port) } }] }],
    },
    ...extra,
  };
}

/**
 * The mesh, written by hand as istiod would for ISTIO_MUTUAL: the client sidecar's outbound listener routes to a
 * cluster that presents `default` and verifies the server's SPIFFE id against `ROOTCA`; the server sidecar's
 * inbound listener requires a client certificate the same way and tells the backend who called (XFCC).
 */
function handWrittenMesh(ports: { outbound: number; inbound: number; backend: number }): MeshTranslator {
  const upstreamTls = UpstreamTlsContext.fromPartial({
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [sds("default")],
      combinedValidationContext: {
        defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: SAN_URI, matcher: { exact: SERVER_ID } }] },
        validationContextSdsSecretConfig: sds("ROOTCA"),
      },
    },
  });
  const downstreamTls = DownstreamTlsContext.fromPartial({
    requireClientCertificate: true,
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [sds("default")],
      combinedValidationContext: {
        defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: SAN_URI, matcher: { exact: CLIENT_ID } }] },
        validationContextSdsSecretConfig: sds("ROOTCA"),
      },
    },
  });
  const client = {
    Listener: [
      {
        name: "outbound",
        address: socketAddress("127.0.0.1", ports.outbound),
        filterChains: [{ filters: [hcm("outbound", "server-mtls")] }],
      } satisfies Listener,
    ],
    Cluster: [
      staticCluster("server-mtls", ports.inbound, {
        transportSocket: {
          name: TLS_SOCKET,
          typedConfig: packAny(
            "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            UpstreamTlsContext,
            upstreamTls,
          ),
        },
        // A new connection (and handshake) every few requests, so new certificates are used while load runs.
        typedExtensionProtocolOptions: {
          [HTTP_PROTOCOL_OPTIONS_TYPE]: packAny(
            HTTP_PROTOCOL_OPTIONS_TYPE,
            HttpProtocolOptions,
            HttpProtocolOptions.fromPartial({
              commonHttpProtocolOptions: { maxRequestsPerConnection: 5 },
              explicitHttpConfig: { httpProtocolOptions: {} },
            }),
          ),
        },
      }),
    ],
  };
  const server = {
    Listener: [
      {
        name: "inbound",
        address: socketAddress("127.0.0.1", ports.inbound),
        filterChains: [
          {
            transportSocket: {
              name: TLS_SOCKET,
              typedConfig: packAny(
                "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                DownstreamTlsContext,
                downstreamTls,
              ),
            },
            filters: [
              hcm("inbound", "backend", {
                forwardClientCertDetails: SANITIZE_SET,
                setCurrentClientCertDetails: { uri: true },
              }),
            ],
          },
        ],
      } satisfies Listener,
    ],
    Cluster: [staticCluster("backend", ports.backend)],
  };
  return {
    update: () => [],
    resourcesFor: (node: Node) => {
      const account = (node.metadata as Record<string, unknown> | undefined)?.SERVICE_ACCOUNT;
      return account === "client" ? client : account === "server" ? server : undefined;
    },
  };
}

/** What an Envoy's /certs shows: the serials of its workload certificate chain's leaf and of the roots it trusts. */
async function certsOf(agent: SidecarAgent): Promise<{ leaves: string[]; roots: string[] }> {
  const response = await fetch(`${agent.adminUrl()}/certs`);
  const dump = (await response.json()) as {
    certificates: { ca_cert?: { serial_number: string }[]; cert_chain?: { serial_number: string }[] }[];
  };
  return {
    leaves: dump.certificates.flatMap((c) => (c.cert_chain ?? []).slice(0, 1).map((e) => e.serial_number)),
    roots: dump.certificates.flatMap((c) => (c.ca_cert ?? []).map((e) => e.serial_number)),
  };
}

// Envoy's /certs writes serials in lowercase hex.
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase();

/** Requests through the client sidecar from `concurrency` keep-alive workers until stopped. */
function startLoad(port: number, concurrency = 4) {
  const failures: string[] = [];
  let ok = 0;
  let stopped = false;
  const one = (agent: http.Agent) =>
    new Promise<void>((resolve) => {
      const request = http.get({ host: "127.0.0.1", port, path: "/", agent, timeout: 30_000 }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () => {
          // The backend echoes the XFCC header the server sidecar set: who called (URI) and who answered (By).
          if (response.statusCode === 200 && body.includes(`By=${SERVER_ID};`) && body.includes(`URI=${CLIENT_ID}`))
            ok++;
          else failures.push(`status ${response.statusCode}: ${body.slice(0, 200)}`);
          resolve();
        });
        response.on("error", (error) => {
          failures.push(error.message);
          resolve();
        });
      });
      request.on("timeout", () => request.destroy(new Error("no answer in 30 s")));
      request.on("error", (error) => {
        failures.push(error.message);
        resolve();
      });
    });
  const workers = Array.from({ length: concurrency }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (!stopped) await one(agent);
    agent.destroy();
  });
  return {
    failures,
    ok: () => ok,
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

async function waitUntil(what: string, test: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("mTLS certificate rotation under load (control plane → SDS → Envoy sidecars)", () => {
  let cp: ControlPlane;
  let backend: http.Server;
  const agents: Record<"client" | "server", SidecarAgent> = {} as never;
  let outbound: number;
  const envoyLogs: string[] = [];

  beforeAll(async () => {
    backend = http.createServer((request, response) => {
      response.end(String(request.headers["x-forwarded-client-cert"] ?? "(no XFCC)"));
    });
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    outbound = await freePort();
    const inbound = await freePort();
    cp = await createControlPlane({
      translator: handWrittenMesh({ outbound, inbound, backend: (backend.address() as AddressInfo).port }),
      xds: { port: 0 },
      xdsTls: false,
      monitoring: false,
      logger: { level: "silent" },
      workloadCertificates: { ttlSeconds: LEAF_TTL_SECONDS },
    });
    const envoy = (await envoyBinary()).path;
    for (const account of ["client", "server"] as const)
      agents[account] = await startSidecarAgent({
        ip: "127.0.0.1",
        name: `${account}-1`,
        namespace: "shop",
        serviceAccount: account,
        labels: { app: account },
        discoveryAddress: cp.xdsAddress,
        adminPort: 0,
        envoy,
        drainMs: 0,
        onLog: (line) => void envoyLogs.push(`[${account}] ${line}`),
      });
    await Promise.all(Object.values(agents).map((agent) => agent.ready({ timeoutMs: 30_000 })));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(Object.values(agents).map((agent) => agent.stop({ drainMs: 0 })));
    await cp?.close();
    backend?.close();
  });

  /** The serial of the certificate the control plane serves this sidecar now. */
  const servedSerial = (account: "client" | "server") => {
    const certificate = cp.workloadCertificate(agents[account].nodeId);
    return certificate ? serialOf(certificate.certChain[0] as string) : "";
  };
  const bothEnvoys = async (
    test: (certs: { leaves: string[]; roots: string[] }, account: "client" | "server") => boolean,
  ) =>
    (await Promise.all((["client", "server"] as const).map(async (a) => test(await certsOf(agents[a]), a)))).every(
      Boolean,
    );

  it("leaf certificates renew at half lifetime while requests flow: new serials in /certs, none failed", async () => {
    await waitUntil("both Envoys to hold the served certificates", () =>
      bothEnvoys((certs, account) => certs.leaves.includes(servedSerial(account))),
    );
    const load = startLoad(outbound);
    try {
      await waitUntil("50 requests through the mTLS hop", () => load.ok() >= 50 || load.failures.length > 0);
      const first = { client: servedSerial("client"), server: servedSerial("server") };
      // Renewed by the control plane (at ~3 s of 6 s) and taken by Envoy: /certs shows the new serial.
      await waitUntil("both Envoys' /certs to show a renewed leaf", () =>
        bothEnvoys((certs, account) => {
          const now = servedSerial(account);
          return now !== first[account] && certs.leaves.includes(now) && !certs.leaves.includes(first[account]);
        }),
      );
      const target = load.ok() + 50;
      await waitUntil("50 more requests", () => load.ok() >= target || load.failures.length > 0);
    } finally {
      await load.stop();
    }
    expect(load.failures.slice(0, 5)).toEqual([]);
    expect(load.ok()).toBeGreaterThanOrEqual(100);
  }, 60_000);

  it("a staged root rotation (add the new root, re-issue leaves from it, drop the old root) fails no request", async () => {
    const ca = cp.ca;
    if (!ca) throw new Error("the control plane has no CA");
    const oldRoot = serialOf(ca.trustBundle[0] as string);
    const load = startLoad(outbound);
    const steady = async (step: string) => {
      const target = load.ok() + 30;
      await waitUntil(`30 requests ${step}`, () => load.ok() >= target || load.failures.length > 0);
    };
    try {
      await steady("before the rotation");

      await ca.stageRoot();
      const newRoot = serialOf(ca.trustBundle[1] as string);
      await waitUntil("both Envoys to trust both roots", () =>
        bothEnvoys((certs) => certs.roots.includes(oldRoot) && certs.roots.includes(newRoot)),
      );
      await steady("with the new root staged");

      await ca.activateStagedRoot();
      const issuedByNewRoot = (account: "client" | "server") =>
        cp.workloadCertificate(agents[account].nodeId)?.certChain.at(-1) === ca.trustBundle[0];
      expect(serialOf(ca.trustBundle[0] as string)).toBe(newRoot);
      await waitUntil("both Envoys to present leaves of the new root", () =>
        bothEnvoys(
          (certs, account) =>
            issuedByNewRoot(account) && certs.leaves.length === 1 && certs.leaves[0] === servedSerial(account),
        ),
      );
      await steady("with leaves of the new root");

      await ca.retirePreviousRoots();
      await waitUntil("both Envoys to drop the old root", () =>
        bothEnvoys((certs) => certs.roots.length > 0 && certs.roots.every((root) => root === newRoot)),
      );
      await steady("after the old root was dropped");
    } finally {
      await load.stop();
    }
    expect(load.failures.slice(0, 5)).toEqual([]);
    expect(load.ok()).toBeGreaterThanOrEqual(120);
  }, 60_000);
});
