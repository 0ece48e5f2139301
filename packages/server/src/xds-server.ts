import * as grpc from "@grpc/grpc-js";
import {
  DeltaDiscoveryRequest,
  DiscoveryRequest,
  type ResourceType,
  resourceTypeList,
  XdsKitError,
} from "@xdskit/core";
import {
  AggregatedDiscoveryServiceDefinition,
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthDefinition,
  perTypeServiceDefinitions,
} from "@xdskit/core/services";
import type { StreamInfo } from "./callbacks.js";
import { addClientStatusService } from "./csds.js";
import { DeltaStream } from "./delta-stream.js";
import { FETCH_UP_TO_DATE, FetchRefused, fetchDiscovery, listed } from "./fetch.js";
import { directWriter, releaseDecodedMessages, widenReceiveWindows } from "./grpc-internals.js";
import { bindServer, parseListenAddress } from "./listen.js";
import {
  type Identity,
  type PeerInfo,
  type ResolvedXdsServerOptions,
  resolveXdsServerOptions,
  type XdsServerOptions,
} from "./options.js";
import { decodeDiscoveryRequest } from "./request-decoder.js";
import { SotwStream } from "./sotw-stream.js";
import { type StreamBase, StreamError, type StreamIo } from "./stream-base.js";
import { encodeSotwResponse, GRPC_PREFIX } from "./wire.js";

/** A running (or ready to run) xDS management server. */
export interface XdsServer {
  /**
   * Binds and starts serving; returns the bound port (useful with port 0). Address: "127.0.0.1:15010",
   * "[::1]:15010" or "unix:/path". Rejects with XdsKitError: INVALID_ARGUMENT (no port, not host:port, a bind
   * failure), ADDRESS_IN_USE (another process holds the port), ALREADY_LISTENING (a second call), CLOSED
   * (after `close`).
   */
  listen(address: string): Promise<number>;
  /**
   * Graceful shutdown: health turns NOT_SERVING, pending responses are flushed, then open streams end with
   * UNAVAILABLE so clients reconnect elsewhere. After `graceMs` (default 5000) remaining calls are cut.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /** Number of open xDS streams. */
  readonly streamCount: number;
  /** The underlying grpc-js server, to add your own services (e.g. a CA) before `listen`. */
  readonly grpcServer: grpc.Server;
}

/** A request whose bytes did not decode; the stream ends INVALID_ARGUMENT instead of grpc-js's INTERNAL. */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

function decodeRequest(codec: { decode(bytes: Uint8Array): unknown }, bytes: Buffer): unknown {
  try {
    return codec.decode(bytes);
  } catch (error) {
    return new MalformedRequest((error as Error).message);
  }
}

const identitySerialize = (value: Uint8Array) => Buffer.from(value.buffer, value.byteOffset, value.byteLength);

