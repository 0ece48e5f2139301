// FLOOR ONLY — not xdskit, and NOT a correct xDS server. The least work an ADS server on @grpc/grpc-js
// (1.14.7, as pinned here) has to do on the fan-out workload, so that xdskit's figures can be set
// against the I/O cost of grpc-js and Node's HTTP/2 alone.
//
// What it does, and nothing more:
// - ADS StreamAggregatedResources (SotW) and DeltaAggregatedResources with identity (de)serializers:
//   requests and responses stay raw Buffers.
// - One snapshot for every node. Each resource object is encoded into an Any once (and, for delta, into
//   a discovery.v3.Resource once); per update each distinct response body is built once, lazily, and
//   only the nonce is appended per stream. SotW: CDS = every cluster, EDS = only the changed
//   ClusterLoadAssignments (what xdskit sends); delta: only the changed resources. Streams that
//   subscribe get the whole current state of the type. CDS goes out before EDS.
// - Per request it reads only type_url, response_nonce, version_info (SotW) and whether error_detail
//   is there (lib/wire.ts readRequestEnvelope); node, resource names and the rest are skipped unread.
//   An ACK (answering the newest nonce of its type, no error_detail) is reported for GET /acked.
// - Subscriptions: a stream subscribes to CDS with any CDS request, to EDS with (SotW) any EDS request
//   or (delta) an EDS request with a non-empty resource_names_subscribe. Every EDS subscriber is
//   treated as subscribing to ALL endpoints, whatever names it asked for: that is what the load
//   clients do. Unsubscribing does not exist; a second subscribe resends nothing.
// - Versions: SotW version_info and delta system_version_info are the control server's per-type
//   versions (BenchSnapshot.clusterVersion / endpointVersion); a delta resource's version is a counter
//   per resource object. Both are left-padded with zeros to 16 characters, the length of xdskit's
//   content-hash versions, so that both servers put the same bytes on the wire ("MiB rx/upd").
// - HTTP/2 receive windows as xdskit's defaults: 16 MiB per connection, 1 MiB per stream.
// What it does not do: ordering guarantees beyond CDS-before-EDS, backpressure beyond what grpc-js
// does, TTLs, any NACK policy (a NACK is ignored), stale-nonce or name handling, removals, per-node
// state, other resource types. Do not use it outside bench/.
import * as grpc from "@grpc/grpc-js";
import { packResource, type ResourceType, resourceTypes } from "@xdskit/core";
// The same grpc-js hook @xdskit/server uses for its windows (it exports nothing for it): one copy of the hack.
import { widenReceiveWindows } from "../../packages/server/src/grpc-internals.js";
import { type BenchBackend, type BenchSnapshot, runBenchServer } from "../lib/control-server.js";
import { AggregatedDiscoveryServiceDefinition } from "../lib/gen.js";
import { listenOnLoopback, trackWhileOpen } from "../lib/grpc-server.js";
import { fieldHeader, readRequestEnvelope } from "../lib/wire.js";

const CDS = resourceTypes.Cluster.typeUrl;
const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;
/** xdskit's default HTTP/2 receive windows (createXdsServer's connectionWindowBytes / streamWindowBytes). */
const CONNECTION_WINDOW = 16 * 1024 * 1024;
const STREAM_WINDOW = 1024 * 1024;
/** Versions on the wire: zero-padded to the 16 characters of xdskit's versions (see the header). */
const wireVersion = (version: string | number) => String(version).padStart(16, "0");

// ---- protobuf framing of the few fields this server writes ----

const bytesField = (field: number, value: Uint8Array) => [fieldHeader(field, value.length), value];
const stringField = (field: number, value: string) => bytesField(field, Buffer.from(value, "utf8"));

// ---- resources and response bodies ----

/** One resource object, encoded once. */
interface Encoded {
  readonly name: string;
  /** google.protobuf.Any { type_url = 1; value = 2 }. */
  readonly any: Buffer;
  /** envoy.service.discovery.v3.Resource { version = 1; resource = 2; name = 3 }, built on first delta use. */
  delta?: Buffer;
}

