// How one stream's responses reach grpc-js. Shared, framed buffers go to the HTTP/2 stream as they are when
// grpc-js's internals are as expected (grpc-internals.ts); otherwise, e.g. behind interceptors, through
// call.write, which frames (and copies) each message itself.
import * as grpc from "@grpc/grpc-js";
import { directWriter } from "./grpc-internals.js";
import type { StreamIo } from "./stream-base.js";
import { GRPC_PREFIX } from "./wire.js";

/** The stream's end, as the call that owns it keeps it. */
export interface StreamEnding {
  readonly ended: boolean;
  end(code: grpc.status, message: string): void;
}

/** The StreamIo of one call; `maxSendBytes` is grpc.max_send_message_length (-1: unlimited). */
export function createStreamIo(
  call: grpc.ServerDuplexStream<unknown, Uint8Array>,
  maxSendBytes: number,
  stream: StreamEnding,
): StreamIo {
  const fail = (code: grpc.status, message: string) => stream.end(code, message);
  const writer = directWriter(call);
  if (!writer)
    return {
      write: (framed) => stream.ended || call.write(framed.subarray(GRPC_PREFIX)),
      onDrain: (listener) => call.on("drain", listener),
      fail,
    };
  return {
    write: (framed) => {
      if (stream.ended) return true;
      // grpc-js checks its send limit in call.write, which this path skips: check it here, as it would.
      if (maxSendBytes >= 0 && framed.length - GRPC_PREFIX > maxSendBytes) {
        stream.end(
          grpc.status.RESOURCE_EXHAUSTED,
          `response larger than grpc.max_send_message_length (${framed.length - GRPC_PREFIX} > ${maxSendBytes} bytes)`,
        );
        return true;
      }
      return writer.write(framed, (error) =>
        stream.end(grpc.status.INTERNAL, `writing a response failed: ${error.message}`),
      );
    },
    onDrain: (listener) => writer.onDrain(listener),
    fail,
  };
}
