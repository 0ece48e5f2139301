// Proxyless gRPC files read by gRPC's own file_watcher provider (grpc-js FileWatcherCertificateProvider):
// mTLS between a grpc-js client and server, both on files this package writes, then a rotation.
import { X509Certificate } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
// grpc-js-xds's bootstrap validator: what a proxyless client does with GRPC_XDS_BOOTSTRAP.
import { validateBootstrapConfig } from "@grpc/grpc-js-xds/build/src/xds-bootstrap.js";
import { afterAll, describe, expect, it } from "vitest";
import { createCertificateAuthority } from "./authority.js";
import {
  createWorkloadFileRotation,
  grpcXdsBootstrap,
  type WorkloadFileRotation,
  writeWorkloadFiles,
} from "./proxyless.js";
import { tempDir } from "./testing/openssl.js";

const ECHO = "/test.Echo/Say";
const rotations: WorkloadFileRotation[] = [];
const closers: Array<() => void> = [];

afterAll(() => {
  for (const rotation of rotations) rotation.stop();
  for (const close of closers) close();
});

const fileProvider = (dir: string) =>
  new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: join(dir, "cert-chain.pem"),
    privateKeyFile: join(dir, "key.pem"),
    caCertificateFile: join(dir, "root-cert.pem"),
    refreshIntervalMs: 100,
  });

describe("proxyless gRPC certificate files", () => {
  it("writes cert-chain.pem, key.pem (0600) and root-cert.pem, and a bootstrap grpc-js-xds accepts", async () => {
    const ca = await createCertificateAuthority();
    const dir = join(tempDir(), "certs");
    const issued = await ca.issue({ namespace: "default", serviceAccount: "client" });
    const paths = await writeWorkloadFiles(dir, issued);
    expect(statSync(paths.privateKey).mode & 0o777).toBe(0o600);
    const bootstrap = grpcXdsBootstrap({
      serverUri: "127.0.0.1:15010",
      nodeId: "sidecar~10.0.0.1~client-1.default~default.svc.cluster.local",
      metadata: { NAMESPACE: "default", SERVICE_ACCOUNT: "client" },
      certificateDir: dir,
      refreshIntervalSeconds: 60,
    });
    const validated = validateBootstrapConfig(bootstrap);
    expect(validated.certificateProviders).toEqual({
      default: {
        pluginName: "file_watcher",
        config: {
          certificateFile: paths.certificateChain,
          privateKeyFile: paths.privateKey,
          caCertificateFile: paths.rootCertificates,
          refreshIntervalMs: 60_000,
        },
      },
    });
    expect(validated.node.id).toBe("sidecar~10.0.0.1~client-1.default~default.svc.cluster.local");
  });

  it("gives a grpc-js client and server mTLS through gRPC's file watcher, and rotation changes the served certificate", async () => {
    const ca = await createCertificateAuthority();
    const serverDir = join(tempDir(), "server");
    const clientDir = join(tempDir(), "client");
    const serverFiles = createWorkloadFileRotation({
      ca,
      identity: { namespace: "default", serviceAccount: "echo-server" },
      dir: serverDir,
    });
    const clientFiles = createWorkloadFileRotation({
      ca,
      identity: { namespace: "default", serviceAccount: "echo-client" },
      dir: clientDir,
    });
    rotations.push(serverFiles, clientFiles);
    await Promise.all([serverFiles.ready, clientFiles.ready]);
    expect(serverFiles.nextRotation?.getTime()).toBeGreaterThan(Date.now() + 11 * 3600_000);

    const server = new grpc.Server();
    const callers: string[] = [];
    server.addService(
      {
        Say: {
          path: ECHO,
          requestStream: false,
          responseStream: false,
          requestSerialize: (v: Buffer) => v,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (v: Buffer) => v,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      {
        Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          const peer = call.getAuthContext()?.sslPeerCertificate;
          callers.push(peer?.subjectaltname ?? "anonymous");
          callback(null, call.request);
        },
      },
    );
    const serverProvider = fileProvider(serverDir);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        "127.0.0.1:0",
        grpc.experimental.createCertificateProviderServerCredentials(serverProvider, serverProvider, true),
        (error, bound) => (error ? reject(error) : resolve(bound)),
      ),
    );
    closers.push(() => server.forceShutdown());

    const seenServerSerials: string[] = [];
    const call = async () => {
      const provider = fileProvider(clientDir);
      const client = new grpc.Client(
        `127.0.0.1:${port}`,
        grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
          checkServerIdentity: (_host, certificate) => {
            seenServerSerials.push(certificate.serialNumber);
            return certificate.subjectaltname === "URI:spiffe://cluster.local/ns/default/sa/echo-server"
              ? undefined
              : new Error(`unexpected server ${certificate.subjectaltname}`);
          },
        }),
      );
      try {
        return await new Promise<Buffer>((resolve, reject) =>
          client.makeUnaryRequest(
            ECHO,
            (v: Buffer) => v,
            (b: Buffer) => b,
            Buffer.from("hi"),
            (error, value) => (error ? reject(error) : resolve(value as Buffer)),
          ),
        );
      } finally {
        client.close();
      }
    };

    expect((await call()).toString()).toBe("hi");
    expect(callers).toEqual(["URI:spiffe://cluster.local/ns/default/sa/echo-client"]);
    const firstSerial = new X509Certificate(serverFiles.current?.certChain[0] as string).serialNumber;
    expect(seenServerSerials).toEqual([firstSerial]);

    // Rotate the server's files; its file watcher (100 ms refresh) picks them up for new connections.
    const rotated = await serverFiles.rotateNow();
    const secondSerial = new X509Certificate(rotated.certChain[0] as string).serialNumber;
    expect(secondSerial).not.toBe(firstSerial);
    for (let attempt = 0; attempt < 50 && seenServerSerials[seenServerSerials.length - 1] !== secondSerial; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await call();
    }
    expect(seenServerSerials[seenServerSerials.length - 1]).toBe(secondSerial);
    expect(callers.every((caller) => caller === "URI:spiffe://cluster.local/ns/default/sa/echo-client")).toBe(true);
  });
});
