// Unary Fetch<Plural>: the current DiscoveryResponse of the service's type, or FAILED_PRECONDITION "skip fetch:
// version up to date" when the request's version_info is current (XDS-RULES R32). No stream state; the nonce
// is ignored. What is answered is decided by fetch.ts, as for REST.
import * as grpc from "@grpc/grpc-js";
import type { DiscoveryRequest, ResourceType } from "@xdskit/core";
import { authenticate, grpcStatusOf } from "./call-outcome.js";
import { FETCH_UP_TO_DATE, fetchDiscovery, listed } from "./fetch.js";
import { MalformedRequest } from "./request-codecs.js";
import type { ServerState } from "./server-state.js";
import { encodeSotwResponse } from "./wire.js";

/** The grpc-js handler of `methodName` (e.g. "FetchClusters") of `type`'s service. */
export function fetchCallHandler(state: ServerState, methodName: string, type: ResourceType) {
  return (
    call: grpc.ServerUnaryCall<DiscoveryRequest | MalformedRequest, Uint8Array>,
    callback: grpc.sendUnaryData<Uint8Array>,
  ) => {
    const { options } = state;
    const request = call.request;
    if (!state.serving) return callback({ code: grpc.status.UNAVAILABLE, details: "server is shutting down" });
    if (request instanceof MalformedRequest)
      return callback({
        code: grpc.status.INVALID_ARGUMENT,
        details: `malformed request message: ${request.reason}`,
      });
    const cancelled = new AbortController();
    call.on("cancelled", () => cancelled.abort());
    const serve = async () => {
      const identity = await authenticate(options, call);
      const authorize = options.authorize;
      const response = await fetchDiscovery(request, {
        cache: options.cache,
        type,
        endpoint: methodName,
        pollTimeoutMs: 0,
        maxResourceNames: options.maxResourceNamesPerRequest,
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
}
