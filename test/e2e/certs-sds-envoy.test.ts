// Envoy gets its workload certificate over SDS from xdskit: the xDS connection itself is mTLS with a
// bootstrap certificate from the CA (so the Secret authorizer knows who Envoy is), the listener's TLS
// context names the secrets `default` and `ROOTCA` as istiod names them, and a new certificate in the cache
// reaches Envoy's /certs and the handshakes of new connections.
import { writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createSecretAuthorizer,
  createWorkloadAuthenticator,
  type IssuedCertificate,
  identityOfNode,
  workloadSecrets,
} from "@xdskit/certs";
import {
  ApiConfigSource_ApiType,
  ApiVersion,
  Bootstrap,
  createSnapshot,
  createSnapshotCache,
  DownstreamTlsContext,
  HttpConnectionManager,
  type Listener,
  packAny,
  UpstreamTlsContext,
} from "@xdskit/core";
import { createXdsServer, type XdsServer } from "@xdskit/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverCredentials } from "../../packages/certs/src/testing/grpc.js";
import { tempDir } from "../../packages/certs/src/testing/openssl.js";
import { type EnvoyHandle, startEnvoy } from "../harness/envoy.js";
import { bootstrapToJson, HCM_TYPE, routerFilter, socketAddress, staticCluster } from "../harness/envoy-config.js";

const LISTENER = "mtls_in";
const NODE_ID = "sidecar~127.0.0.1~cart-1.shop~shop.svc.cluster.local";
const CART = "spiffe://cluster.local/ns/shop/sa/cart";
const TLS_SOCKET = "envoy.transport_sockets.tls";
const sdsFromAds = { ads: {}, resourceApiVersion: ApiVersion.V3 };

let ca: CertificateAuthority;
let server: XdsServer;
let envoy: EnvoyHandle;
let client: IssuedCertificate;
const events: string[] = [];
const cache = createSnapshotCache({ nodeHash: (node) => identityOfNode(node, "cluster.local") ?? "" });

/** A TLS listener (client certificates required) whose certificate and trust come over SDS; answers 200. */
function mtlsListener(): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: LISTENER,
    routeConfig: {
      name: "local",
      virtualHosts: [
        {
          name: "all",
          domains: ["*"],
          routes: [
            { match: { prefix: "/" }, directResponse: { status: 200, body: { inlineString: "hello over mTLS" } } },
          ],
        },
      ],
    },
    httpFilters: [routerFilter()],
  });
  const tls = DownstreamTlsContext.fromPartial({
    requireClientCertificate: true,
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [{ name: "default", sdsConfig: sdsFromAds }],
      validationContextSdsSecretConfig: { name: "ROOTCA", sdsConfig: sdsFromAds },
    },
  });
  return {
    name: LISTENER,
    address: socketAddress("127.0.0.1", 0),
    filterChains: [
      {
        transportSocket: {
          name: TLS_SOCKET,
          typedConfig: packAny(
            "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            DownstreamTlsContext,
            tls,
          ),
        },
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

function publish(certificate: IssuedCertificate): void {
  cache.setSnapshot(
    CART,
    createSnapshot({ resources: { Listener: [mtlsListener()], Secret: workloadSecrets(certificate) } }),
  );
}

/** One HTTPS request through Envoy's listener; returns the status and the serial of the certificate Envoy presented. */
function call(
  port: number,
  identity: IssuedCertificate | undefined,
  roots = ca.trustBundle,
): Promise<{ status: number; serial: string; san: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        ca: roots.join(""),
        ...(identity ? { cert: identity.certChain.join(""), key: identity.privateKey } : {}),
        checkServerIdentity: () => undefined,
        agent: false,
      },
      (response) => {
        const peer = (response.socket as import("node:tls").TLSSocket).getPeerCertificate();
        response.resume();
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, serial: peer.serialNumber, san: peer.subjectaltname ?? "" }),
        );
      },
    );
    request.on("error", reject);
    request.end();
  });
}

