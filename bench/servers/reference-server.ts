// BASELINE ONLY — not xdskit. A deliberately small State-of-the-World ADS server on @grpc/grpc-js
// so the bench pipeline can run before @xdskit/server exists, and as a floor to compare against.
//
// What it does: one snapshot for every node; CDS and EDS; each resource is packed into an Any once
// per change, and each distinct response body (type, version, subscribed names) is encoded once and
// shared by every stream, with only the nonce appended per send. ACK/NACK by nonce and
// error_detail, stale nonces ignored, no resend after a NACK; ACKs are reported for GET /acked.
// What it does not do: delta xDS, ordering guarantees beyond CDS-before-EDS on a push, write
// backpressure, TTLs, per-node state, any other resource type. Do not use it outside bench/.
import * as grpc from "@grpc/grpc-js";
import {
  type Any,
  type Cluster,
  type ClusterLoadAssignment,
  DiscoveryRequest,
  DiscoveryResponse,
  packResource,
  type ResourceType,
  resourceTypes,
} from "@xdskit/core";
import { type BenchBackend, type BenchSnapshot, runBenchServer } from "../lib/control-server.js";
import { AggregatedDiscoveryServiceDefinition } from "../lib/gen.js";
import { listenOnLoopback, trackWhileOpen } from "../lib/grpc-server.js";
import { stringField } from "../lib/wire.js";

const CDS = resourceTypes.Cluster.typeUrl;
const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;
/** Push order: clusters before their endpoints. */
const TYPE_ORDER = [CDS, EDS] as const;

interface TypeState {
  version: string;
  /** Resource name → packed Any, in snapshot order. */
  items: Map<string, Any>;
  /** Encoded response bodies (without nonce) by subscription key, for the current version only. */
  bodies: Map<string, Buffer>;
}

interface StreamTypeState {
  /** Subscribed names; undefined = wildcard. */
  names: string[] | undefined;
  key: string;
  sentVersion: string | undefined;
  nonce: string | undefined;
}

interface Stream {
  id: number;
  call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>;
  types: Map<string, StreamTypeState>;
  nonceSeq: number;
}

class ReferenceAds {
  private readonly types = new Map<string, TypeState>();
  private readonly streams = new Set<Stream>();
  /** Packed Any per resource object: unchanged objects are not re-encoded on update. */
  private readonly packed = new WeakMap<object, Any>();
  private nextStreamId = 0;
  bytesSent = 0;
  responses = 0;

  /** `onAck(streamId, typeUrl, version)`: an ACK of the newest response of a type was processed. */
  constructor(private readonly onAck: (streamId: number, typeUrl: string, version: string) => void) {}

  set(snapshot: BenchSnapshot): void {
    const pack = <T extends object>(type: ResourceType<T>, r: T): Any => {
      let any = this.packed.get(r);
      if (!any) {
        any = packResource(type, r);
        this.packed.set(r, any);
      }
      return any;
    };
    const next = (typeUrl: string, version: string, entries: Array<[string, Any]>) => {
      const prev = this.types.get(typeUrl);
      if (prev && prev.version === version) return;
      this.types.set(typeUrl, { version, items: new Map(entries), bodies: new Map() });
    };
    next(
      CDS,
      snapshot.clusterVersion,
      snapshot.clusters.map((c: Cluster) => [c.name ?? "", pack(resourceTypes.Cluster, c)]),
    );
    next(
      EDS,
      snapshot.endpointVersion,
      snapshot.endpoints.map((e: ClusterLoadAssignment) => [
        e.clusterName ?? "",
        pack(resourceTypes.ClusterLoadAssignment, e),
      ]),
    );
    for (const stream of this.streams) {
      for (const typeUrl of TYPE_ORDER) {
        const st = stream.types.get(typeUrl);
        const ts = this.types.get(typeUrl);
        if (st && ts && st.sentVersion !== ts.version) this.send(stream, typeUrl, st, ts);
      }
    }
  }

