import { StreamDecoder } from "@grpc/grpc-js/build/src/stream-decoder.js";
import { describe, expect, it } from "vitest";
import { releaseDecodedMessages } from "./grpc-internals.js";

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