/** Builds an xDS server over @grpc/grpc-js: ADS, per-type services (SotW and delta) and gRPC health. */
export function createXdsServer(options: XdsServerOptions): XdsServer {
  const resolved = resolveXdsServerOptions(options);
  const server = new grpc.Server(resolved.grpcOptions);
  widenReceiveWindows(server, resolved.connectionWindowBytes, resolved.streamWindowBytes);
  const maxSendBytes = resolved.grpcOptions["grpc.max_send_message_length"] ?? -1;
  const streams = new Set<{ stream: StreamBase<never, never>; end(code: grpc.status, message: string): void }>();
  let nextStreamId = 0;
  let serving = true;
  /** Where the server listens ("127.0.0.1:15010"), while binding or bound; listen refuses a second address. */
  let listening: string | undefined;
  let closing = false;
  const healthWatchers = new Set<grpc.ServerWritableStream<HealthCheckRequest, Uint8Array>>();

  const handler =
    (kind: "sotw" | "delta", method: string, fixedType: ResourceType | undefined) =>
    (call: grpc.ServerDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, Uint8Array>) => {
      const info: StreamInfo = { streamId: ++nextStreamId, method, delta: kind === "delta", peer: call.getPeer() };
      releaseDecodedMessages(call);
      let ended = false;
      let stream: SotwStream | DeltaStream | undefined;
      const end = (code: grpc.status, message: string, error?: Error) => {
        if (ended) return;
        ended = true;
        stream?.close();
        streams.delete(entry);
        if (stream?.node) resolved.cache.feedback?.closed({ streamId: info.streamId, node: stream.node });
        try {
          resolved.callbacks.onStreamClose?.({
            ...info,
            ...(stream?.node ? { node: stream.node } : {}),
            ...(error ? { error } : {}),
          });
        } catch {
          // A throwing close hook must not affect other streams.
        }
        if (code === grpc.status.OK) call.end();
        else call.emit("error", { code, details: message });
      };
      const entry = { stream: undefined as unknown as StreamBase<never, never>, end };
      if (!serving) return end(grpc.status.UNAVAILABLE, "server is shutting down");
      // Shared responses go to the HTTP/2 stream as they are, unless grpc-js's internals are not as expected.
      const writer = directWriter(call);
      const io: StreamIo = writer
        ? {
            write: (framed) => {
              if (ended) return true;
              // grpc-js checks its send limit in call.write, which this path skips: check it here, as it would.
              if (maxSendBytes >= 0 && framed.length - GRPC_PREFIX > maxSendBytes) {
                end(
                  grpc.status.RESOURCE_EXHAUSTED,
                  `response larger than grpc.max_send_message_length (${framed.length - GRPC_PREFIX} > ${maxSendBytes} bytes)`,
                );
                return true;
              }
              return writer.write(framed, (error) =>
                end(grpc.status.INTERNAL, `writing a response failed: ${error.message}`),
              );
            },
            onDrain: (listener) => writer.onDrain(listener),
            fail: (code, message) => end(code, message),
          }
        : {
            write: (framed) => ended || call.write(framed.subarray(GRPC_PREFIX)),
            onDrain: (listener) => call.on("drain", listener),
            fail: (code, message) => end(code, message),
          };
      // Requests of one stream are handled strictly in order, async hooks awaited in between. While nothing
      // async is pending a request is handled synchronously: a plain ACK costs no promise.
      let pending: Promise<void> | undefined;
      const chain = (promise: Promise<void>) => {
        const tail: Promise<void> = promise.catch(fail).then(() => {
          if (pending === tail) pending = undefined;
        });
        pending = tail;
      };
      const run = (work: () => void | Promise<void>) => {
        if (pending) return chain(pending.then(work));
        let result: void | Promise<void>;
        try {
          result = work();
        } catch (error) {
          return fail(error);
        }
        if (result) chain(result);
      };
      const fail = (error: unknown) => {
        const { code, details } = grpcStatusOf(error);
        end(code, details, error as Error);
      };
      const start = async () => {
        const identity = await authenticate(resolved, call);
        await resolved.callbacks.onStreamOpen?.(info);
        const fixedTypeUrl = fixedType?.typeUrl;
        stream =
          kind === "sotw"
            ? new SotwStream(info, resolved, io, identity, fixedTypeUrl)
            : new DeltaStream(info, resolved, io, identity, fixedTypeUrl);
        entry.stream = stream as unknown as StreamBase<never, never>;
      };
      streams.add(entry);
      run(start);
      call.on("data", (request: DiscoveryRequest | DeltaDiscoveryRequest | MalformedRequest) =>
        run(() => {
          if (ended || !stream) return;
          if (request instanceof MalformedRequest)
            throw new StreamError(grpc.status.INVALID_ARGUMENT, `malformed request message: ${request.reason}`);
          if (stream instanceof SotwStream) return stream.handle(request as DiscoveryRequest);
          return stream.handle(request as DeltaDiscoveryRequest);
        }),
      );
      call.on("end", () => run(() => end(grpc.status.OK, "")));
      call.on("error", (error) => end(grpc.status.CANCELLED, error.message));
      call.on("close", () => end(grpc.status.CANCELLED, "stream closed by the client"));
    };

  /**
   * Fetch<Plural>: the current DiscoveryResponse of the service's type, or FAILED_PRECONDITION "skip fetch:
   * version up to date" when the request's version_info is current. No stream state; the nonce is ignored.
   */
  const fetchHandler =
    (methodName: string, type: ResourceType) =>
    (
      call: grpc.ServerUnaryCall<DiscoveryRequest | MalformedRequest, Uint8Array>,
      callback: grpc.sendUnaryData<Uint8Array>,
    ) => {
      const request = call.request;
      if (!serving) return callback({ code: grpc.status.UNAVAILABLE, details: "server is shutting down" });
      if (request instanceof MalformedRequest)
        return callback({
          code: grpc.status.INVALID_ARGUMENT,
          details: `malformed request message: ${request.reason}`,
        });
      const cancelled = new AbortController();
      call.on("cancelled", () => cancelled.abort());
      const serve = async () => {
        const identity = await authenticate(resolved, call);
        const authorize = resolved.authorize;
        const response = await fetchDiscovery(request, {
          cache: resolved.cache,
          type,
          endpoint: methodName,
          pollTimeoutMs: 0,
          maxResourceNames: resolved.maxResourceNamesPerRequest,
          signal: cancelled.signal,
          ...(authorize
            ? { authorize: (node, names) => authorize({ identity, node, typeUrl: type.typeUrl, names }) }
            : {}),
        });
        if (response) return callback(null, encodeSotwResponse(response, ""));
        const names = request.resourceNames?.length ? listed(request.resourceNames) : "[*]";
        callback({
          code: grpc.status.FAILED_PRECONDITION,
          details: `${FETCH_UP_TO_DATE}: nothing newer than version_info "${request.versionInfo ?? ""}" for ${type.typeUrl} ${names}`,
        });
      };
      serve().catch((error: unknown) => callback(grpcStatusOf(error)));
    };

  const addDiscoveryService = (
    serviceName: string,
    methods: Record<string, { name: string; requestType: unknown; requestStream: boolean; responseStream: boolean }>,
    fixedType: ResourceType | undefined,
  ) => {
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [key, method] of Object.entries(methods)) {
      const path = `/${serviceName}/${method.name}`;
      if (method.requestStream && method.responseStream) {
        const delta = method.requestType === DeltaDiscoveryRequest;
        const codec = delta
          ? DeltaDiscoveryRequest
          : { decode: decodeDiscoveryRequest, encode: DiscoveryRequest.encode };
        definition[key] = {
          path,
          requestStream: true,
          responseStream: true,
          requestSerialize: (value: unknown) => Buffer.from(codec.encode(value as never).finish()),
          requestDeserialize: (bytes: Buffer) => decodeRequest(codec, bytes),
          responseSerialize: identitySerialize as (value: unknown) => Buffer,
          responseDeserialize: (bytes: Buffer) => bytes,
        };
        implementation[key] = handler(delta ? "delta" : "sotw", path, fixedType) as grpc.handleBidiStreamingCall<
          unknown,
          unknown
        >;
      } else {
        // Unary Fetch<Plural>: REST-style polling over gRPC (XDS-RULES R32), answered by fetch.ts like REST.
        definition[key] = {
          path,
          requestStream: false,
          responseStream: false,
          requestSerialize: (value: unknown) =>
            Buffer.from(DiscoveryRequest.encode(value as DiscoveryRequest).finish()),
          requestDeserialize: (bytes: Buffer) => decodeRequest(DiscoveryRequest, bytes),
          responseSerialize: identitySerialize as (value: unknown) => Buffer,
          responseDeserialize: (bytes: Buffer) => bytes,
        };
        implementation[key] = (
          fixedType
            ? fetchHandler(method.name, fixedType)
            : (_call: unknown, callback: grpc.sendUnaryData<Uint8Array>) =>
                callback({ code: grpc.status.UNIMPLEMENTED, details: `${method.name} is not served` })
        ) as grpc.handleUnaryCall<unknown, unknown>;
      }
    }
    server.addService(definition as grpc.ServiceDefinition, implementation);
  };

  if (resolved.services.ads)
    addDiscoveryService(
      AggregatedDiscoveryServiceDefinition.fullName,
      AggregatedDiscoveryServiceDefinition.methods,
      undefined,
    );
  if (resolved.services.perType) {
    for (const type of resourceTypeList) addDiscoveryService(type.grpcService, perTypeMethods(type), type);
  }
  if (resolved.services.health) addHealthService(server, () => serving, healthWatchers);
  if (resolved.services.csds && resolved.clientStatus) addClientStatusService(server, resolved.clientStatus);

  return {
    grpcServer: server,
    get streamCount() {
      return streams.size;
    },
    async listen(address) {
      const parsed = parseListenAddress(address);
      if (closing)
        throw new XdsKitError(
          "CLOSED",
          `listen("${address}"): the server was closed; create a new XdsServer to listen again`,
        );
      if (listening)
        throw new XdsKitError(
          "ALREADY_LISTENING",
          `listen("${address}"): the server already listens on ${listening}; one XdsServer listens on one address`,
        );
      listening = `${address} (binding)`;
      try {
        const port = await bindServer(
          server,
          address,
          parsed,
          resolved.credentials ?? grpc.ServerCredentials.createInsecure(),
        );
        listening =
          "host" in parsed ? `${parsed.host.includes(":") ? `[${parsed.host}]` : parsed.host}:${port}` : address;
        return port;
      } catch (error) {
        listening = undefined;
        throw error;
      }
    },
    async close(closeOptions = {}) {
      closing = true;
      serving = false;
      for (const watcher of healthWatchers) watcher.write(encodeHealth(HealthCheckResponse_ServingStatus.NOT_SERVING));
      for (const { end } of [...streams]) end(grpc.status.UNAVAILABLE, "server is shutting down");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, closeOptions.graceMs ?? 5000);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** The status a call ends with on `error`: refusals keep their code, bad input is INVALID_ARGUMENT, the rest INTERNAL. */
function grpcStatusOf(error: unknown): { code: grpc.status; details: string } {
  if (error instanceof StreamError || error instanceof FetchRefused)
    return { code: error.code, details: error.message };
  if (error instanceof XdsKitError && error.code === "INVALID_ARGUMENT")
    return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
  return { code: grpc.status.INTERNAL, details: `internal error: ${(error as Error)?.message ?? String(error)}` };
}

/** The per-type service's methods: Stream<Plural>, Delta<Plural>, Fetch<Plural>, from the generated definitions. */
function perTypeMethods(type: ResourceType) {
  const definition = perTypeServiceDefinitions.get(type.grpcService);
  if (!definition) throw new XdsKitError("INVALID_ARGUMENT", `no generated service ${type.grpcService}`);
  return definition.methods;
}

async function authenticate(
  options: ResolvedXdsServerOptions,
  call: { getPeer(): string; getAuthContext?(): { sslPeerCertificate?: import("node:tls").PeerCertificate } },
): Promise<Identity | undefined> {
  if (!options.authenticate) return undefined;
  const auth = call.getAuthContext?.();
  const certificate = auth?.sslPeerCertificate;
  const peer: PeerInfo = {
    address: call.getPeer(),
    ...(certificate?.raw
      ? {
          certificate: {
            raw: certificate.raw,
            ...(certificate.subjectaltname ? { subjectAltNames: certificate.subjectaltname } : {}),
          },
        }
      : {}),
  };
  try {
    return await options.authenticate(peer);
  } catch (error) {
    throw new StreamError(grpc.status.UNAUTHENTICATED, `authentication failed: ${(error as Error).message}`);
  }
}

function encodeHealth(status: HealthCheckResponse_ServingStatus): Uint8Array {
  return HealthCheckResponse.encode({ status }).finish();
}

function addHealthService(
  server: grpc.Server,
  isServing: () => boolean,
  watchers: Set<grpc.ServerWritableStream<HealthCheckRequest, Uint8Array>>,
): void {
  const current = () =>
    isServing() ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING;
  const common = {
    requestSerialize: (value: HealthCheckRequest) => Buffer.from(HealthCheckRequest.encode(value).finish()),
    requestDeserialize: (bytes: Buffer) => HealthCheckRequest.decode(bytes),
    responseSerialize: identitySerialize,
    responseDeserialize: (bytes: Buffer) => bytes,
  };
  server.addService(
    {
      check: { path: `/${HealthDefinition.fullName}/Check`, requestStream: false, responseStream: false, ...common },
      watch: { path: `/${HealthDefinition.fullName}/Watch`, requestStream: false, responseStream: true, ...common },
    },
    {
      check: ((_call: unknown, callback: grpc.sendUnaryData<Uint8Array>) =>
        callback(null, encodeHealth(current()))) as grpc.handleUnaryCall<unknown, unknown>,
      watch: ((call: grpc.ServerWritableStream<HealthCheckRequest, Uint8Array>) => {
        watchers.add(call);
        call.write(encodeHealth(current()));
        call.on("cancelled", () => watchers.delete(call));
        call.on("close", () => watchers.delete(call));
      }) as grpc.handleServerStreamingCall<unknown, unknown>,
    },
  );
}
