// Unary Fetch<Plural> over gRPC: REST-style discovery (XDS-RULES R32) with a real grpc-js unary client.
import * as grpc from "@grpc/grpc-js";
import {
  Cluster,
  ClusterLoadAssignment,
  createSnapshotCache,
  DiscoveryRequest,
  DiscoveryResponse,
  packAny,
  type ResourceKind,
  Router,
  resourceTypeList,
  resourceTypes,
  type SnapshotCache,
  unpackResource,
} from "@xdskit/core";
import { perTypeServiceDefinitions } from "@xdskit/core/services";
import type { AuthorizationRequest } from "@xdskit/server";
import { afterEach, describe, expect, it } from "vitest";
import { edsCluster, endpoints, genericSecret, httpListener, routeTo } from "../fixtures/resources.js";
import { testNode } from "./raw-ads-client.js";
import { type Harness, startHarness } from "./setup.js";

const CDS = resourceTypes.Cluster.typeUrl;
const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;

/** The path of a per-type service's unary Fetch method, from the generated definitions. */
function fetchPath(kind: ResourceKind): string {
  const service = resourceTypes[kind].grpcService;
  const method = Object.values(perTypeServiceDefinitions.get(service)?.methods ?? {}).find(
    (m) => !m.requestStream && !m.responseStream,
  );
  if (!method) throw new Error(`${service} has no Fetch method`);
  return `/${service}/${method.name}`;
}

class FetchClient {
  private readonly client: grpc.Client;
  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }
  /** One unary call; rejects with the grpc-js ServiceError (code, details). */
  call(path: string, request: DiscoveryRequest | Buffer): Promise<DiscoveryResponse> {
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(
        path,
        (r: DiscoveryRequest | Buffer) => (Buffer.isBuffer(r) ? r : Buffer.from(DiscoveryRequest.encode(r).finish())),
        (bytes: Buffer) => DiscoveryResponse.decode(bytes),
        request,
        (error, response) => (error || !response ? reject(error) : resolve(response)),
      ),
    );
  }
  /** The status of a call expected to fail. */
  async refusal(path: string, request: DiscoveryRequest | Buffer): Promise<grpc.ServiceError> {
    try {
      const response = await this.call(path, request);
      throw new Error(`expected a refusal, got version ${response.versionInfo} with ${response.resources?.length}`);
    } catch (error) {
      if (!(error as grpc.ServiceError).code) throw error;
      return error as grpc.ServiceError;
    }
  }
  close(): void {
    this.client.close();
  }
}

const namesOf = (r: DiscoveryResponse) =>
  (r.resources ?? []).map((any) => {
    const { type, resource } = unpackResource(any);
    return type.nameOf(resource);
  });

