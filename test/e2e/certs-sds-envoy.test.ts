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
): Promise<{ status: number; serial: string; san: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        ca: ca.trustBundle.join(""),
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
