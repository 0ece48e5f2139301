import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callWho,
  type GrpcUpstream,
  type HttpUpstream,
  type HttpUpstreamReply,
  startGrpcUpstream,
  startHttpUpstream,
} from "../harness/upstreams.js";

describe("test upstreams", () => {
  let http: HttpUpstream;
  let grpc: GrpcUpstream;

  beforeAll(async () => {
    http = await startHttpUpstream({ service: "reviews", version: "v1" });
    grpc = await startGrpcUpstream({ service: "echo", version: "v2" });
  });

  afterAll(async () => {
    await http?.close();
    await grpc?.close();
  });

  it("HTTP upstream answers with its identity, the request, and an x-upstream header", async () => {
    const res = await fetch(`${http.url}/reviews/1?x=1`, {
      method: "POST",
      body: "hi",
      headers: { "end-user": "jason" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-upstream")).toBe("reviews/v1");
    const body = (await res.json()) as HttpUpstreamReply;
    expect(body).toMatchObject({ service: "reviews", version: "v1", method: "POST", path: "/reviews/1?x=1" });
    expect(body.headers["end-user"]).toBe("jason");
    expect(http.requests).toHaveLength(1);
    expect(http.requests[0]?.path).toBe("/reviews/1?x=1");
  });

  it("gRPC upstream answers Who with its identity and the metadata it received", async () => {
    const reply = await callWho(grpc.target, { metadata: { "x-version": "v2" } });
    expect(reply.service).toBe("echo");
    expect(reply.version).toBe("v2");
    expect(reply.metadata["x-version"]).toBe("v2");
    expect(grpc.calls.at(-1)?.metadata["x-version"]).toBe("v2");
  });

  it("a closed HTTP upstream refuses connections", async () => {
    const other = await startHttpUpstream({ service: "ratings", version: "v1" });
    await other.close();
    await expect(fetch(other.url)).rejects.toThrow();
  });
});
