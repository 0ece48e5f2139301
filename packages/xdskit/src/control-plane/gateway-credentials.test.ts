// Gateway credentials (`kubernetes://<name>`) from Secret objects and credential files: checked at the door, served
// to gateway proxies of the Secret's namespace only (a raw ADS client), and a real Envoy gateway serving HTTPS
// SIMPLE with a credentialName, rotated by a new Secret.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import type tls from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { DiscoveryRequest, DiscoveryResponse, type Node, resourceTypes, Secret } from "@xdskit/core";
import { loadConfig } from "@xdskit/translate";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type SidecarAgent, startSidecarAgent } from "../agent/sidecar-agent.js";
import { type ControlPlane, createControlPlane } from "./control-plane.js";
import { createGatewayCredentials, credentialDiagnostics, isSecret } from "./gateway-credentials.js";
import type { MeshTranslator } from "./mesh-translator.js";

const ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const SECRET = resourceTypes.Secret.typeUrl;

/** A throwaway PKI made with the openssl CLI: one CA, server certificates for gateway.example.com. */
function testPki() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-gw-pki-"));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...newKey,
    "-days",
    "1",
    "-subj",
    "/CN=gateway test root",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.crt"),
  );
  let serial = 1;
  const issue = (host = "gateway.example.com") => {
    const name = `leaf${++serial}`;
    fs.writeFileSync(file(`${name}.ext`), `subjectAltName=DNS:${host}\nbasicConstraints=CA:FALSE\n`);
    openssl("req", ...newKey, "-subj", `/CN=${host}`, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`));
    openssl(
      "x509",
      "-req",
      "-in",
      file(`${name}.csr`),
      "-CA",
      file("ca.crt"),
      "-CAkey",
      file("ca.key"),
      "-set_serial",
      String(serial),
      "-days",
      "1",
      "-extfile",
      file(`${name}.ext`),
      "-out",
      file(`${name}.crt`),
    );
    return { cert: fs.readFileSync(file(`${name}.crt`), "utf8"), key: fs.readFileSync(file(`${name}.key`), "utf8") };
  };
  return {
    dir,
    ca: fs.readFileSync(file("ca.crt"), "utf8"),
    issue,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const tlsSecret = (name: string, namespace: string, pem: { cert: string; key: string }, ca?: string) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace },
  type: "kubernetes.io/tls",
  data: { "tls.crt": b64(pem.cert), "tls.key": b64(pem.key), ...(ca ? { "ca.crt": b64(ca) } : {}) },
});
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase();

let pki: ReturnType<typeof testPki>;
beforeAll(() => {
  pki = testPki();
});
afterAll(() => pki.cleanup());

describe("gateway credential Secrets at the door", () => {
  it("names the Secret, field and line of each problem; other Secret types are not looked at", () => {
    const good = pki.issue();
    const other = pki.issue();
    const loaded = loadConfig({
      file: "secrets.yaml",
      text: [
        `apiVersion: v1\nkind: Secret\nmetadata: { name: no-key, namespace: web }\ntype: kubernetes.io/tls\ndata:\n  tls.crt: ${b64(good.cert)}`,
        `apiVersion: v1\nkind: Secret\nmetadata: { name: wrong-key, namespace: web }\ntype: kubernetes.io/tls\ndata:\n  tls.crt: ${b64(good.cert)}\n  tls.key: ${b64(other.key)}`,
        `apiVersion: v1\nkind: Secret\nmetadata: { name: not-base64, namespace: web }\ntype: kubernetes.io/tls\ndata:\n  tls.crt: "%%%"\n  tls.key: ${b64(good.key)}`,
        `apiVersion: v1\nkind: Secret\nmetadata: { name: not-pem, namespace: web }\ntype: Opaque\nstringData:\n  cert: hello\n  key: world`,
        `apiVersion: v1\nkind: Secret\nmetadata: { name: token, namespace: web }\ntype: kubernetes.io/service-account-token\ndata:\n  token: "%%%"`,
        `apiVersion: v1\nkind: Secret\nmetadata: { name: fine, namespace: web }\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: ${JSON.stringify(good.cert)}\n  tls.key: ${JSON.stringify(good.key)}`,
      ].join("\n---\n"),
    });
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.objects.filter(isSecret).map((s) => s.metadata.name)).toEqual([
      "no-key",
      "wrong-key",
      "not-base64",
      "not-pem",
      "token",
      "fine",
    ]);
    const found = credentialDiagnostics(loaded.objects).map((d) => `${d.name} ${d.path} line ${d.line}: ${d.message}`);
    expect(found).toEqual([
      `no-key data["tls.key"] line 5: a kubernetes.io/tls Secret needs tls.key (the private key, PEM)`,
      `wrong-key data["tls.key"] line 14: data["tls.key"] is not the private key of the certificate in data["tls.crt"]`,
      `not-base64 data["tls.crt"] line 21: data["tls.crt"] must be base64 text`,
      expect.stringMatching(
        /^not-pem stringData\["cert"\] line 29: stringData\["cert"\] is not a PEM certificate chain: no PEM CERTIFICATE block$/,
      ),
      expect.stringMatching(/^not-pem stringData\["key"\] line 30: stringData\["key"\] is not a PEM private key: /),
    ]);
  });

  it("builds kubernetes://<name> and <name>-cacert per namespace; a <name>-cacert Secret wins over ca.crt", () => {
    const leaf = pki.issue();
    const otherCa = pki.issue().cert;
    const credentials = createGatewayCredentials();
    const objects = loadConfig({
      text: JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
          tlsSecret("web", "shop", leaf, pki.ca),
          tlsSecret("api", "shop", leaf, pki.ca),
          {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "api-cacert", namespace: "shop" },
            stringData: { "ca.crt": otherCa },
          },
          tlsSecret("web", "blog", leaf),
        ],
      }),
    }).objects.filter(isSecret);
    expect([...credentials.update(objects)].sort()).toEqual(["blog", "shop"]);
    const trustedCa = (s: Secret) => Buffer.from(s.validationContext?.trustedCa?.inlineBytes ?? []).toString();
    const shop = new Map(credentials.secretsIn("shop").map((s) => [s.name, s]));
    expect([...shop.keys()]).toEqual([
      "kubernetes://api",
      "kubernetes://api-cacert",
      "kubernetes://web",
      "kubernetes://web-cacert",
    ]);
    expect(trustedCa(shop.get("kubernetes://web-cacert") as Secret)).toBe(pki.ca);
    expect(trustedCa(shop.get("kubernetes://api-cacert") as Secret)).toBe(otherCa);
    expect(credentials.secretsIn("blog").map((s) => s.name)).toEqual(["kubernetes://web"]);
    expect(credentials.secretsIn("nowhere")).toEqual([]);
    // The same Secrets again change nothing; dropping blog's changes blog only.
    expect([...credentials.update(objects)]).toEqual([]);
    expect([...credentials.update(objects.filter((o) => o.metadata.namespace === "shop"))]).toEqual(["blog"]);
  });
});

/** Gateway proxies (router~) get an empty config: only their secrets matter. */
const gatewaysOnly: MeshTranslator = {
  update: () => [],
  resourcesFor: (node) =>
    node.id?.startsWith("router~") || node.id?.startsWith("sidecar~") ? { Cluster: [] } : undefined,
};

const gatewayNode = (namespace: string, type = "router"): Node => ({
  id: `${type}~127.0.0.1~ingress-1.${namespace}~${namespace}.svc.cluster.local`,
  metadata: { NAMESPACE: namespace, SERVICE_ACCOUNT: "ingress" },
});

/** A plaintext ADS stream subscribed to Secrets `names`; keeps the newest of each by name, ACKs everything. */
function secretStream(address: string, node: Node, names: string[]) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(
    ADS,
    (value: DiscoveryRequest) => Buffer.from(DiscoveryRequest.encode(value).finish()),
    (bytes: Buffer) => DiscoveryResponse.decode(bytes),
  );
  const current = new Map<string, Secret>();
  let error: string | undefined;
  call.on("data", (response: DiscoveryResponse) => {
    for (const any of response.resources ?? []) {
      const secret = Secret.decode(any.value ?? new Uint8Array());
      current.set(secret.name ?? "", secret);
    }
    call.write({
      typeUrl: SECRET,
      resourceNames: names,
      versionInfo: response.versionInfo,
      responseNonce: response.nonce,
    });
  });
  call.on("error", (e: grpc.ServiceError) => {
    error = `${grpc.status[e.code]}: ${e.details}`;
  });
  call.write({ node, typeUrl: SECRET, resourceNames: names });
  const certificateOf = (name: string) => {
    const bytes = current.get(name)?.tlsCertificate?.certificateChain?.inlineBytes;
    return bytes ? serialOf(Buffer.from(bytes).toString()) : undefined;
  };
  return {
    certificateOf,
    names: () => [...current.keys()].sort(),
    error: () => error,
    async until(what: string, test: () => boolean, ms = 10_000) {
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20)))
        if (test()) return;
      throw new Error(`never: ${what}; have ${JSON.stringify([...current.keys()])}, error ${error ?? "none"}`);
    },
    close() {
      call.cancel();
      client.close();
    },
  };
}

const planes: ControlPlane[] = [];
const closers: (() => void)[] = [];
const agents: SidecarAgent[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(agents.splice(0).map((a) => a.stop({ drainMs: 0 })));
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

describe("createControlPlane: gateway credentials over SDS", () => {
  it("serves each gateway its own namespace's credential, refuses another namespace's, keeps the last good Secret", async () => {
    const shopCert = pki.issue();
    const blogCert = pki.issue();
    const cp = await createControlPlane({
      translator: gatewaysOnly,
      config: {
        objects: [tlsSecret("web", "shop", shopCert, pki.ca), tlsSecret("web", "blog", blogCert)],
        debounceMs: 10,
      },
      xds: { port: 0 },
      xdsTls: false,
      monitoring: false,
      logger: { level: "silent" },
    });
    planes.push(cp);
    const shop = secretStream(cp.xdsAddress, gatewayNode("shop"), ["kubernetes://web", "kubernetes://web-cacert"]);
    const blog = secretStream(cp.xdsAddress, gatewayNode("blog"), ["kubernetes://web"]);
    closers.push(shop.close, blog.close);
    await shop.until("shop's credential and CA", () => shop.names().length === 2);
    await blog.until("blog's credential", () => blog.certificateOf("kubernetes://web") !== undefined);
    expect(shop.certificateOf("kubernetes://web")).toBe(serialOf(shopCert.cert));
    expect(blog.certificateOf("kubernetes://web")).toBe(serialOf(blogCert.cert)); // same name, its own namespace
    expect(blog.names()).toEqual(["kubernetes://web"]);

    // A name pointing into another namespace ends the stream with the reason; a sidecar is served no credential.
    const thief = secretStream(cp.xdsAddress, gatewayNode("blog"), ["kubernetes://shop/web"]);
    closers.push(thief.close);
    await thief.until("refused", () => thief.error() !== undefined);
    expect(thief.error()).toMatch(
      /^PERMISSION_DENIED: node "router~127\.0\.0\.1~ingress-1\.blog~blog\.svc\.cluster\.local" may not subscribe to .*: spiffe:\/\/cluster\.local\/ns\/blog\/sa\/ingress may not read secret "kubernetes:\/\/shop\/web"$/,
    );
    const sidecar = secretStream(cp.xdsAddress, gatewayNode("shop", "sidecar"), ["kubernetes://web"]);
    closers.push(sidecar.close);
    const sidecarId = gatewayNode("shop", "sidecar").id as string;
    await sidecar.until("the sidecar's snapshot", () => cp.cache.getSnapshot(sidecarId) !== undefined);
    expect([...(cp.cache.getSnapshot(sidecarId)?.resourcesOf(SECRET).keys() ?? [])].sort()).toEqual([
      "ROOTCA",
      "default",
    ]);
    expect(sidecar.names()).toEqual([]);

    // A Secret whose key does not match is rejected: the last good one keeps being served. A good one rotates.
    const renewed = pki.issue();
    cp.apply(tlsSecret("web", "shop", { cert: renewed.cert, key: blogCert.key }, pki.ca));
    await cp.settled();
    expect(cp.status().diagnostics.map((d) => `${d.kind} ${d.namespace}/${d.name} ${d.path}: ${d.message}`)).toEqual([
      'Secret shop/web data["tls.key"]: data["tls.key"] is not the private key of the certificate in data["tls.crt"]',
    ]);
    expect(shop.certificateOf("kubernetes://web")).toBe(serialOf(shopCert.cert));
    cp.apply(tlsSecret("web", "shop", renewed, pki.ca));
    await shop.until("the renewed credential", () => shop.certificateOf("kubernetes://web") === serialOf(renewed.cert));
    expect(blog.certificateOf("kubernetes://web")).toBe(serialOf(blogCert.cert));
  });

  it("serves credentials from files (the credentials option) and follows a rewrite of them", async () => {
    const first = pki.issue();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-gw-files-"));
    closers.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const write = (pem: { cert: string; key: string }) => {
      // key first, then the certificate, each by rename: a reader may see a new key with the old certificate.
      fs.writeFileSync(path.join(dir, "tls.key.tmp"), pem.key);
      fs.renameSync(path.join(dir, "tls.key.tmp"), path.join(dir, "tls.key"));
      fs.writeFileSync(path.join(dir, "tls.crt.tmp"), pem.cert);
      fs.renameSync(path.join(dir, "tls.crt.tmp"), path.join(dir, "tls.crt"));
    };
    write(first);
    const web = {
      name: "web",
      namespace: "shop",
      certificateChain: path.join(dir, "tls.crt"),
      privateKey: path.join(dir, "tls.key"),
    };
    const credentials = [web];
    await expect(
      createControlPlane({
        translator: gatewaysOnly,
        credentials: [{ ...web, namespace: "Shop" }],
        xds: { port: 0 },
        monitoring: false,
        logger: { level: "silent" },
      }),
    ).rejects.toThrow(
      `createControlPlane: credentials[0].namespace must be a Kubernetes name (lower case, digits, '-', '.'), got "Shop"`,
    );
    await expect(
      createControlPlane({
        translator: gatewaysOnly,
        credentials: [{ ...web, privateKey: path.join(dir, "nope") }],
        xds: { port: 0 },
        xdsTls: false,
        monitoring: false,
        logger: { level: "silent" },
      }),
    ).rejects.toThrow(/credential shop\/web: privateKey .*nope cannot be read \(ENOENT\)/);

    const cp = await createControlPlane({
      translator: gatewaysOnly,
      credentials,
      config: { debounceMs: 20 },
      xds: { port: 0 },
      xdsTls: false,
      monitoring: false,
      logger: { level: "silent" },
    });
    planes.push(cp);
    const shop = secretStream(cp.xdsAddress, gatewayNode("shop"), ["kubernetes://web"]);
    closers.push(shop.close);
    await shop.until("the file credential", () => shop.certificateOf("kubernetes://web") === serialOf(first.cert));
    const second = pki.issue();
    write(second);
    await shop.until(
      "the rewritten credential",
      () => shop.certificateOf("kubernetes://web") === serialOf(second.cert),
    );
  });
});

describe("a real Envoy gateway serving HTTPS with a credentialName", () => {
  it("terminates TLS with the Secret's certificate (SNI gateway.example.com), rotates to a new Secret, and asks MUTUAL clients for a certificate of the Secret's CA", async () => {
    const upstream = http.createServer((_req, res) => res.end("hello from the backend\n"));
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    closers.push(() => upstream.close());
    const upstreamPort = (upstream.address() as net.AddressInfo).port;
    const freePort = () =>
      new Promise<number>((resolve) => {
        const probe = http.createServer().listen(0, "127.0.0.1", () => {
          const { port } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(port));
        });
      });
    const gatewayPort = await freePort();
    const mutualPort = await freePort();
    const first = pki.issue();
    const mutualCert = pki.issue("mtls.example.com");
    const meta = (name: string) => ({ name, namespace: "default" });
    const cp = await createControlPlane({
      config: {
        debounceMs: 10,
        objects: [
          {
            apiVersion: "networking.istio.io/v1",
            kind: "ServiceEntry",
            metadata: meta("hello"),
            spec: {
              hosts: ["hello.default.svc.cluster.local"],
              location: "MESH_INTERNAL",
              resolution: "STATIC",
              ports: [{ number: 80, name: "http", protocol: "HTTP" }],
              endpoints: [{ address: "127.0.0.1", ports: { http: upstreamPort } }],
            },
          },
          {
            apiVersion: "networking.istio.io/v1",
            kind: "Gateway",
            metadata: meta("hello-gateway"),
            spec: {
              selector: { istio: "ingressgateway" },
              servers: [
                {
                  port: { number: gatewayPort, name: "https", protocol: "HTTPS" },
                  hosts: ["gateway.example.com"],
                  tls: { mode: "SIMPLE", credentialName: "gateway-cert" },
                },
                {
                  port: { number: mutualPort, name: "https-mtls", protocol: "HTTPS" },
                  hosts: ["mtls.example.com"],
                  tls: { mode: "MUTUAL", credentialName: "mtls-cert" },
                },
              ],
            },
          },
          {
            apiVersion: "networking.istio.io/v1",
            kind: "VirtualService",
            metadata: meta("hello"),
            spec: {
              hosts: ["gateway.example.com", "mtls.example.com"],
              gateways: ["hello-gateway"],
              http: [{ route: [{ destination: { host: "hello.default.svc.cluster.local" } }] }],
            },
          },
          tlsSecret("gateway-cert", "default", first),
          tlsSecret("mtls-cert", "default", mutualCert, pki.ca), // ca.crt: kubernetes://mtls-cert-cacert
        ],
      },
      xds: { port: 0 },
      xdsTls: false,
      monitoring: false,
      logger: { level: "silent" },
    });
    planes.push(cp);
    expect(cp.status().diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const gateway = await startSidecarAgent({
      type: "router",
      ip: "127.0.0.1",
      name: "ingressgateway",
      namespace: "default",
      serviceAccount: "ingressgateway",
      labels: { istio: "ingressgateway" },
      discoveryAddress: cp.xdsAddress,
      adminPort: 0,
      drainMs: 0,
      onLog: () => {},
    });
    agents.push(gateway);
    await gateway.ready({ timeoutMs: 30_000 });

    /** One HTTPS request through the gateway: the serial of the certificate it presented, and the body. */
    const request = (to = { port: gatewayPort, host: "gateway.example.com" }, client?: { cert: string; key: string }) =>
      new Promise<{ serial: string; body: string }>((resolve, reject) => {
        const req = https.request(
          {
            host: "127.0.0.1",
            port: to.port,
            path: "/",
            servername: to.host,
            headers: { host: to.host },
            ca: pki.ca,
            ...(client ?? {}),
            agent: false,
            timeout: 3000,
          },
          (res) => {
            const serial = (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber.toLowerCase();
            let body = "";
            res.on("data", (chunk) => {
              body += chunk;
            });
            res.on("end", () => resolve({ serial, body }));
          },
        );
        req.on("error", reject);
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.end();
      });
    const until = async (
      what: string,
      test: (answer: { serial: string; body: string }) => boolean,
      send: () => Promise<{ serial: string; body: string }> = () => request(),
    ) => {
      let last = "nothing yet";
      for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
        try {
          const answer = await send();
          if (test(answer)) return answer;
          last = JSON.stringify(answer);
        } catch (error) {
          last = (error as Error).message;
        }
      }
      throw new Error(`never: ${what}; last: ${last}`);
    };
    const served = await until("the backend over HTTPS", (a) => a.body === "hello from the backend\n");
    expect(served.serial).toBe(serialOf(first.cert));

    const second = pki.issue();
    cp.apply(tlsSecret("gateway-cert", "default", second));
    await cp.settled();
    const rotated = await until("the rotated certificate", (a) => a.serial === serialOf(second.cert));
    expect(rotated.body).toBe("hello from the backend\n");

    // MUTUAL: the server certificate of mtls-cert; a client certificate of its ca.crt gets through, none is refused.
    const mutual = { port: mutualPort, host: "mtls.example.com" };
    const client = pki.issue("client.example.com");
    const withCertificate = await until(
      "the MUTUAL server",
      () => true,
      () => request(mutual, client),
    );
    expect(withCertificate).toEqual({ serial: serialOf(mutualCert.cert), body: "hello from the backend\n" });
    const without = await request(mutual).then(
      (answer) => `answered ${JSON.stringify(answer)}`,
      (error: NodeJS.ErrnoException) => error.code ?? error.message,
    );
    expect(without).toBe("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
  }, 60_000);
});
