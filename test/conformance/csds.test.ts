import * as grpc from "@grpc/grpc-js";
import { Cluster, resourceTypes } from "@xdskit/core";
import { ClientResourceStatus, ClientStatusRequest, ClientStatusResponse, ConfigStatus } from "@xdskit/core/services";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { edsCluster } from "../fixtures/resources.js";
import { testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const CDS = resourceTypes.Cluster.typeUrl;

function fetchStatus(address: string, request: ClientStatusRequest): Promise<ClientStatusResponse> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      "/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus",
      (v: ClientStatusRequest) => Buffer.from(ClientStatusRequest.encode(v).finish()),
      (b: Buffer) => ClientStatusResponse.decode(b),
      request,
      (error, response) => {
        client.close();
        if (error || !response) reject(error);
        else resolve(response);
      },
    );
  });
}

describe("CSDS", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("reports per node and resource what was ACKed, NACKed (with the error) and is still pending", async () => {
    h.set("good-1", { Cluster: [edsCluster("a")] });
    h.set("bad-1", { Cluster: [edsCluster("a")] });
    const good = h.client().sotw();
    good.send({ node: testNode("good-1"), typeUrl: CDS });
    const g = await good.next();
    good.send({ typeUrl: CDS, versionInfo: g.versionInfo, responseNonce: g.nonce });
    const bad = h.client().sotw();
    bad.send({ node: testNode("bad-1"), typeUrl: CDS });
    const b = await bad.next();
    bad.send({ typeUrl: CDS, responseNonce: b.nonce, errorDetail: { code: 3, message: "cluster a: invalid" } });
    await good.silence(150);

    const all = await fetchStatus(h.address, {});
    expect(all.config?.map((c) => c.node?.id)).toEqual(["bad-1", "good-1"]);
    const [badConfig, goodConfig] = all.config ?? [];
    const goodA = goodConfig?.genericXdsConfigs?.[0];
    expect(goodA).toMatchObject({
      typeUrl: CDS,
      name: "a",
      configStatus: ConfigStatus.SYNCED,
      clientStatus: ClientResourceStatus.ACKED,
    });
    expect(Cluster.decode(goodA?.xdsConfig?.value ?? new Uint8Array()).name).toBe("a");
    const badA = badConfig?.genericXdsConfigs?.[0];
    expect(badA).toMatchObject({ configStatus: ConfigStatus.ERROR, clientStatus: ClientResourceStatus.NACKED });
    expect(badA?.errorState?.details).toBe("cluster a: invalid");
    expect(badA?.errorState?.versionInfo).toBe(b.versionInfo);

    const filtered = await fetchStatus(h.address, {
      nodeMatchers: [{ nodeId: { prefix: "good" } }],
      excludeResourceContents: true,
    });
    expect(filtered.config?.map((c) => c.node?.id)).toEqual(["good-1"]);
    expect(filtered.config?.[0]?.genericXdsConfigs?.[0]?.xdsConfig).toBeUndefined();
  });
});