  private body(typeUrl: string, ts: TypeState, st: StreamTypeState): Buffer {
    let body = ts.bodies.get(st.key);
    if (!body) {
      const resources: Any[] = [];
      if (st.names === undefined) resources.push(...ts.items.values());
      else
        for (const name of st.names) {
          const any = ts.items.get(name);
          if (any) resources.push(any);
        }
      body = Buffer.from(DiscoveryResponse.encode({ versionInfo: ts.version, resources, typeUrl }).finish());
      ts.bodies.set(st.key, body);
    }
    return body;
  }

  private send(stream: Stream, typeUrl: string, st: StreamTypeState, ts: TypeState): void {
    const nonce = String(++stream.nonceSeq);
    const msg = Buffer.concat([this.body(typeUrl, ts, st), stringField(5, nonce)]);
    st.sentVersion = ts.version;
    st.nonce = nonce;
    this.bytesSent += msg.length;
    this.responses++;
    stream.call.write(msg);
  }

  private onRequest(stream: Stream, req: DiscoveryRequest): void {
    const typeUrl = req.typeUrl ?? "";
    const ts = this.types.get(typeUrl);
    let st = stream.types.get(typeUrl);
    const first = st === undefined;
    if (st && req.responseNonce && req.responseNonce !== st.nonce) return; // stale (R7)
    if (req.errorDetail) return; // NACK: keep the last state, never resend the same set (R5, R6)
    if (st && req.responseNonce && st.sentVersion !== undefined) this.onAck(stream.id, typeUrl, st.sentVersion);
    const requested = req.resourceNames ?? [];
    const wildcard = requested.includes("*") || (requested.length === 0 && (first || st?.names === undefined));
    const names = wildcard ? undefined : requested;
    const key = names === undefined ? "*" : names.join("\n");
    if (!st) {
      st = { names, key, sentVersion: undefined, nonce: undefined };
      stream.types.set(typeUrl, st);
    }
    const namesChanged = st.key !== key;
    st.names = names;
    st.key = key;
    if (!ts) return;
    // A reconnecting client that already has this version and asks for nothing new gets no resend (R16).
    if (first && req.versionInfo === ts.version) {
      st.sentVersion = ts.version;
      return;
    }
    if (namesChanged || st.sentVersion !== ts.version) this.send(stream, typeUrl, st, ts);
  }

  handler = (call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>): void => {
    const stream: Stream = { id: ++this.nextStreamId, call, types: new Map(), nonceSeq: 0 };
    trackWhileOpen(this.streams, stream, call);
    call.on("data", (req: DiscoveryRequest) => this.onRequest(stream, req));
  };

  streamCount(): number {
    return this.streams.size;
  }
}

await runBenchServer(async (adsPort, acks): Promise<BenchBackend> => {
  const ads = new ReferenceAds((id, typeUrl, version) => acks.acked(id, typeUrl, version));
  const method = AggregatedDiscoveryServiceDefinition.methods.streamAggregatedResources;
  const definition: grpc.ServiceDefinition = {
    [method.name]: {
      path: `/${AggregatedDiscoveryServiceDefinition.fullName}/${method.name}`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (m: DiscoveryRequest) => Buffer.from(DiscoveryRequest.encode(m).finish()),
      requestDeserialize: (b: Buffer) => DiscoveryRequest.decode(b),
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  };
  const server = new grpc.Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
  server.addService(definition, { [method.name]: ads.handler });
  const close = await listenOnLoopback(server, adsPort);
  return {
    setSnapshot: (s) => {
      ads.set(s);
      return { clusters: s.clusterVersion, endpoints: s.endpointVersion };
    },
    bytesSent: () => ads.bytesSent,
    info: () => ({ server: "reference (baseline, SotW only)", streams: ads.streamCount(), responses: ads.responses }),
    close,
  };
});
