// Upstream servers that say who they are, so a test can tell where a proxied request landed.
import http from "node:http";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { echoServiceDefinition, metadataToObject, type WhoCallOptions, type WhoReply, who } from "./echo-service.mjs";

export type { WhoCallOptions, WhoReply } from "./echo-service.mjs";

export interface UpstreamIdentity {
  service: string;
  version: string;
  /** Listen address; default 127.0.0.1. */
  host?: string;
}

/** The JSON body every HTTP upstream answers with. */
export interface HttpUpstreamReply {
  service: string;
  version: string;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface HttpUpstream {
  readonly service: string;
  readonly version: string;
  readonly host: string;
  readonly port: number;
  /** e.g. "http://127.0.0.1:40123" */
  readonly url: string;
  /** Every request answered, oldest first. */
  readonly requests: HttpUpstreamReply[];
  close(): Promise<void>;
}

/**
 * An HTTP/1.1 server on host:0 answering every request with 200, JSON {@link HttpUpstreamReply} and the
 * header `x-upstream: <service>/<version>`.
 */
export async function startHttpUpstream({
  service,
  version,
  host = "127.0.0.1",
}: UpstreamIdentity): Promise<HttpUpstream> {
  const requests: HttpUpstreamReply[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const reply: HttpUpstreamReply = {
        service,
        version,
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
      };
      requests.push(reply);
      const body = JSON.stringify(reply);
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        "x-upstream": `${service}/${version}`,
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    service,
    version,
    host,
    port,
    url: `http://${host}:${port}`,
    requests,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

export interface GrpcUpstream {
  readonly service: string;
  readonly version: string;
  readonly host: string;
  readonly port: number;
  /** "host:port", a grpc-js target. */
  readonly target: string;
  /** Request metadata of every Who call answered, oldest first. */
  readonly calls: Array<{ metadata: Record<string, string> }>;
  close(): Promise<void>;
}

/**
 * A gRPC server (insecure, h2c) on host:0 serving `xdskit.test.Echo/Who` (JSON messages, see
 * echo-service.mjs), answering {@link WhoReply}: its identity and the metadata it received.
 */
export async function startGrpcUpstream({
  service,
  version,
  host = "127.0.0.1",
}: UpstreamIdentity): Promise<GrpcUpstream> {
  const calls: Array<{ metadata: Record<string, string> }> = [];
  const server = new grpc.Server();
  server.addService(echoServiceDefinition, {
    Who: (call: grpc.ServerUnaryCall<unknown, WhoReply>, callback: grpc.sendUnaryData<WhoReply>) => {
      const metadata = metadataToObject(call.metadata);
      calls.push({ metadata });
      callback(null, { service, version, metadata });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  let closed: Promise<void> | undefined;
  return {
    service,
    version,
    host,
    port,
    target: `${host}:${port}`,
    calls,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      });
      return closed;
    },
  };
}

/** One Who call to `target` (any grpc-js target, e.g. "127.0.0.1:40123") on a fresh insecure channel. */
export async function callWho(
  target: string,
  options: WhoCallOptions & { credentials?: grpc.ChannelCredentials } = {},
): Promise<WhoReply> {
  const client = new grpc.Client(target, options.credentials ?? grpc.credentials.createInsecure());
  try {
    return await who(client, options);
  } finally {
    client.close();
  }
}
