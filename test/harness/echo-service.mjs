// The tiny gRPC service the real-client tests call, defined without protoc: JSON on the wire.
//   service xdskit.test.Echo { rpc Who (WhoRequest) returns (WhoReply); }
// Shared by upstreams.ts (server and in-process client) and grpc-xds-client-child.mjs (xDS client).
import { createRequire } from "node:module";

// require(), not import: the grpc-js instance must be the one @grpc/grpc-js-xds registers its resolver in.
const grpc = createRequire(import.meta.url)("@grpc/grpc-js");

export const ECHO_SERVICE = "xdskit.test.Echo";
export const WHO_PATH = `/${ECHO_SERVICE}/Who`;

export function serializeJson(value) {
  return Buffer.from(JSON.stringify(value ?? {}), "utf8");
}

export function deserializeJson(bytes) {
  return bytes.length === 0 ? {} : JSON.parse(bytes.toString("utf8"));
}

/** grpc-js service definition (server.addService) of xdskit.test.Echo. */
export const echoServiceDefinition = {
  Who: {
    path: WHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: serializeJson,
    requestDeserialize: deserializeJson,
    responseSerialize: serializeJson,
    responseDeserialize: deserializeJson,
    originalName: "who",
  },
};

/** Request metadata as a plain object (binary values base64). */
export function metadataToObject(metadata) {
  const out = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    out[key] = Buffer.isBuffer(value) ? value.toString("base64") : String(value);
  }
  return out;
}

/** One unary Who call on an existing grpc.Client. */
export function who(client, { metadata = {}, deadlineMs = 5000, waitForReady = false, request = {} } = {}) {
  const md = new grpc.Metadata({ waitForReady });
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      WHO_PATH,
      serializeJson,
      deserializeJson,
      request,
      md,
      { deadline: Date.now() + deadlineMs },
      (err, reply) => (err ? reject(err) : resolve(reply)),
    );
  });
}
