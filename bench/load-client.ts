// One load-client process: opens its share of the ADS streams, ACKs everything, and reports to the
// runner (IPC) when all its streams hold the initial config and, per update, when its last stream
// received it. Started by fanout.ts with child_process.fork; exits on "exit", on disconnect, or at
// its deadline, whichever comes first.
//
// Flags: --target=127.0.0.1:PORT --mode=sotw|delta --streams=N --offset=K --workload=FILE
//        [--per-channel=100] [--deadline-ms=600000] [--client=0] [--verify=true]
import * as grpc from "@grpc/grpc-js";
import {
  type Cluster,
  Cluster as ClusterCodec,
  ClusterLoadAssignment,
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
  resourceTypes,
} from "@xdskit/core";
import { AggregatedDiscoveryServiceDefinition as Ads } from "./lib/gen.js";
import { nowMs, parseFlags } from "./lib/proc.js";
import type { FromClient, ToClient, XdsMode } from "./lib/protocol.js";
import { readDeltaEnvelope, readSotwEnvelope, stringField } from "./lib/wire.js";
import { BENCH_METADATA_KEY, portFor, readWorkloadHeader, type UpdateKind, weightFor } from "./workload.js";

const CDS = resourceTypes.Cluster.typeUrl;
const EDS = resourceTypes.ClusterLoadAssignment.typeUrl;

const flags = parseFlags(process.argv.slice(2));
const target = flags.get("target") ?? "";
const mode = (flags.get("mode") ?? "sotw") as XdsMode;
const streamCount = Number(flags.get("streams") ?? 0);
const offset = Number(flags.get("offset") ?? 0);
const perChannel = Number(flags.get("per-channel") ?? 100);
const deadlineMs = Number(flags.get("deadline-ms") ?? 600_000);
const clientIndex = Number(flags.get("client") ?? 0);
const verify = (flags.get("verify") ?? "true") === "true";
const header = readWorkloadHeader(flags.get("workload") ?? "");
const R = header.r;

function report(msg: FromClient): void {
  process.send?.(msg);
}

// Bounded: the process ends by itself at its deadline or when the runner goes away.
setTimeout(() => {
  report({ type: "error", message: `client ${clientIndex}: deadline of ${deadlineMs} ms reached` });
  process.exit(3);
}, deadlineMs);
process.on("disconnect", () => process.exit(0));

// ---- pre-encoded requests: only version and nonce are appended per ACK ----

const enc = (b: Uint8Array) => Buffer.from(b);
const req =
  mode === "sotw"
    ? {
        first: (id: string) => enc(DiscoveryRequest.encode({ node: { id, cluster: "bench" }, typeUrl: CDS }).finish()),
        cdsAck: enc(DiscoveryRequest.encode({ typeUrl: CDS }).finish()),
        edsSubscribe: enc(DiscoveryRequest.encode({ typeUrl: EDS, resourceNames: header.clusterNames }).finish()),
        // SotW ACKs repeat the full subscription, as Envoy does.
        edsAck: enc(DiscoveryRequest.encode({ typeUrl: EDS, resourceNames: header.clusterNames }).finish()),
        ack: (prefix: Buffer, version: string, nonce: string) =>
          Buffer.concat([prefix, stringField(1, version), stringField(5, nonce)]),
      }
    : {
        // Legacy wildcard: a first CDS request without names.
        first: (id: string) =>
          enc(DeltaDiscoveryRequest.encode({ node: { id, cluster: "bench" }, typeUrl: CDS }).finish()),
        cdsAck: enc(DeltaDiscoveryRequest.encode({ typeUrl: CDS }).finish()),
        edsSubscribe: enc(
          DeltaDiscoveryRequest.encode({ typeUrl: EDS, resourceNamesSubscribe: header.clusterNames }).finish(),
        ),
        edsAck: enc(DeltaDiscoveryRequest.encode({ typeUrl: EDS }).finish()),
        ack: (prefix: Buffer, _version: string, nonce: string) => Buffer.concat([prefix, stringField(6, nonce)]),
      };

// ---- streams ----

interface Arm {
  seq: number;
  kind: UpdateKind;
  target: string;
}

interface StreamState {
  index: number;
  call: grpc.ClientDuplexStream<Buffer, Buffer>;
  edsSubscribed: boolean;
  ready: boolean;
  cdsHave: number;
  edsHave: number;
  cdsVersion: string;
  edsVersion: string;
  // Per armed update:
  baseCds: string;
  baseEds: string;
  cdsAt: number;
  edsAt: number;
  cdsCount: number;
  edsCount: number;
  done: boolean;
  /** The verifying stream keeps the last response of each type. */
  last?: Map<string, Buffer>;
}