const encoded = new WeakMap<object, Encoded>();
let resourceVersions = 0;

function encode<T extends object>(type: ResourceType<T>, resource: T): Encoded {
  let e = encoded.get(resource);
  if (!e) {
    const any = packResource(type, resource);
    e = {
      name: type.nameOf(resource),
      any: Buffer.concat([...stringField(1, type.typeUrl), ...bytesField(2, any.value ?? new Uint8Array())]),
    };
    encoded.set(resource, e);
  }
  return e;
}

function deltaResource(e: Encoded): Buffer {
  e.delta ??= Buffer.concat([
    ...stringField(1, wireVersion(++resourceVersions)),
    ...bytesField(2, e.any),
    ...stringField(3, e.name),
  ]);
  return e.delta;
}

/** DiscoveryResponse { version_info = 1; resources = 2; type_url = 4 }, the nonce (5) comes per stream. */
function sotwBody(typeUrl: string, version: string, items: readonly Encoded[]): Buffer {
  const parts: Uint8Array[] = stringField(1, version);
  for (const e of items) parts.push(...bytesField(2, e.any));
  parts.push(...stringField(4, typeUrl));
  return Buffer.concat(parts);
}

/** DeltaDiscoveryResponse { system_version_info = 1; resources = 2; type_url = 4 }, nonce (5) per stream. */
function deltaBody(typeUrl: string, version: string, items: readonly Encoded[]): Buffer {
  const parts: Uint8Array[] = stringField(1, version);
  for (const e of items) parts.push(...bytesField(2, deltaResource(e)));
  parts.push(...stringField(4, typeUrl));
  return Buffer.concat(parts);
}

/** Some resources of one type at one version, with their SotW and delta bodies built once, on first use. */
class Bodies {
  private sotw: Buffer | undefined;
  private delta: Buffer | undefined;

  constructor(
    readonly typeUrl: string,
    readonly version: string,
    private readonly items: () => readonly Encoded[],
  ) {}

  body(delta: boolean): Buffer {
    if (delta) {
      this.delta ??= deltaBody(this.typeUrl, this.version, this.items());
      return this.delta;
    }
    this.sotw ??= sotwBody(this.typeUrl, this.version, this.items());
    return this.sotw;
  }
}

/** A type's current resources (the control server's objects) and version. */
interface TypeState {
  readonly resources: readonly object[];
  readonly version: string;
  /** Every resource: for streams that subscribe. */
  readonly full: Bodies;
}

// ---- streams ----

interface Subscription {
  subscribed: boolean;
  /** The newest nonce sent for this type on the stream, and the version it carried. */
  nonce: string;
  version: string;
}

interface Stream {
  readonly id: number;
  readonly delta: boolean;
  readonly call: grpc.ServerDuplexStream<Buffer, Buffer>;
  readonly cds: Subscription;
  readonly eds: Subscription;
  nonceSeq: number;
}

class FloorAds {
  private readonly streams = new Set<Stream>();
  private cds: TypeState | undefined;
  private eds: TypeState | undefined;
  private nextStreamId = 0;
  bytesSent = 0;
  responses = 0;

  /** `onAck(streamId, typeUrl, version)`: the newest response of a type on a stream was ACKed. */
  constructor(private readonly onAck: (streamId: number, typeUrl: string, version: string) => void) {}

  set(snapshot: BenchSnapshot): void {
    const cds = this.next(
      this.cds,
      resourceTypes.Cluster,
      CDS,
      snapshot.clusters,
      wireVersion(snapshot.clusterVersion),
    );
    const eds = this.next(
      this.eds,
      resourceTypes.ClusterLoadAssignment,
      EDS,
      snapshot.endpoints,
      wireVersion(snapshot.endpointVersion),
    );
    if (cds) this.cds = cds.state;
    if (eds) this.eds = eds.state;
    if (!cds && !eds) return;
    for (const stream of this.streams) {
      if (cds && stream.cds.subscribed) this.send(stream, stream.cds, cds.push);
      if (eds && stream.eds.subscribed) this.send(stream, stream.eds, eds.push);
    }
  }

