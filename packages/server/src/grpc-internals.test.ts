import { StreamDecoder } from "@grpc/grpc-js/build/src/stream-decoder.js";
import { describe, expect, it } from "vitest";
import { directWriter, releaseDecodedMessages } from "./grpc-internals.js";

const framed = (body: Buffer) => {
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
};

describe("releaseDecodedMessages", () => {
  it("grpc-js's decoder keeps no part of a message once it is decoded (interceptors or not)", () => {
    for (const wrap of [(c: object) => c, (c: object) => ({ nextCall: c })]) {
      const decoder = new StreamDecoder(-1);
      expect(releaseDecodedMessages({ call: wrap({ decoder }) })).toBe(true);
      const message = framed(Buffer.alloc(100_000, 7));
      // The message arrives in two chunks, as HTTP/2 DATA frames do.
      expect(decoder.write(message.subarray(0, 60_000))).toEqual([]);
      const [decoded] = decoder.write(message.subarray(60_000));
      expect(decoded?.length).toBe(100_005);
      const state = decoder as unknown as { readPartialMessage: Buffer[]; readCompressFlag: Buffer };
      expect(state.readPartialMessage).toEqual([]);
      expect(state.readCompressFlag.buffer).not.toBe(message.buffer);
      // And it still decodes what comes next.
      expect(decoder.write(framed(Buffer.from("next")))).toEqual([framed(Buffer.from("next"))]);
    }
  });

  it("does nothing to a call without grpc-js's decoder", () => {
    expect(releaseDecodedMessages({})).toBe(false);
    expect(releaseDecodedMessages({ call: { decoder: {} } })).toBe(false);
  });
});

describe("directWriter", () => {
  it("writes the framed buffer itself to the HTTP/2 stream, after the response headers", () => {
    const written: Buffer[] = [];
    const calls: string[] = [];
    const stream = {
      write: (b: Buffer, _cb: (e?: Error) => void) => {
        written.push(b);
        return written.length < 2;
      },
      on: (event: string) => calls.push(`on:${event}`),
    };
    const base = {
      stream,
      decoder: {},
      checkCancelled: () => false,
      maybeSendMetadata: () => calls.push("headers"),
    };
    const writer = directWriter({ call: base });
    const framed = Buffer.from([0, 0, 0, 0, 1, 42]);
    expect(writer?.write(framed, () => {})).toBe(true);
    expect(writer?.write(framed, () => {})).toBe(false);
    writer?.onDrain(() => {});
    expect(written[0]).toBe(framed);
    expect(calls).toEqual(["headers", "headers", "on:drain"]);
  });

  it("is not used for calls of another shape (interceptors, other grpc-js versions)", () => {
    expect(directWriter({})).toBeUndefined();
    expect(directWriter({ call: { nextCall: {} } })).toBeUndefined();
    expect(directWriter({ call: { stream: {}, checkCancelled() {}, maybeSendMetadata() {} } })).toBeUndefined();
  });
});
