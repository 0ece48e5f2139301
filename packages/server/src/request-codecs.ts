// How the server's methods (de)serialize: requests decoded by their codec (a failure kept as MalformedRequest, so
// the call ends INVALID_ARGUMENT instead of grpc-js's INTERNAL), responses already encoded bytes.

/** A request whose bytes did not decode; the stream ends INVALID_ARGUMENT instead of grpc-js's INTERNAL. */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

export function decodeRequest(codec: { decode(bytes: Uint8Array): unknown }, bytes: Buffer): unknown {
  try {
    return codec.decode(bytes);
  } catch (error) {
    return new MalformedRequest((error as Error).message);
  }
}

/** Responses are encoded (and shared) before they reach grpc-js: its serializer only wraps the bytes. */
export const identitySerialize = (value: Uint8Array) => Buffer.from(value.buffer, value.byteOffset, value.byteLength);