beforeAll(async () => {
  ca = await createCertificateAuthority();
  const [bootstrapCertificate, serving] = await Promise.all([
    ca.issue({ namespace: "shop", serviceAccount: "cart" }),
    ca.issue({ namespace: "istio-system", serviceAccount: "istiod" }),
  ]);
  client = await ca.issue({ namespace: "shop", serviceAccount: "web" });
  publish(await ca.issue({ namespace: "shop", serviceAccount: "cart" }));
  server = createXdsServer({
    cache,
    credentials: serverCredentials(serving, ca.trustBundle.join("")),
    authenticate: createWorkloadAuthenticator(ca),
    authorize: createSecretAuthorizer(),
    callbacks: {
      onResponse: (info) =>
        void events.push(`response ${info.typeUrl.split(".").pop()} ${info.version} [${info.resourceNames.join(",")}]`),
      onNack: (info) => void events.push(`NACK ${info.typeUrl.split(".").pop()} ${info.errorMessage}`),
      onStreamClose: (info) => void events.push(`close ${info.error?.message ?? ""}`),
      onStreamOpen: () => void events.push("open"),
      onAck: (info) => void events.push(`ack ${info.typeUrl.split(".").pop()} ${info.version}`),
    },
  });
  const xdsPort = await server.listen("127.0.0.1:0");

  // Envoy's own certificate for the xDS connection, as files (istio-agent would write these).
  const dir = tempDir();
  writeFileSync(join(dir, "cert.pem"), bootstrapCertificate.certChain.join(""));
  writeFileSync(join(dir, "key.pem"), bootstrapCertificate.privateKey);
  writeFileSync(join(dir, "root.pem"), ca.trustBundle.join(""));
  const xdsCluster = staticCluster("xds_cluster", [{ host: "127.0.0.1", port: xdsPort }], { http2: true });
  xdsCluster.transportSocket = {
    name: TLS_SOCKET,
    typedConfig: packAny(
      "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      UpstreamTlsContext,
      UpstreamTlsContext.fromPartial({
        commonTlsContext: {
          tlsCertificates: [
            { certificateChain: { filename: join(dir, "cert.pem") }, privateKey: { filename: join(dir, "key.pem") } },
          ],
          validationContext: { trustedCa: { filename: join(dir, "root.pem") } },
        },
      }),
    ),
  };
  envoy = await startEnvoy({
    name: "envoy-sds",
    bootstrap: bootstrapToJson(
      Bootstrap.fromPartial({
        node: { id: NODE_ID, cluster: "cart", metadata: { NAMESPACE: "shop", SERVICE_ACCOUNT: "cart" } },
        dynamicResources: {
          adsConfig: {
            apiType: ApiConfigSource_ApiType.GRPC,
            transportApiVersion: ApiVersion.V3,
            grpcServices: [{ envoyGrpc: { clusterName: "xds_cluster" } }],
          },
          ldsConfig: { ads: {}, resourceApiVersion: ApiVersion.V3 },
        },
        staticResources: { clusters: [xdsCluster] },
      }),
    ),
  });
}, 60_000);

afterAll(async () => {
  await envoy?.stop();
  await server?.close({ graceMs: 100 });
});

describe("Envoy with its certificate from xdskit over SDS", () => {
  it("serves mTLS with the `default` certificate and refuses a client without one", async () => {
    const port = await envoy.waitFor(() => envoy.listenerPort(LISTENER).catch(() => undefined), 15_000);
    const reply = await call(port, client);
    expect(reply.status).toBe(200);
    expect(reply.san).toBe(`URI:${CART}`);
    await expect(call(port, undefined)).rejects.toThrow();
  });

  it("takes a new certificate from the cache: /certs and new handshakes show it", async () => {
    const port = await envoy.listenerPort(LISTENER);
    const before = (await call(port, client)).serial;
    const next = await ca.issue({ namespace: "shop", serviceAccount: "cart" });
    publish(next);
    const nextSerial = new (await import("node:crypto")).X509Certificate(next.certChain[0] as string).serialNumber;
    expect(nextSerial).not.toBe(before);
    await envoy.waitFor(
      async () =>
        JSON.stringify(await envoy.certs())
          .toLowerCase()
          .includes(nextSerial.toLowerCase()),
      10_000,
    );
    expect((await call(port, client)).serial).toBe(nextSerial);
  });
});