const streams: StreamState[] = [];
let readyCount = 0;
let openedAt = 0;
let firstConfigAt = Number.POSITIVE_INFINITY;
let lastConfigAt = 0;
let bytes = 0;
let responses = 0;
let errors = 0;
let arm: Arm | undefined;
let doneCount = 0;
let armFirstAt = Number.POSITIVE_INFINITY;
let armLastAt = 0;
let verifyError: string | undefined;

function verifyUpdate(s: StreamState, a: Arm): string | undefined {
  const decodeResources = (typeUrl: string): Uint8Array[] => {
    const buf = s.last?.get(typeUrl);
    if (!buf) return [];
    if (mode === "sotw") return (DiscoveryResponse.decode(buf).resources ?? []).map((r) => r.value ?? new Uint8Array());
    return (DeltaDiscoveryResponse.decode(buf).resources ?? []).map((r) => r.resource?.value ?? new Uint8Array());
  };
  const clas = decodeResources(EDS).map((b) => ClusterLoadAssignment.decode(b));
  const wanted = a.kind === "one-endpoint" ? a.target : clas[0]?.clusterName;
  const cla = clas.find((c) => c.clusterName === wanted);
  if (!cla) return `seq ${a.seq}: ${wanted ?? "no ClusterLoadAssignment"} not in the last EDS response`;
  const lb = cla.endpoints?.[0]?.lbEndpoints?.[0];
  const port = lb?.endpoint?.address?.socketAddress?.portValue;
  if (port !== portFor(a.seq) || lb?.loadBalancingWeight !== weightFor(a.seq))
    return `seq ${a.seq}: ${wanted} has port ${port} weight ${lb?.loadBalancingWeight}, expected ${portFor(a.seq)}/${weightFor(a.seq)}`;
  if (a.kind === "full-replace") {
    const cluster: Cluster | undefined = decodeResources(CDS).map((b) => ClusterCodec.decode(b))[0];
    const rev = cluster?.metadata?.filterMetadata?.[BENCH_METADATA_KEY]?.rev;
    if (rev !== String(a.seq)) return `seq ${a.seq}: cluster ${cluster?.name} has revision ${String(rev)}`;
  }
  return undefined;
}

// Requests go out once the responses that arrived together were all taken in: one process stands in for
// hundreds of clients, and writing a large SotW ACK (the whole subscription) before reading the next stream's
// response would bill one client's ACK to another client's receipt time. Per stream the order is kept.
const outbox: Array<{ s: StreamState; bytes: Buffer }> = [];
function send(s: StreamState, bytes: Buffer): void {
  if (outbox.length === 0) setImmediate(flushOutbox);
  outbox.push({ s, bytes });
}
function flushOutbox(): void {
  for (const { s, bytes } of outbox.splice(0)) s.call.write(bytes);
}

function onResponse(s: StreamState, buf: Buffer): void {
  const at = nowMs();
  bytes += buf.length;
  responses++;
  const a = arm;
  const wantName = a && !s.done && a.kind === "one-endpoint" ? a.target : undefined;
  const env = mode === "sotw" ? readSotwEnvelope(buf) : readDeltaEnvelope(buf, wantName);
  const version = mode === "sotw" ? (env as { versionInfo: string }).versionInfo : "";
  const typeUrl = env.typeUrl;
  const isCds = typeUrl === CDS;
  const isEds = typeUrl === EDS;

  // ACK every response, after every response that arrived with it was taken in (see send).
  if (isCds) send(s, req.ack(req.cdsAck, version, env.nonce));
  else if (isEds) send(s, req.ack(req.edsAck, version, env.nonce));
  if (s.last && (isCds || isEds)) s.last.set(typeUrl, buf);

  if (isCds) {
    s.cdsVersion = version;
    s.cdsHave = mode === "sotw" ? env.resourceCount : s.cdsHave + env.resourceCount;
    // Like Envoy: subscribe to endpoints once clusters arrived.
    if (!s.edsSubscribed) {
      s.edsSubscribed = true;
      send(s, req.edsSubscribe);
    }
  } else if (isEds) {
    s.edsVersion = version;
    s.edsHave = mode === "sotw" ? env.resourceCount : s.edsHave + env.resourceCount;
  }

  if (!s.ready && s.cdsHave >= R && s.edsHave >= R) {
    s.ready = true;
    readyCount++;
    firstConfigAt = Math.min(firstConfigAt, at);
    lastConfigAt = Math.max(lastConfigAt, at);
    if (readyCount === streams.length)
      report({ type: "ready", streams: streams.length, openedAt, firstConfigAt, lastConfigAt });
  }

  if (!a || s.done) return;
  if (mode === "sotw") {
    if (isCds && s.cdsAt === 0 && version !== s.baseCds) s.cdsAt = at;
    if (isEds && s.edsAt === 0 && version !== s.baseEds) s.edsAt = at;
  } else if (a.kind === "one-endpoint") {
    if (isEds && s.edsAt === 0 && "hasWanted" in env && env.hasWanted) s.edsAt = at;
  } else {
    if (isCds) s.cdsCount += env.resourceCount;
    if (isEds) s.edsCount += env.resourceCount;
    if (s.cdsAt === 0 && s.cdsCount >= R) s.cdsAt = at;
    if (s.edsAt === 0 && s.edsCount >= R) s.edsAt = at;
  }
  const complete = s.edsAt > 0 && (a.kind === "one-endpoint" || s.cdsAt > 0);
  if (!complete) return;
  s.done = true;
  doneCount++;
  const t = Math.max(s.edsAt, s.cdsAt);
  armFirstAt = Math.min(armFirstAt, t);
  armLastAt = Math.max(armLastAt, t);
  if (s.last) verifyError ??= verifyUpdate(s, a);
  if (doneCount === streams.length) {
    const msg: FromClient = { type: "done", seq: a.seq, firstAt: armFirstAt, lastAt: armLastAt };
    if (verifyError) msg.verifyError = verifyError;
    report(msg);
  }
}