  /** The type's new state and the bodies to push, or undefined when its version did not change. */
  private next<T extends object>(
    prev: TypeState | undefined,
    type: ResourceType<T>,
    typeUrl: string,
    resources: readonly T[],
    version: string,
  ): { state: TypeState; push: Bodies } | undefined {
    if (prev?.version === version) return undefined;
    const all = () => resources.map((r) => encode(type, r));
    const full = new Bodies(typeUrl, version, all);
    // The control server copies on write: what changed is what is no longer the same object at its index.
    const before = prev?.resources;
    const push =
      before && before.length === resources.length
        ? new Bodies(typeUrl, version, () => resources.filter((r, i) => r !== before[i]).map((r) => encode(type, r)))
        : full;
    return { state: { resources, version, full }, push };
  }

  private send(stream: Stream, sub: Subscription, bodies: Bodies): void {
    const nonce = (++stream.nonceSeq).toString(36);
    const msg = Buffer.concat([bodies.body(stream.delta), ...stringField(5, nonce)]);
    sub.nonce = nonce;
    sub.version = bodies.version;
    this.bytesSent += msg.length;
    this.responses++;
    stream.call.write(msg);
  }

  private onRequest(stream: Stream, buf: Buffer): void {
    const req = readRequestEnvelope(buf, stream.delta);
    const isCds = req.typeUrl === CDS;
    if (!isCds && req.typeUrl !== EDS) return;
    const sub = isCds ? stream.cds : stream.eds;
    if (req.nonce !== "" && req.nonce === sub.nonce && !req.hasErrorDetail)
      this.onAck(stream.id, req.typeUrl, stream.delta ? sub.version : req.versionInfo);
    if (sub.subscribed || (stream.delta && !isCds && !req.subscribes)) return;
    sub.subscribed = true;
    const state = isCds ? this.cds : this.eds;
    if (state) this.send(stream, sub, state.full);
  }

  handler =
    (delta: boolean) =>
    (call: grpc.ServerDuplexStream<Buffer, Buffer>): void => {
      const unsubscribed = (): Subscription => ({ subscribed: false, nonce: "", version: "" });
      const stream: Stream = {
        id: ++this.nextStreamId,
        delta,
        call,
        cds: unsubscribed(),
        eds: unsubscribed(),
        nonceSeq: 0,
      };
      trackWhileOpen(this.streams, stream, call);
      call.on("data", (buf: Buffer) => {
        try {
          this.onRequest(stream, buf);
        } catch (e) {
          call.destroy(Object.assign(new Error((e as Error).message), { code: grpc.status.INVALID_ARGUMENT }));
        }
      });
    };

  streamCount(): number {
    return this.streams.size;
  }
}

await runBenchServer(async (adsPort, acks): Promise<BenchBackend> => {
  const ads = new FloorAds((id, typeUrl, version) => acks.acked(id, typeUrl, version));
  const identity = (b: Buffer) => b;
  const raw = {
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  } as const;
  const { fullName, methods } = AggregatedDiscoveryServiceDefinition;
  const sotw = methods.streamAggregatedResources.name;
  const delta = methods.deltaAggregatedResources.name;
  const definition: grpc.ServiceDefinition = {
    [sotw]: { path: `/${fullName}/${sotw}`, ...raw },
    [delta]: { path: `/${fullName}/${delta}`, ...raw },
  };
  // xdskit's message limits: 16 MiB received, unlimited sent.
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
    "grpc.max_send_message_length": -1,
  });
  widenReceiveWindows(server, CONNECTION_WINDOW, STREAM_WINDOW);
  server.addService(definition, { [sotw]: ads.handler(false), [delta]: ads.handler(true) });
  const close = await listenOnLoopback(server, adsPort);
  return {
    setSnapshot: (s) => {
      ads.set(s);
      return { clusters: wireVersion(s.clusterVersion), endpoints: wireVersion(s.endpointVersion) };
    },
    bytesSent: () => ads.bytesSent,
    info: () => ({ server: "floor (not an xDS server)", streams: ads.streamCount(), responses: ads.responses }),
    close,
  };
});
