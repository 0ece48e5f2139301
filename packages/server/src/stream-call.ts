// One xDS stream call (Stream*/Delta*, aggregated or per type): grpc-js's duplex call wired to a SotwStream or
// DeltaStream, its requests handled in order, and one way to end it whatever ends it first.
import * as grpc from "@grpc/grpc-js";
import type { DeltaDiscoveryRequest, DiscoveryRequest, ResourceType } from "@xdskit/core";
import { authenticate, grpcStatusOf } from "./call-outcome.js";
import type { StreamInfo } from "./callbacks.js";
import { DeltaStream } from "./delta-stream.js";
import { releaseDecodedMessages } from "./grpc-internals.js";
import { MalformedRequest } from "./request-codecs.js";
import { createRequestQueue } from "./request-queue.js";
import type { ServerState } from "./server-state.js";
import { SotwStream } from "./sotw-stream.js";
import { StreamError } from "./stream-base.js";
import { createStreamIo } from "./stream-io.js";

type DiscoveryCall = grpc.ServerDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, Uint8Array>;

/** The grpc-js handler of a SotW or delta method; `fixedType` for a per-type service, undefined for ADS. */
export function streamCallHandler(
  state: ServerState,
  kind: "sotw" | "delta",
  method: string,
  fixedType: ResourceType | undefined,
): (call: DiscoveryCall) => void {
  return (call) => serveStreamCall(state, kind, method, fixedType, call);
}

function serveStreamCall(
  state: ServerState,
  kind: "sotw" | "delta",
  method: string,
  fixedType: ResourceType | undefined,
  call: DiscoveryCall,
): void {
  const { options } = state;
  const info: StreamInfo = { streamId: state.nextStreamId(), method, delta: kind === "delta", peer: call.getPeer() };
  releaseDecodedMessages(call);
  let stream: SotwStream | DeltaStream | undefined;
  const ending = {
    ended: false,
    end(code: grpc.status, message: string, error?: Error) {
      if (ending.ended) return;
      ending.ended = true;
      stream?.close();
      state.streams.delete(ending);
      if (stream?.node) options.cache.feedback?.closed({ streamId: info.streamId, node: stream.node });
      try {
        options.callbacks.onStreamClose?.({
          ...info,
          ...(stream?.node ? { node: stream.node } : {}),
          ...(error ? { error } : {}),
        });
      } catch {
        // A throwing close hook must not affect other streams.
      }
      if (code === grpc.status.OK) call.end();
      else call.emit("error", { code, details: message });
    },
  };
  const end = (code: grpc.status, message: string, error?: Error) => ending.end(code, message, error);
  if (!state.serving) {
    end(grpc.status.UNAVAILABLE, "server is shutting down");
    return;
  }
  const io = createStreamIo(call, state.maxSendBytes, ending);
  const run = createRequestQueue((error) => {
    const { code, details } = grpcStatusOf(error);
    end(code, details, error as Error);
  });
  const start = async () => {
    const identity = await authenticate(options, call);
    await options.callbacks.onStreamOpen?.(info);
    const fixedTypeUrl = fixedType?.typeUrl;
    stream =
      kind === "sotw"
        ? new SotwStream(info, options, io, identity, fixedTypeUrl)
        : new DeltaStream(info, options, io, identity, fixedTypeUrl);
  };
  state.streams.add(ending);
  run(start);
  call.on("data", (request: DiscoveryRequest | DeltaDiscoveryRequest | MalformedRequest) =>
    run(() => {
      if (ending.ended || !stream) return;
      if (request instanceof MalformedRequest)
        throw new StreamError(grpc.status.INVALID_ARGUMENT, `malformed request message: ${request.reason}`);
      if (stream instanceof SotwStream) return stream.handle(request as DiscoveryRequest);
      return stream.handle(request as DeltaDiscoveryRequest);
    }),
  );
  call.on("end", () => run(() => end(grpc.status.OK, "")));
  call.on("error", (error) => end(grpc.status.CANCELLED, error.message));
  call.on("close", () => end(grpc.status.CANCELLED, "stream closed by the client"));
}
