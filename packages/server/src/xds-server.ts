import * as grpc from "@grpc/grpc-js";
import { resourceTypeList } from "@xdskit/core";
import { AggregatedDiscoveryServiceDefinition, type HealthCheckRequest } from "@xdskit/core/services";
import { addClientStatusService } from "./csds.js";
import { addDiscoveryService, perTypeMethods } from "./discovery-services.js";
import { widenReceiveWindows } from "./grpc-internals.js";
import { addHealthService, announceNotServing } from "./health-service.js";
import { createServerAddress } from "./listen.js";
import { resolveXdsServerOptions, type XdsServerOptions } from "./options.js";
import type { OpenStream, ServerState } from "./server-state.js";

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

/** Builds an xDS server over @grpc/grpc-js: ADS, per-type services (SotW and delta) and gRPC health. */
export function createXdsServer(options: XdsServerOptions): XdsServer {
  const resolved = resolveXdsServerOptions(options);
  const server = new grpc.Server(resolved.grpcOptions);
  widenReceiveWindows(server, resolved.connectionWindowBytes, resolved.streamWindowBytes);
  let serving = true;
  let nextStreamId = 0;
  const streams = new Set<OpenStream>();
  const state: ServerState = {
    options: resolved,
    maxSendBytes: resolved.grpcOptions["grpc.max_send_message_length"] ?? -1,
    streams,
    get serving() {
      return serving;
    },
    nextStreamId: () => ++nextStreamId,
  };
  const healthWatchers = new Set<grpc.ServerWritableStream<HealthCheckRequest, Uint8Array>>();
  const address = createServerAddress(server, resolved.credentials ?? grpc.ServerCredentials.createInsecure());

  if (resolved.services.ads)
    addDiscoveryService(
      server,
      state,
      AggregatedDiscoveryServiceDefinition.fullName,
      AggregatedDiscoveryServiceDefinition.methods,
      undefined,
    );
  if (resolved.services.perType) {
    for (const type of resourceTypeList)
      addDiscoveryService(server, state, type.grpcService, perTypeMethods(type), type);
  }
  if (resolved.services.health) addHealthService(server, () => serving, healthWatchers);
  if (resolved.services.csds && resolved.clientStatus) addClientStatusService(server, resolved.clientStatus);

  return {
    grpcServer: server,
    get streamCount() {
      return streams.size;
    },
    listen: (where) => address.listen(where),
    async close(closeOptions = {}) {
      address.markClosed();
      serving = false;
      announceNotServing(healthWatchers);
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
