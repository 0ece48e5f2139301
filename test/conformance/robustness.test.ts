// Bad input, bad hooks and bad clients end one stream at most, never the server.
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignment as ClusterLoadAssignmentCodec,
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  resourceTypes,
} from "@xdskit/core";
import { AggregatedDiscoveryServiceDefinition } from "@xdskit/core/services";
import type { XdsServerCallbacks } from "@xdskit/server";
import { afterEach, describe, expect, it } from "vitest";
import { edsCluster, endpoints, genericSecret } from "../fixtures/resources.js";
import { waitFor } from "../harness/wait.js";
import { testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const CDS = resourceTypes.Cluster.typeUrl;
const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;
const SDS = resourceTypes.Secret.typeUrl;
const ADS = `/${AggregatedDiscoveryServiceDefinition.fullName}`;
const UNKNOWN_TYPE_URL = `${CDS}Nope`;

const claNames = (resources: { value?: Uint8Array }[] | undefined) =>
  (resources ?? []).map((r) => ClusterLoadAssignmentCodec.decode(r.value ?? new Uint8Array()).clusterName).sort();

/** The server still works: a fresh client on a fresh node gets its clusters. */
async function stillServes(h: Harness, nodeId = "health-probe"): Promise<void> {
  h.set(nodeId, { Cluster: [edsCluster("probe")] });
  const s = h.client().sotw();
  s.send({ node: testNode(nodeId), typeUrl: CDS });
  const r = await s.next();
  expect(r.typeUrl).toBe(CDS);
  expect(r.resources).toHaveLength(1);
  s.close();
}

describe("robustness", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("an unknown type URL ends the stream with INVALID_ARGUMENT naming it (SotW and delta)", async () => {
    h = await startHarness();
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: UNKNOWN_TYPE_URL });
    const st = await s.ended();
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toContain(`unknown type_url "${UNKNOWN_TYPE_URL}"`);

    const d = h.client().delta();
    d.send({ node: testNode("n1"), typeUrl: "not even a url", resourceNamesSubscribe: ["*"] });
    const dt = await d.ended();
    expect(dt.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(dt.details).toContain('"not even a url"');

    // After a good start, a bad type later on the same stream ends it too.
    h.set("n1", { Cluster: [edsCluster("a")] });
    const later = h.client().sotw();
    later.send({ node: testNode("n1"), typeUrl: CDS });
    await later.next();
    later.send({ typeUrl: UNKNOWN_TYPE_URL, resourceNames: ["x"] });
    expect((await later.ended()).code).toBe(grpc.status.INVALID_ARGUMENT);
    await stillServes(h);
  });

  it("garbage nonces are ignored as stale, never taken for ACKs or NACKs", async () => {
    h = await startHarness();
    h.set("n1", { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("a", 1)] });
    const s = h.client().sotw();
    // A nonce on the very first request means nothing (nonces do not survive reconnects, R2).
    s.send({ node: testNode("n1"), typeUrl: CDS, responseNonce: "garbage-from-another-life" });
    const r1 = await s.next();
    s.send({ typeUrl: CDS, responseNonce: "\u0000\uffff junk", errorDetail: { code: 13, message: "not real" } });
    expect(await s.silence(200)).toBeUndefined();
    expect(h.cache.tracker.status("n1")?.types.get(CDS)?.state).toBe("PENDING");
    s.send({ typeUrl: CDS, versionInfo: r1.versionInfo, responseNonce: r1.nonce });
    await s.silence(100);
    expect(h.cache.tracker.status("n1")?.types.get(CDS)?.state).toBe("SYNCED");

    const d = h.client().delta();
    d.send({ node: testNode("n2"), typeUrl: EDS, resourceNamesSubscribe: ["a"], responseNonce: "x".repeat(10_000) });
    h.set("n2", { ClusterLoadAssignment: [endpoints("a", 1)] });
    const dr = await d.next();
    d.send({ typeUrl: EDS, responseNonce: "nope", errorDetail: { code: 3, message: "not a real NACK" } });
    expect(await d.silence(200)).toBeUndefined();
    expect(h.cache.tracker.status("n2")?.types.get(EDS)?.state).toBe("PENDING");
    d.send({ typeUrl: EDS, responseNonce: dr.nonce });
    await d.silence(100);
    expect(h.cache.tracker.status("n2")?.types.get(EDS)?.state).toBe("SYNCED");
  });

  it("a resource-name list over maxResourceNamesPerRequest ends the stream with INVALID_ARGUMENT", async () => {
    h = await startHarness({ maxResourceNamesPerRequest: 1000 });
    const many = Array.from({ length: 1001 }, (_, i) => `cla-${i}`);
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: EDS, resourceNames: many });
    const st = await s.ended();
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toMatch(/names 1001 resources; at most 1000/);

    const d = h.client().delta();
    d.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: many.slice(0, 600) });
    d.send({ typeUrl: EDS, resourceNamesSubscribe: many.slice(0, 1000), resourceNamesUnsubscribe: ["x"] });
    const dt = await d.ended();
    expect(dt.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(dt.details).toMatch(/at most 1000/);

    // A delta subscription accumulated over several requests is bounded the same way.
    const grow = h.client().delta();
    grow.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: many.slice(0, 600) });
    grow.send({ typeUrl: EDS, resourceNamesSubscribe: many.slice(600, 1001) });
    const gt = await grow.ended();
    expect(gt.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(gt.details).toMatch(/subscription holds 1001 names; at most 1000/);

    // Exactly at the limit is fine.
    const ok = h.client().sotw();
    ok.send({ node: testNode("n1"), typeUrl: EDS, resourceNames: many.slice(0, 1000) });
    h.set("n1", { ClusterLoadAssignment: [endpoints("cla-999", 1)] });
    expect(claNames((await ok.next()).resources)).toEqual(["cla-999"]);
  });

  it("a huge name list at the default limit (100 000) is refused without harm", async () => {
    h = await startHarness();
    const s = h.client().delta();
    s.send({
      node: testNode("n1"),
      typeUrl: EDS,
      resourceNamesSubscribe: Array.from({ length: 100_001 }, (_, i) => `n${i}`),
    });
    const st = await s.ended(5000);
    expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(st.details).toMatch(/names 100001 resources; at most 100000/);
    await stillServes(h);
  });

  it("malformed protobuf bytes end the stream with a status; other streams are served", async () => {
    h = await startHarness();
    h.set("n1", { Cluster: [edsCluster("a")] });
    const bystander = h.client().sotw();
    bystander.send({ node: testNode("n1"), typeUrl: CDS });
    const b1 = await bystander.next();
    bystander.send({ typeUrl: CDS, versionInfo: b1.versionInfo, responseNonce: b1.nonce });

    const raw = new grpc.Client(h.address, grpc.credentials.createInsecure());
    try {
      for (const bytes of [
        Buffer.from([0x0a, 0xff]), // node: a length that runs past the end
        Buffer.from([0x12, 0x05, 0x61]), // type_url: truncated string
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // an over-long varint tag
      ]) {
        for (const method of ["StreamAggregatedResources", "DeltaAggregatedResources"]) {
          const call = raw.makeBidiStreamRequest<Buffer, Buffer>(
            `${ADS}/${method}`,
            (b) => b,
            (b) => b,
          );
          const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
          call.on("error", () => {});
          call.on("data", () => {});
          call.write(bytes);
          const st = await ended;
          expect(st.code).not.toBe(grpc.status.OK);
          expect(st.code).toBe(grpc.status.INVALID_ARGUMENT);
          expect(st.details).toMatch(/malformed request message/);
        }
      }
    } finally {
      raw.close();
    }
    // The bystander stream is alive and still gets updates.
    h.set("n1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    expect((await bystander.next()).resources).toHaveLength(2);
    await stillServes(h);
    // Only the bystander is left open: the malformed streams were cleaned up.
    await expect.poll(() => h?.server.streamCount, { timeout: 2000, interval: 25 }).toBe(1);
  });

  it("500 streams opened and dropped in a burst leave the server answering, with streamCount back to 0", async () => {
    h = await startHarness();
    h.set("churn", { Cluster: [edsCluster("a")] });
    const client = h.client();
    const started = Date.now();
    for (let batch = 0; batch < 10; batch++) {
      const streams = Array.from({ length: 50 }, (_, i) => {
        const s = i % 2 === 0 ? client.sotw() : client.delta();
        if (i % 2 === 0) (s as ReturnType<typeof client.sotw>).send({ node: testNode("churn"), typeUrl: CDS });
        else
          (s as ReturnType<typeof client.delta>).send({
            node: testNode("churn"),
            typeUrl: CDS,
            resourceNamesSubscribe: ["*"],
          });
        return s;
      });
      // Half are dropped after their first response, half before (mid-handshake).
      await Promise.all(streams.slice(0, 25).map((s) => s.next()));
      for (const s of streams) s.close();
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect.poll(() => h?.server.streamCount, { timeout: 3000, interval: 25 }).toBe(0);
    await stillServes(h);
    await expect.poll(() => h?.server.streamCount, { timeout: 3000, interval: 25 }).toBe(0);
  });

  it("a throwing or rejecting hook ends only its own stream, with INTERNAL", async () => {
    const failFor = (kind: string) => (info: { node?: { id?: string }; request?: { node?: { id?: string } } }) =>
      info.node?.id === kind || info.request?.node?.id === kind;
    const callbacks: XdsServerCallbacks = {
      onRequest(info) {
        if (failFor("throw-on-request")(info)) throw new Error("onRequest exploded");
        if (failFor("reject-on-request")(info)) return Promise.reject(new Error("onRequest rejected"));
      },
      onResponse(info) {
        if (info.node.id === "throw-on-response") throw new Error("onResponse exploded");
      },
      // A hook typed as returning void may still be an async function.
      onAck: (async (info: { node: { id?: string } }) => {
        if (info.node.id === "reject-on-ack") throw new Error("onAck rejected");
      }) as XdsServerCallbacks["onAck"],
    };
    h = await startHarness({ callbacks });
    const good = h.client().sotw();
    h.set("good", { Cluster: [edsCluster("a")] });
    good.send({ node: testNode("good"), typeUrl: CDS });
    const g1 = await good.next();
    good.send({ typeUrl: CDS, versionInfo: g1.versionInfo, responseNonce: g1.nonce });

    for (const id of ["throw-on-request", "reject-on-request", "throw-on-response"]) {
      h.set(id, { Cluster: [edsCluster("a")] });
      const bad = h.client().delta();
      bad.send({ node: testNode(id), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
      const st = await bad.ended();
      expect(st.code, id).toBe(grpc.status.INTERNAL);
      expect(st.details, id).toMatch(/exploded|rejected/);
    }
    h.set("reject-on-ack", { Cluster: [edsCluster("a")] });
    const acker = h.client().sotw();
    acker.send({ node: testNode("reject-on-ack"), typeUrl: CDS });
    const a1 = await acker.next();
    acker.send({ typeUrl: CDS, versionInfo: a1.versionInfo, responseNonce: a1.nonce });
    const ast = await acker.ended();
    expect(ast.code).toBe(grpc.status.INTERNAL);
    expect(ast.details).toContain("onAck rejected");

    // The good stream never noticed.
    h.set("good", { Cluster: [edsCluster("a"), edsCluster("b")] });
    expect((await good.next()).resources).toHaveLength(2);
    await expect.poll(() => h?.server.streamCount, { timeout: 2000, interval: 25 }).toBe(1);
  });

  it("authorize refusing a Secret name yields PERMISSION_DENIED with its reason; allowed names work", async () => {
    h = await startHarness({
      authorize: ({ node, typeUrl, names }) => {
        if (typeUrl !== SDS) return true;
        const refused = names.find((n) => n === "*" || !n.startsWith(`${node.id}/`));
        return refused ? `secret "${refused}" does not belong to ${node.id}` : true;
      },
    });
    h.set("alice", { Secret: [genericSecret("alice/tls", "a"), genericSecret("bob/tls", "b")] });
    const ok = h.client().sotw();
    ok.send({ node: testNode("alice"), typeUrl: SDS, resourceNames: ["alice/tls"] });
    const o1 = await ok.next();
    expect(o1.resources).toHaveLength(1);

    const sneaky = h.client().sotw();
    sneaky.send({ node: testNode("alice"), typeUrl: SDS, resourceNames: ["alice/tls", "bob/tls"] });
    const st = await sneaky.ended();
    expect(st.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(st.details).toContain('node "alice" may not subscribe to');
    expect(st.details).toContain('secret "bob/tls" does not belong to alice');

    const wildcard = h.client().delta();
    wildcard.send({ node: testNode("alice"), typeUrl: SDS });
    const wt = await wildcard.ended();
    expect(wt.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(wt.details).toContain('secret "*"');

    // The allowed stream keeps working.
    ok.send({ typeUrl: SDS, resourceNames: ["alice/tls"], versionInfo: o1.versionInfo, responseNonce: o1.nonce });
    h.set("alice", { Secret: [genericSecret("alice/tls", "a2"), genericSecret("bob/tls", "b")] });
    expect((await ok.next()).resources).toHaveLength(1);
  });

  it("async hooks are awaited and a stream's requests stay in order behind them (SotW and delta)", async () => {
    const acks: { typeUrl: string; at: number }[] = [];
    h = await startHarness({
      // EDS subscriptions are checked asynchronously (e.g. a policy service); everything else synchronously.
      authorize: ({ typeUrl, names }) => {
        if (typeUrl !== EDS) return true;
        return new Promise((resolve) =>
          setTimeout(() => resolve(names.includes("forbidden") ? "not yours" : true), 150),
        );
      },
      callbacks: {
        onAck: (event) => {
          acks.push({ typeUrl: event.typeUrl, at: Date.now() });
        },
      },
    });
    h.set("n1", { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("a", 1)] });

    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const cds = await s.next();
    const sentAt = Date.now();
    s.send({ typeUrl: EDS, resourceNames: ["a"] });
    // This ACK arrives while the EDS request still awaits its hook: it is handled after it, not before.
    s.send({ typeUrl: CDS, versionInfo: cds.versionInfo, responseNonce: cds.nonce });
    const eds = await s.next();
    expect(eds.typeUrl).toBe(EDS);
    expect(claNames(eds.resources)).toEqual(["a"]);
    await waitFor(() => acks.some((a) => a.typeUrl === CDS));
    expect(acks.find((a) => a.typeUrl === CDS)?.at ?? 0).toBeGreaterThanOrEqual(sentAt + 140);

    // A refusal that arrives late still ends the stream, and nothing queued behind it is handled.
    const d = h.client().delta();
    d.send({ node: testNode("n1"), typeUrl: EDS, resourceNamesSubscribe: ["forbidden"] });
    d.send({ typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    const st = await d.ended();
    expect(st.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(st.details).toContain("not yours");
    await stillServes(h);
  });

  it("authenticate throwing ends the stream with UNAUTHENTICATED", async () => {
    h = await startHarness({
      authenticate: (peer) => {
        if (peer.address.startsWith("127.0.0.1")) throw new Error("no client certificate presented");
        return { principal: "spiffe://x" };
      },
    });
    h.set("n1", { Cluster: [edsCluster("a")] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    const st = await s.ended();
    expect(st.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(st.details).toContain("authentication failed: no client certificate presented");
    const d = h.client().delta();
    d.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    expect((await d.ended()).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("graceful close() ends open streams with UNAVAILABLE", async () => {
    h = await startHarness();
    h.set("n1", { Cluster: [edsCluster("a")] });
    const s = h.client().sotw();
    s.send({ node: testNode("n1"), typeUrl: CDS });
    await s.next();
    const d = h.client().delta();
    d.send({ node: testNode("n1"), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    await d.next();
    const closing = h.server.close({ graceMs: 1000 });
    const [st, dt] = await Promise.all([s.ended(), d.ended()]);
    expect(st.code).toBe(grpc.status.UNAVAILABLE);
    expect(st.details).toContain("shutting down");
    expect(dt.code).toBe(grpc.status.UNAVAILABLE);
    await closing;
    expect(h.server.streamCount).toBe(0);
  });

  it("a client that never reads gets only the newest state: the server keeps one pending response per type", async () => {
    const sentTo = new Map<number, number>();
    let slowStream = -1;
    h = await startHarness({
      callbacks: {
        onRequest(info) {
          if (info.request.node?.id === "slow") slowStream = info.streamId;
        },
        onResponse(info) {
          sentTo.set(info.streamId, (sentTo.get(info.streamId) ?? 0) + 1);
        },
      },
    });
    // ~48 KB per response, so HTTP/2 flow control stalls the stream after a few responses.
    const big = (generation: number): ClusterLoadAssignment => ({
      ...endpoints("a", ...Array.from({ length: 2000 }, (_, i) => 1000 + i)),
      policy: { overprovisioningFactor: generation + 1 },
    });
    const generationOf = (r: DeltaDiscoveryResponse) =>
      (ClusterLoadAssignmentCodec.decode(r.resources?.[0]?.resource?.value ?? new Uint8Array()).policy
        ?.overprovisioningFactor ?? 0) - 1;
    h.set("slow", { ClusterLoadAssignment: [big(0)] });
    h.set("fast", { ClusterLoadAssignment: [big(0)] });

    // A raw HTTP/2 client whose stream is paused: it never reads, so it never opens its flow-control window
    // (a grpc-js client would keep reading into an unbounded buffer of its own).
    const session = http2.connect(`http://${h.address}`);
    session.on("error", () => {});
    const slow = session.request({
      ":method": "POST",
      ":path": `${ADS}/DeltaAggregatedResources`,
      "content-type": "application/grpc",
      te: "trailers",
    });
    slow.on("error", () => {});
    const frame = (request: DeltaDiscoveryRequest) => {
      const body = DeltaDiscoveryRequest.encode(request).finish();
      const out = Buffer.alloc(5 + body.length);
      out.writeUInt32BE(body.length, 1);
      out.set(body, 5);
      return out;
    };
    slow.write(frame({ node: testNode("slow"), typeUrl: EDS, resourceNamesSubscribe: ["a"] }));
    slow.pause();
    const fast = h.client().delta();
    fast.send({ node: testNode("fast"), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    await fast.next();

    const updates = 300;
    for (let g = 1; g <= updates; g++) {
      h.set("slow", { ClusterLoadAssignment: [big(g)] });
      h.set("fast", { ClusterLoadAssignment: [big(g)] });
      await new Promise((resolve) => setImmediate(resolve));
    }
    // The fast client is not held back by the slow one: it reaches the newest generation.
    for (let r = await fast.next(); generationOf(r) !== updates; r = await fast.next());
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stalledCount = sentTo.get(slowStream) ?? 0;
    expect(slowStream).toBeGreaterThan(0);
    // Backpressure held the server: a handful of responses were written, not one per update.
    expect(stalledCount).toBeGreaterThan(0);
    expect(stalledCount).toBeLessThan(40);

    // Now read: what was written, then at most the one queued (stale) response and the newest one.
    const received: number[] = [];
    let buffer = Buffer.alloc(0);
    const done = new Promise<void>((resolve) => {
      slow.on("data", (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        while (buffer.length >= 5 && buffer.length >= 5 + buffer.readUInt32BE(1)) {
          const length = buffer.readUInt32BE(1);
          received.push(generationOf(DeltaDiscoveryResponse.decode(buffer.subarray(5, 5 + length))));
          buffer = buffer.subarray(5 + length);
        }
        if (received.at(-1) === updates) resolve();
      });
    });
    slow.resume();
    await done;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received.at(-1)).toBe(updates);
    expect(received.length).toBe(sentTo.get(slowStream));
    expect(received.length).toBeLessThanOrEqual(stalledCount + 2);
    slow.close();
    session.close();
  });
});