describe("root rotation under traffic", () => {
  it("stage → activate → retire with new connections flowing and no request failing", async () => {
    const { X509Certificate } = await import("node:crypto");
    // Envoy's /certs writes serials in lowercase hex.
    const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase();
    const envoyHas = async (pem: string) => {
      const serial = serialOf(pem);
      try {
        await envoy.waitFor(async () => JSON.stringify(await envoy.certs()).includes(`"${serial}"`), 10_000);
      } catch (error) {
        throw new Error(`Envoy's /certs never showed serial ${serial}: ${JSON.stringify(await envoy.certs())}`, {
          cause: error,
        });
      }
    };
    const port = await envoy.listenerPort(LISTENER);
    let caller = client;
    let stopped = false;
    let ok = 0;
    const failures: string[] = [];
    // A new TLS connection per request, each trusting the CA's bundle of that moment.
    const traffic = (async () => {
      while (!stopped) {
        try {
          const reply = await call(port, caller);
          if (reply.status === 200) ok++;
          else failures.push(`status ${reply.status}`);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    })();
    const okBefore = async (count: number, step: string) => {
      const target = ok + count;
      await envoy
        .waitFor(() => ok >= target || failures.length > 0, 10_000)
        .catch((error: unknown) => {
          throw new Error(
            `${step}: ${ok} requests succeeded, waiting for ${target}; failures ${failures.slice(0, 3).join("; ")}`,
            { cause: error },
          );
        });
    };

    await okBefore(20, "before");
    events.push("stage");
    await ca.stageRoot();
    const [, stagedRoot] = ca.trustBundle as [string, string];
    publish(await ca.issue({ namespace: "shop", serviceAccount: "cart" })); // still the old root's
    await envoyHas(stagedRoot);
    await okBefore(20, "staged");

    events.push("activate");
    await ca.activateStagedRoot();
    const fromNewRoot = await ca.issue({ namespace: "shop", serviceAccount: "cart" });
    expect(fromNewRoot.certChain[1]).toBe(stagedRoot);
    publish(fromNewRoot);
    await envoyHas(fromNewRoot.certChain[0] as string);
    caller = await ca.issue({ namespace: "shop", serviceAccount: "web" });
    await okBefore(20, "activated");

    events.push("retire");
    await ca.retirePreviousRoots();
    expect(ca.trustBundle).toEqual([stagedRoot]);
    // A fresh certificate with the retired bundle. (Publishing the same certificate with only ROOTCA changed
    // got no push from the server in this setup; see the report of this change.)
    publish(await ca.issue({ namespace: "shop", serviceAccount: "cart" }));
    await okBefore(40, "retired");
    stopped = true;
    await traffic;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThanOrEqual(100);
    // After the rotation Envoy's SDS trust (the inline CA certificates; its xDS connection's own file stays)
    // holds the new root alone, and the old root's client certificate is refused.
    const oldRootSerial = serialOf(client.certChain[1] as string);
    const inlineRoots = async () => {
      const dump = (await envoy.certs()) as {
        certificates: Array<{ ca_cert?: Array<{ path: string; serial_number: string }> }>;
      };
      return dump.certificates
        .flatMap((c) => c.ca_cert ?? [])
        .filter((c) => c.path === "<inline>")
        .map((c) => c.serial_number);
    };
    await envoy
      .waitFor(async () => {
        const roots = await inlineRoots();
        return roots.length > 0 && !roots.includes(oldRootSerial);
      }, 10_000)
      .catch(async (error: unknown) => {
        throw new Error(`Envoy still trusts the old root: ${(await inlineRoots()).join(", ")}; ${events.join("; ")}`, {
          cause: error,
        });
      });
    await expect(call(port, client)).rejects.toThrow();
  }, 60_000);
});
