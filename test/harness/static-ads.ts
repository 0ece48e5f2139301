// A minimal, test-only ADS server (SotW StreamAggregatedResources; Delta answers UNIMPLEMENTED) that
// serves a fixed set of resources. It exists to prove the harnesses and the generated types against
// real clients (Envoy, grpc-js-xds); the real server lives in packages/server.
//
// Per stream and type URL it answers the first request, and any later request whose resource names
// differ from those last answered (a subscription change), with the resources of that type: all of them
// for a wildcard (empty names) request, else those named. ACKs are recorded and ignored; NACKs
// (error_detail set) are recorded in `nacks` and not answered.
import * as grpc from "@grpc/grpc-js";
import type { Any } from "@xdskit/core";
import {
  type DiscoveryRequest,
  DiscoveryResponse,
  type MessageCodec,
  packResource,
  type ResourceKind,
  type ResourceOf,
  type ResourceType,
  resourceTypes,
} from "@xdskit/core";
import { AggregatedDiscoveryServiceDefinition } from "@xdskit/core/services";

/** Resources to serve, by kind, as generated message objects, e.g. `{ Listener: [...], Cluster: [...] }`. */
export type StaticResources = { [K in ResourceKind]?: ResourceOf<K>[] };

export interface StaticAdsOptions {
  resources: StaticResources;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** version_info of every response; default "1". */
  version?: string;
}

export interface RecordedRequest {
  /** 1, 2, ... in the order streams were opened. */
  stream: number;
  /** The node id seen on this stream (clients may send the node only on the first request). */
  nodeId: string;
  typeUrl: string;
  versionInfo: string;
  responseNonce: string;
  resourceNames: string[];
  /** Set on a NACK. */
  errorDetail?: { code: number; message: string };
}

export interface RecordedNack {
  stream: number;
  nodeId: string;
  typeUrl: string;
  responseNonce: string;
  /** The client's error message, e.g. Envoy's validation failure. */
  message: string;
}

export interface RecordedResponse {
  stream: number;
  typeUrl: string;
  nonce: string;
  resourceNames: string[];
}

export interface StaticAds {
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:<port>", for a gRPC xDS bootstrap's server_uri. */
  readonly address: string;
  readonly requests: RecordedRequest[];
  readonly nacks: RecordedNack[];
  readonly responses: RecordedResponse[];
  /** ACKs: requests carrying the nonce of a response we sent, without error_detail. */
  acks(typeUrl?: string): RecordedRequest[];
  close(): Promise<void>;
}

interface GenericMethod {
  name: string;
  requestType: MessageCodec<unknown>;
  requestStream: boolean;
  responseType: MessageCodec<unknown>;
  responseStream: boolean;
}

/** A ts-proto "generic definition" service as a grpc-js ServiceDefinition (binary protobuf on the wire). */
function grpcServiceOf(definition: {
  fullName: string;
  methods: Record<string, GenericMethod>;
}): grpc.ServiceDefinition {
  const service: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of Object.values(definition.methods)) {
    service[method.name] = {
      path: `/${definition.fullName}/${method.name}`,
      requestStream: method.requestStream,
      responseStream: method.responseStream,
      requestSerialize: (message: unknown) => Buffer.from(method.requestType.encode(message).finish()),
      requestDeserialize: (bytes: Buffer) => method.requestType.decode(bytes),
      responseSerialize: (message: unknown) => Buffer.from(method.responseType.encode(message).finish()),
      responseDeserialize: (bytes: Buffer) => method.responseType.decode(bytes),
      originalName: method.name,
    };
  }
  return service;
}

export async function startStaticAds(options: StaticAdsOptions): Promise<StaticAds> {
  const host = options.host ?? "127.0.0.1";
  const version = options.version ?? "1";

  // Pack every resource once; streams share the bytes.
  const byType = new Map<string, Array<{ name: string; any: Any }>>();
  for (const [kind, list] of Object.entries(options.resources) as Array<[ResourceKind, unknown[] | undefined]>) {
    const type = resourceTypes[kind] as ResourceType<unknown>;
    byType.set(
      type.typeUrl,
      (list ?? []).map((resource) => ({ name: type.nameOf(resource), any: packResource(type, resource) })),
    );
  }

  const requests: RecordedRequest[] = [];
  const nacks: RecordedNack[] = [];
  const responses: RecordedResponse[] = [];
  const sentNonces = new Set<string>();
  let streamCount = 0;
  let nonceCount = 0;

  const streamAggregatedResources = (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
    const stream = ++streamCount;
    let nodeId = "";
    const answered = new Map<string, string>(); // typeUrl → sorted resource names last answered
    call.on("data", (request: DiscoveryRequest) => {
      if (request.node?.id) nodeId = request.node.id;
      const typeUrl = request.typeUrl ?? "";
      const names = [...(request.resourceNames ?? [])];
      const recorded: RecordedRequest = {
        stream,
        nodeId,
        typeUrl,
        versionInfo: request.versionInfo ?? "",
        responseNonce: request.responseNonce ?? "",
        resourceNames: names,
      };
      if (request.errorDetail) {
        recorded.errorDetail = { code: request.errorDetail.code ?? 0, message: request.errorDetail.message ?? "" };
        nacks.push({
          stream,
          nodeId,
          typeUrl,
          responseNonce: recorded.responseNonce,
          message: recorded.errorDetail.message,
        });
      }
      requests.push(recorded);
      if (request.errorDetail) return;

      const key = [...names].sort().join("\n");
      if (answered.get(typeUrl) === key) return; // an ACK, or a repeat of what was answered
      answered.set(typeUrl, key);
      const all = byType.get(typeUrl) ?? [];
      const chosen = names.length === 0 ? all : all.filter((r) => names.includes(r.name));
      const nonce = String(++nonceCount);
      sentNonces.add(nonce);
      responses.push({ stream, typeUrl, nonce, resourceNames: chosen.map((r) => r.name) });
      call.write(
        DiscoveryResponse.fromPartial({ versionInfo: version, typeUrl, nonce, resources: chosen.map((r) => r.any) }),
      );
    });
    call.on("end", () => call.end());
    call.on("error", () => {}); // client went away
  };

  const server = new grpc.Server();
  server.addService(
    grpcServiceOf(
      AggregatedDiscoveryServiceDefinition as unknown as { fullName: string; methods: Record<string, GenericMethod> },
    ),
    { StreamAggregatedResources: streamAggregatedResources },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );

  let closed: Promise<void> | undefined;
  return {
    host,
    port,
    address: `${host}:${port}`,
    requests,
    nacks,
    responses,
    acks: (typeUrl) =>
      requests.filter(
        (r) => !r.errorDetail && sentNonces.has(r.responseNonce) && (typeUrl === undefined || r.typeUrl === typeUrl),
      ),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      });
      return closed;
    },
  };
}
