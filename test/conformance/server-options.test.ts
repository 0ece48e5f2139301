import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { createSnapshotCache, resourceTypes } from "@xdskit/core";
import { HealthCheckRequest, HealthCheckResponse, HealthCheckResponse_ServingStatus } from "@xdskit/core/services";
import { createXdsServer } from "@xdskit/server";
import { afterEach, describe, expect, it } from "vitest";
import { directWriters, releasedDecoders } from "../../packages/server/src/grpc-internals.js";
import { edsCluster } from "../fixtures/resources.js";
import { waitFor } from "../harness/wait.js";
import { testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

function healthCheck(address: string): Promise<HealthCheckResponse_ServingStatus | undefined> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (v: HealthCheckRequest) => Buffer.from(HealthCheckRequest.encode(v).finish()),
      (b: Buffer) => HealthCheckResponse.decode(b),
      {},
      (error, response) => {
        client.close();
        if (error) reject(error);
        else resolve(response?.status);
      },
    );
  });
}

describe("server options", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("answers gRPC health checks with SERVING", async () => {
    h = await startHarness();
    expect(await healthCheck(h.address)).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("maxReceiveMessageBytes: an oversized request ends its stream with RESOURCE_EXHAUSTED", async () => {
    h = await startHarness({ maxReceiveMessageBytes: 2048 });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: resourceTypes.Cluster.typeUrl, resourceNames: ["x".repeat(4096)] });
    const status = await s.ended();
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const ok = h.client().sotw();
    ok.send({ node: testNode("n1"), typeUrl: resourceTypes.Cluster.typeUrl, resourceNames: ["small"] });
    expect(await ok.silence(200)).toBeUndefined();
    expect(ok.status).toBeUndefined();
  });

  it("grpcOptions grpc.max_send_message_length: an oversized response ends its stream with RESOURCE_EXHAUSTED", async () => {
    h = await startHarness({ grpcOptions: { "grpc.max_send_message_length": 600 } });
    h.set("n1", { Cluster: [edsCluster("a")] });
    const small = h.client().sotw();
    small.send({ node: testNode("n1"), typeUrl: resourceTypes.Cluster.typeUrl });
    expect((await small.next()).resources).toHaveLength(1);
    h.set("n2", { Cluster: Array.from({ length: 20 }, (_, i) => edsCluster(`c${i}`)) });
    const big = h.client().sotw();
    big.send({ node: testNode("n2"), typeUrl: resourceTypes.Cluster.typeUrl });
    const status = await big.ended();
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toMatch(/grpc\.max_send_message_length \(\d+ > 600 bytes\)/);
  });

  it("connectionWindowBytes / streamWindowBytes: what a client may send before the server reads it", async () => {
    const windowsSeenBy = async (address: string) => {
      const session = http2.connect(`http://${address}`);
      session.on("error", () => {});
      try {
        // The server announces its stream window in SETTINGS and opens its connection window with WINDOW_UPDATE.
        return await waitFor(() => {
          const stream = session.remoteSettings?.initialWindowSize ?? 65_535;
          const connection = session.state.remoteWindowSize ?? 65_535;
          return stream !== 65_535 && connection !== 65_535 ? { stream, connection } : undefined;
        });
      } finally {
        session.close();
      }
    };
    h = await startHarness();
    expect(await windowsSeenBy(h.address)).toEqual({ stream: 1024 * 1024, connection: 16 * 1024 * 1024 });
    await h.close();
    h = await startHarness({ connectionWindowBytes: 4_000_000, streamWindowBytes: 200_000 });
    expect(await windowsSeenBy(h.address)).toEqual({ stream: 200_000, connection: 4_000_000 });
    // Real streams still work over the widened windows.
    h.set("n1", {});
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: resourceTypes.Cluster.typeUrl, resourceNames: ["x".repeat(150_000)] });
    expect((await s.next()).typeUrl).toBe(resourceTypes.Cluster.typeUrl);
    expect(() => createXdsServer({ cache: createSnapshotCache(), streamWindowBytes: 1000 })).toThrow(
      /options.streamWindowBytes must be an integer from 65535 to 2147483647, got 1000/,
    );
  });

  it("grpc-js internals still where expected: decoders drop decoded messages, responses are written directly", async () => {
    h = await startHarness();
    h.set("n1", { Cluster: [edsCluster("a")] });
    const before = releasedDecoders();
    const writers = directWriters();
    const s = h.client().sotw();
    const d = h.client().delta();
    s.send({ node: testNode("n1"), typeUrl: resourceTypes.Cluster.typeUrl });
    d.send({ node: testNode("n1"), typeUrl: resourceTypes.Cluster.typeUrl });
    await s.next();
    await d.next();
    expect(releasedDecoders() - before).toBe(2);
    // ...and responses are written to the HTTP/2 stream as framed, shared buffers (no copy per stream).
    expect(directWriters() - writers).toBe(2);
  });

  it("validates options with errors that name the option", () => {
    const cache = createSnapshotCache();
    expect(() => createXdsServer({ cache, ackGateTimeoutMs: -1 })).toThrow(
      /options.ackGateTimeoutMs must be a positive number, got -1/,
    );
    expect(() => createXdsServer({ cache, ordering: "fastest" as never })).toThrow(
      /options.ordering must be "send-order" or "ack-gated"/,
    );
    expect(() => createXdsServer({ cache: {} as never })).toThrow(/options.cache must implement ConfigWatcher/);
  });

  it("listen names the address it could not bind", async () => {
    h = await startHarness();
    const other = createXdsServer({ cache: createSnapshotCache() });
    await expect(other.listen(h.address)).rejects.toThrow(new RegExp(`cannot listen on ${h.address}`));
    await other.close({ graceMs: 100 });
  });
});
