// grpc.health.v1.Health: SERVING until close() begins, then NOT_SERVING (also pushed to every Watch).
import type * as grpc from "@grpc/grpc-js";
import {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthDefinition,
} from "@xdskit/core/services";
import { identitySerialize } from "./request-codecs.js";

export type HealthWatchers = Set<grpc.ServerWritableStream<HealthCheckRequest, Uint8Array>>;

export function encodeHealth(status: HealthCheckResponse_ServingStatus): Uint8Array {
  return HealthCheckResponse.encode({ status }).finish();
}

/** Tells every open Watch that the server no longer serves. */
export function announceNotServing(watchers: HealthWatchers): void {
  for (const watcher of watchers) watcher.write(encodeHealth(HealthCheckResponse_ServingStatus.NOT_SERVING));
}

export function addHealthService(server: grpc.Server, isServing: () => boolean, watchers: HealthWatchers): void {
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