describe("unary Fetch* over gRPC (R32 semantics)", () => {
  let h: Harness;
  let client: FetchClient;
  const start = async (options: Parameters<typeof startHarness>[0] = {}, cache?: SnapshotCache) => {
    h = await startHarness(options, cache);
    client = new FetchClient(h.address);
  };
  afterEach(async () => {
    client?.close();
    await h?.close();
  });

  it("R32: FetchClusters answers the current state as a binary DiscoveryResponse, with no nonce and no stream", async () => {
    await start();
    h.set("f1", { Cluster: [edsCluster("a"), edsCluster("b")], ClusterLoadAssignment: [endpoints("a", 80)] });
    const response = await client.call(fetchPath("Cluster"), { node: testNode("f1") });
    expect(response.typeUrl).toBe(CDS);
    expect(response.versionInfo).toBe(h.cache.getSnapshot("f1")?.versionOf(CDS));
    expect(response.nonce ?? "").toBe("");
    expect(namesOf(response).sort()).toEqual(["a", "b"]);
    expect(Cluster.decode(response.resources?.[0]?.value ?? new Uint8Array()).connectTimeout).toEqual({
      seconds: 1,
      nanos: 0,
    });
    // A nonce is optional and means nothing: the same request with one gets the same answer.
    const again = await client.call(fetchPath("Cluster"), { node: testNode("f1"), responseNonce: "whatever" });
    expect(again.versionInfo).toBe(response.versionInfo);
    // No stream state is left behind: no stream, no node in the tracker, no open watch.
    expect(h.server.streamCount).toBe(0);
    expect(h.cache.tracker.status("f1")).toBeUndefined();
    expect(h.cache.status("f1").watches).toBe(0);
  });

  it("R32: a fetch is no stream: it never counts as a node of its group, so ACKs of the streams decide lastAccepted", async () => {
    await start({}, createSnapshotCache({ nodeHash: (node) => node.cluster ?? "" }));
    const version = h.set("test", { Cluster: [edsCluster("a")] });
    // A poller of the group fetches (also once more, up to date), then a streaming node applies the snapshot.
    const polled = await client.call(fetchPath("Cluster"), { node: testNode("poller") });
    await client.refusal(fetchPath("Cluster"), { node: testNode("poller"), versionInfo: polled.versionInfo ?? "" });
    const s = h.client().sotw();
    s.send({ node: testNode("envoy-1"), typeUrl: CDS });
    const r = await s.next();
    s.send({ typeUrl: CDS, versionInfo: r.versionInfo ?? "", responseNonce: r.nonce ?? "" });
    await h.cache.awaitApplied("envoy-1", version, { timeoutMs: 2000 });
    await expect.poll(() => h.cache.lastAccepted("test")?.version).toBe(version);
    expect(h.cache.tracker.status("poller")).toBeUndefined();
  });

  it("R32: every per-type Fetch method serves its own type", async () => {
    await start();
    const resources = {
      Cluster: [edsCluster("c")],
      ClusterLoadAssignment: [endpoints("c", 80)],
      Listener: [httpListener("l", 10000, "r")],
      RouteConfiguration: [routeTo("r", "c")],
      ScopedRouteConfiguration: [{ name: "srds", routeConfigurationName: "r" }],
      Secret: [genericSecret("s", "v")],
      Runtime: [{ name: "rt" }],
      TypedExtensionConfig: [
        { name: "ext", typedConfig: packAny("envoy.extensions.filters.http.router.v3.Router", Router, {}) },
      ],
    };
    h.set("f1", resources);
    const fetchable = resourceTypeList.filter((t) =>
      Object.values(perTypeServiceDefinitions.get(t.grpcService)?.methods ?? {}).some((m) => !m.requestStream),
    );
    expect(fetchable.map((t) => t.service).sort()).toEqual(["CDS", "ECDS", "EDS", "LDS", "RDS", "RTDS", "SDS", "SRDS"]);
    for (const type of fetchable) {
      const response = await client.call(fetchPath(type.kind as ResourceKind), { node: testNode("f1") });
      expect(response.typeUrl, type.kind).toBe(type.typeUrl);
      expect(response.versionInfo, type.kind).toBe(h.cache.getSnapshot("f1")?.versionOf(type.typeUrl));
      expect(response.resources, type.kind).toHaveLength(1);
    }
  });

  it("R32: a request naming resources gets only those", async () => {
    await start();
    h.set("f1", {
      Cluster: [edsCluster("a"), edsCluster("b")],
      ClusterLoadAssignment: [endpoints("a", 80), endpoints("b", 81)],
    });
    const eds = await client.call(fetchPath("ClusterLoadAssignment"), { node: testNode("f1"), resourceNames: ["b"] });
    expect(namesOf(eds)).toEqual(["b"]);
    expect(ClusterLoadAssignment.decode(eds.resources?.[0]?.value ?? new Uint8Array()).endpoints).toHaveLength(1);
    const cds = await client.call(fetchPath("Cluster"), { node: testNode("f1"), resourceNames: ["a"] });
    expect(namesOf(cds)).toEqual(["a"]);
  });

  it("R32: a request whose version_info is current gets FAILED_PRECONDITION 'skip fetch: version up to date'", async () => {
    await start();
    h.set("f1", { Cluster: [edsCluster("a")] });
    const first = await client.call(fetchPath("Cluster"), { node: testNode("f1") });
    const upToDate = await client.refusal(fetchPath("Cluster"), {
      node: testNode("f1"),
      versionInfo: first.versionInfo ?? "",
    });
    expect(upToDate.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(upToDate.details).toBe(
      `skip fetch: version up to date: nothing newer than version_info "${first.versionInfo}" for ${CDS} [*]`,
    );
    // Once something changed, the same request gets the new state.
    h.set("f1", { Cluster: [edsCluster("a"), edsCluster("b")] });
    const changed = await client.call(fetchPath("Cluster"), {
      node: testNode("f1"),
      versionInfo: first.versionInfo ?? "",
    });
    expect(changed.versionInfo).not.toBe(first.versionInfo);
    expect(namesOf(changed).sort()).toEqual(["a", "b"]);
    // An old version is not current: it is answered too.
    const stale = await client.call(fetchPath("Cluster"), { node: testNode("f1"), versionInfo: "stale" });
    expect(stale.versionInfo).toBe(changed.versionInfo);
  });

  it("R32: names that do not exist yet are left out; when none exists, CDS answers empty and EDS up to date", async () => {
    await start();
    h.set("f1", { Cluster: [edsCluster("a")], ClusterLoadAssignment: [endpoints("a", 80)] });
    const mixed = await client.call(fetchPath("Cluster"), { node: testNode("f1"), resourceNames: ["a", "ghost"] });
    expect(namesOf(mixed)).toEqual(["a"]);
    // R12: a full-state type says "none of these" with an empty response at the current version.
    const none = await client.call(fetchPath("Cluster"), { node: testNode("f1"), resourceNames: ["ghost"] });
    expect(none.resources ?? []).toEqual([]);
    expect(none.versionInfo).toBe(h.cache.getSnapshot("f1")?.versionOf(CDS));
    // R13: for other types an empty response would mean nothing: the answer is "nothing newer".
    const missing = await client.refusal(fetchPath("ClusterLoadAssignment"), {
      node: testNode("f1"),
      resourceNames: ["ghost"],
    });
    expect(missing.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(missing.details).toMatch(
      /^skip fetch: version up to date: nothing newer than version_info "" for .* \[ghost\]$/,
    );
    // R15: once it exists it is answered.
    h.set("f1", {
      Cluster: [edsCluster("a")],
      ClusterLoadAssignment: [endpoints("a", 80), endpoints("ghost", 81)],
    });
    const found = await client.call(fetchPath("ClusterLoadAssignment"), {
      node: testNode("f1"),
      resourceNames: ["ghost"],
    });
    expect(namesOf(found)).toEqual(["ghost"]);
    expect(found.versionInfo).toBe(h.cache.getSnapshot("f1")?.versionOf(EDS));
  });

  it("R32: a request without node, naming another type_url, too many names or malformed bytes is INVALID_ARGUMENT", async () => {
    await start({ maxResourceNamesPerRequest: 2 });
    h.set("f1", { Cluster: [edsCluster("a")] });
    const noNode = await client.refusal(fetchPath("Cluster"), { typeUrl: CDS });
    expect(noNode.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(noNode.details).toMatch(/^node is required: .* every request must carry node$/);
    const wrongType = await client.refusal(fetchPath("Cluster"), { node: testNode("f1"), typeUrl: EDS });
    expect(wrongType.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(wrongType.details).toBe(`FetchClusters serves ${CDS}; the request names type_url "${EDS}"`);
    const tooMany = await client.refusal(fetchPath("Cluster"), {
      node: testNode("f1"),
      resourceNames: ["a", "b", "c"],
    });
    expect(tooMany.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(tooMany.details).toBe("resource_names holds 3 names; at most 2 are accepted");
    const malformed = await client.refusal(fetchPath("Cluster"), Buffer.from([0x0a, 0xff]));
    expect(malformed.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(malformed.details).toMatch(/^malformed request message: /);
    // The matching type_url, spelled out, is fine.
    expect(namesOf(await client.call(fetchPath("Cluster"), { node: testNode("f1"), typeUrl: CDS }))).toEqual(["a"]);
  });

  it("R33/R35: xdstp names match whatever their parameter order; a glob collection is refused (delta-only)", async () => {
    await start();
    const T = "envoy.config.cluster.v3.Cluster";
    h.set("f1", { Cluster: [edsCluster(`xdstp://mesh/${T}/ns/a?region=eu&zone=z`)] });
    const found = await client.call(fetchPath("Cluster"), {
      node: testNode("f1"),
      resourceNames: [`xdstp://mesh/${T}/ns/a?zone=z&region=eu`],
    });
    expect(namesOf(found)).toEqual([`xdstp://mesh/${T}/ns/a?region=eu&zone=z`]);
    const glob = await client.refusal(fetchPath("Cluster"), {
      node: testNode("f1"),
      resourceNames: [`xdstp://mesh/${T}/ns/*`],
    });
    expect(glob.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(glob.details).toMatch(/is an xdstp glob collection; collections are served over delta xDS only/);
  });

  it("authorize is asked with the names (* for all) and its refusal is PERMISSION_DENIED with the reason", async () => {
    const asked: AuthorizationRequest[] = [];
    await start({
      authenticate: (peer) => ({ principal: `peer:${peer.address.split(":")[0]}` }),
      authorize: (request: AuthorizationRequest) => {
        asked.push(request);
        return request.names.includes("secret-cluster") ? "secret-cluster is off limits" : true;
      },
    });
    h.set("f1", { Cluster: [edsCluster("a"), edsCluster("secret-cluster")] });
    const refused = await client.refusal(fetchPath("Cluster"), {
      node: testNode("f1"),
      resourceNames: ["a", "secret-cluster"],
    });
    expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(refused.details).toBe(`node "f1" may not fetch ${CDS} [a, secret-cluster]: secret-cluster is off limits`);
    expect(namesOf(await client.call(fetchPath("Cluster"), { node: testNode("f1"), resourceNames: ["a"] }))).toEqual([
      "a",
    ]);
    await client.call(fetchPath("Cluster"), { node: testNode("f1") });
    expect(asked.map((a) => a.names)).toEqual([["a", "secret-cluster"], ["a"], ["*"]]);
    expect(asked[0]).toMatchObject({ typeUrl: CDS, node: { id: "f1" }, identity: { principal: "peer:127.0.0.1" } });
  });

  it("authenticate throwing refuses the fetch with UNAUTHENTICATED", async () => {
    await start({
      authenticate: () => {
        throw new Error("no client certificate");
      },
    });
    h.set("f1", { Cluster: [edsCluster("a")] });
    const refused = await client.refusal(fetchPath("Cluster"), { node: testNode("f1") });
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(refused.details).toBe("authentication failed: no client certificate");
  });
});
