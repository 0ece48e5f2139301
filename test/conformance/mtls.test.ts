import * as grpc from "@grpc/grpc-js";
import { resourceTypes, Secret } from "@xdskit/core";
import type { AuthorizationRequest, PeerInfo } from "@xdskit/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { genericSecret } from "../fixtures/resources.js";
import { createTestPki, type TestPki } from "../harness/test-pki.js";
import { RawXdsClient, testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const SDS = resourceTypes.Secret.typeUrl;
const REVIEWS = "spiffe://cluster.local/ns/default/sa/reviews";
const RATINGS = "spiffe://cluster.local/ns/default/sa/ratings";

/** The SPIFFE ID from the client certificate's URI SAN. */
function authenticate(peer: PeerInfo) {
  const uri = peer.certificate?.subjectAltNames?.split(", ").find((san) => san.startsWith("URI:spiffe://"));
  if (!uri) throw new Error("no SPIFFE ID in the client certificate");
  return { principal: uri.slice("URI:".length) };
}

/** A workload may fetch only secrets named after its own identity. */
function authorize({ identity, typeUrl, names }: AuthorizationRequest) {
  if (typeUrl !== SDS) return true;
  const own = `default/${identity?.principal.split("/").pop()}`;
  const foreign = names.filter((n) => n !== own);
  return foreign.length === 0 || `secrets ${foreign.join(", ")} do not belong to ${identity?.principal}`;
}

describe("mTLS, authentication and authorization", () => {
  let pki: TestPki;
  let h: Harness;
  beforeAll(async () => {
    pki = createTestPki();
    h = await startHarness({
      credentials: grpc.ServerCredentials.createSsl(
        pki.ca,
        [{ cert_chain: pki.server.cert, private_key: pki.server.key }],
        true,
      ),
      authenticate,
      authorize,
    });
    h.set("reviews-1", { Secret: [genericSecret("default/reviews", "r"), genericSecret("default/ratings", "x")] });
  });
  afterAll(async () => {
    await h?.close();
    pki?.cleanup();
  });

  const clientFor = (spiffeId: string) => {
    const pem = pki.client(spiffeId);
    return new RawXdsClient(h.address, grpc.credentials.createSsl(pki.ca, pem.key, pem.cert));
  };

  it("serves a workload its own secret over mTLS, identified by the SPIFFE ID of its certificate", async () => {
    const client = clientFor(REVIEWS);
    const s = client.sotw();
    s.send({ node: testNode("reviews-1"), typeUrl: SDS, resourceNames: ["default/reviews"] });
    const r = await s.next();
    expect(r.resources?.map((x) => Secret.decode(x.value ?? new Uint8Array()).name)).toEqual(["default/reviews"]);
    client.close();
  });

  it("refuses another workload's secret with PERMISSION_DENIED naming the secret and the identity", async () => {
    const client = clientFor(REVIEWS);
    const s = client.sotw();
    s.send({ node: testNode("reviews-1"), typeUrl: SDS, resourceNames: ["default/reviews", "default/ratings"] });
    const status = await s.ended();
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toContain(`secrets default/ratings do not belong to ${REVIEWS}`);
    client.close();
    // The ratings workload may have its own.
    const ratings = clientFor(RATINGS).sotw();
    ratings.send({ node: testNode("reviews-1"), typeUrl: SDS, resourceNames: ["default/ratings"] });
    expect((await ratings.next()).resources).toHaveLength(1);
  });

  it("refuses clients without a certificate, or with one from another CA, at the TLS handshake", async () => {
    const noCert = new RawXdsClient(h.address, grpc.credentials.createSsl(pki.ca));
    const s = noCert.sotw();
    s.send({ node: testNode("reviews-1"), typeUrl: SDS, resourceNames: ["default/reviews"] });
    expect((await s.ended()).code).toBe(grpc.status.UNAVAILABLE);
    noCert.close();
    const other = createTestPki();
    const stranger = other.client(REVIEWS);
    const foreign = new RawXdsClient(h.address, grpc.credentials.createSsl(pki.ca, stranger.key, stranger.cert));
    const f = foreign.sotw();
    f.send({ node: testNode("reviews-1"), typeUrl: SDS, resourceNames: ["default/reviews"] });
    expect((await f.ended()).code).toBe(grpc.status.UNAVAILABLE);
    foreign.close();
    other.cleanup();
  });
});
