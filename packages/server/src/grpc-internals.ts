// The places xdskit reaches into @grpc/grpc-js (pinned: 1.14.7) where it offers no option. Each is checked by
// test/conformance/server-options.test.ts, so an upgrade that moves these internals fails CI.
import type { Http2Server, ServerHttp2Session, ServerHttp2Stream } from "node:http2";
import type * as grpc from "@grpc/grpc-js";
import { XdsKitError } from "@xdskit/core";

const DEFAULT_WINDOW = 65_535;

/**
 * Gives every HTTP/2 connection the server accepts the configured receive windows. grpc-js has no option
 * for them, so this wraps the factory of its HTTP/2 servers on this server object, before any exists.
 */
export function widenReceiveWindows(server: grpc.Server, connectionWindow: number, streamWindow: number): void {
  const internals = server as unknown as { createHttp2Server?: (...args: unknown[]) => Http2Server };
  const create = internals.createHttp2Server;
  if (typeof create !== "function")
    throw new XdsKitError("INTERNAL", "this @grpc/grpc-js version has no createHttp2Server; use @grpc/grpc-js 1.14");
  const tune = (session: ServerHttp2Session) => {
    if (streamWindow !== DEFAULT_WINDOW) session.settings({ initialWindowSize: streamWindow });
    if (connectionWindow !== DEFAULT_WINDOW) session.setLocalWindowSize(connectionWindow);
  };
  internals.createHttp2Server = function (this: unknown, ...args: unknown[]) {
    const http2Server = create.apply(this, args);
    http2Server.on("session", tune);
    return http2Server;
  };
}

/** grpc-js's per-call message decoder (its StreamDecoder), as far as this module relies on it. */
interface MessageDecoder {
  write(data: Buffer): Buffer[];
  readState: number;
  readCompressFlag: Buffer;
  readPartialMessage: Buffer[];
}

const NO_DATA = 0;
const SPARE_FLAG = Buffer.alloc(1);
let releasing = 0;

/**
 * grpc-js's decoder keeps the chunks of the last message it decoded (and a one-byte slice of the chunk it began
 * in) until the next message begins. A SotW client's ACK repeats its whole subscription, so every idle stream
 * would pin its last ACK's bytes: about 56 KB at 1,000 endpoint names, 280 KB at 5,000. After each write that
 * ends on a message boundary this drops those references (the decoder replaces both before it reads again).
 * Returns whether the call's decoder was found.
 */
export function releaseDecodedMessages(call: object): boolean {
  let inner = (call as { call?: object }).call as { decoder?: MessageDecoder; nextCall?: object } | undefined;
  // Interceptors wrap the base call; the decoder lives on the innermost one.
  while (inner && !inner.decoder && inner.nextCall) inner = inner.nextCall as typeof inner;
  const decoder = inner?.decoder;
  if (!decoder || typeof decoder.write !== "function" || !Array.isArray(decoder.readPartialMessage)) return false;
  const write = decoder.write;
  decoder.write = function (this: MessageDecoder, data: Buffer) {
    const messages = write.call(this, data);
    if (this.readState === NO_DATA) {
      this.readPartialMessage.length = 0;
      this.readCompressFlag = SPARE_FLAG;
    }
    return messages;
  };
  releasing++;
  return true;
}

/** How many calls had their decoder released (for the conformance test that guards grpc-js upgrades). */
export function releasedDecoders(): number {
  return releasing;
}

/** grpc-js's innermost server call, as far as the direct writer relies on it. */
interface BaseCall {
  stream: ServerHttp2Stream;
  decoder?: unknown;
  checkCancelled(): boolean;
  maybeSendMetadata(): void;
}

/** Writes one framed gRPC message; false when the stream's buffer is full (wait for `onDrain`). */
export interface DirectWriter {
  write(framed: Buffer, onError: (error: Error) => void): boolean;
  onDrain(listener: () => void): void;
}

let direct = 0;

/**
 * A writer that hands a response, already framed, straight to the call's HTTP/2 stream. grpc-js copies every
 * message into a buffer of its own before writing it; a response shared by thousands of streams would then be
 * copied once per stream, and held once per stream until the socket drains (a full cluster list at 1,000
 * clusters is 1.1 MB). Undefined when the call is not the shape expected (or interceptors wrap it): write through
 * grpc-js then. Response headers still go through grpc-js, and so do trailers, which Node sends after the data.
 */
export function directWriter(call: object): DirectWriter | undefined {
  const base = (call as { call?: Partial<BaseCall> }).call;
  if (
    !base?.stream ||
    typeof base.stream.write !== "function" ||
    typeof base.checkCancelled !== "function" ||
    typeof base.maybeSendMetadata !== "function" ||
    !("decoder" in base)
  )
    return undefined;
  const { stream } = base;
  const checked = base as BaseCall;
  direct++;
  return {
    write(framed, onError) {
      if (checked.checkCancelled()) return true;
      checked.maybeSendMetadata();
      return stream.write(framed, (error) => {
        if (error) onError(error);
      });
    },
    onDrain: (listener) => stream.on("drain", listener),
  };
}

/** How many calls write directly (for the conformance test that guards grpc-js upgrades). */
export function directWriters(): number {
  return direct;
}