function doArm(a: Arm): void {
  arm = a;
  doneCount = 0;
  armFirstAt = Number.POSITIVE_INFINITY;
  armLastAt = 0;
  verifyError = undefined;
  for (const s of streams) {
    s.baseCds = s.cdsVersion;
    s.baseEds = s.edsVersion;
    s.cdsAt = 0;
    s.edsAt = 0;
    s.cdsCount = 0;
    s.edsCount = 0;
    s.done = false;
  }
  report({ type: "armed", seq: a.seq });
}

process.on("message", (msg: ToClient) => {
  if (msg.type === "arm") doArm(msg);
  else if (msg.type === "counters") report({ type: "counters", bytes, responses, errors });
  else if (msg.type === "exit") {
    for (const s of streams) s.call.cancel();
    setTimeout(() => process.exit(0), 100);
  }
});

const method = mode === "sotw" ? Ads.methods.streamAggregatedResources : Ads.methods.deltaAggregatedResources;
const path = `/${Ads.fullName}/${method.name}`;
const identity = (b: Buffer) => b;
let reportedErrors = 0;

function openStream(channel: grpc.Client, index: number): void {
  const call = channel.makeBidiStreamRequest<Buffer, Buffer>(path, identity, identity);
  const s: StreamState = {
    index,
    call,
    edsSubscribed: false,
    ready: false,
    cdsHave: 0,
    edsHave: 0,
    cdsVersion: "",
    edsVersion: "",
    baseCds: "",
    baseEds: "",
    cdsAt: 0,
    edsAt: 0,
    cdsCount: 0,
    edsCount: 0,
    done: false,
  };
  if (verify && streams.length === 0) s.last = new Map();
  streams.push(s);
  call.on("data", (buf: Buffer) => onResponse(s, buf));
  call.on("error", (e: grpc.ServiceError) => {
    if (e.code === grpc.status.CANCELLED) return;
    errors++;
    if (reportedErrors++ < 3) report({ type: "error", message: `stream ${index}: ${e.message}` });
  });
  call.write(req.first(`bench-node-${index}`));
}

async function main(): Promise<void> {
  openedAt = nowMs();
  const channels = Math.ceil(streamCount / perChannel);
  for (let c = 0; c < channels; c++) {
    const channel = new grpc.Client(target, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      // One HTTP/2 connection per channel: no subchannel sharing between channels.
      "grpc.use_local_subchannel_pool": 1,
      "xdskit.bench.channel": `${clientIndex}-${c}`,
    });
    const first = c * perChannel;
    const last = Math.min(streamCount, first + perChannel);
    for (let i = first; i < last; i++) openStream(channel, offset + i);
    // Let the connection come up and the first responses flow before the next batch.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (streamCount === 0) {
    const t = nowMs();
    report({ type: "ready", streams: 0, openedAt: t, firstConfigAt: t, lastConfigAt: t });
  }
}

main().catch((e: Error) => {
  report({ type: "error", message: e.stack ?? e.message });
  process.exit(2);
});
