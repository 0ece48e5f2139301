// What the grpc-js baseline servers (reference, floor) share: a loopback listener and their stream set.
import * as grpc from "@grpc/grpc-js";
import { LOOPBACK } from "./proc.js";

/** Binds `server` to `port` on loopback; resolves to the backend's `close`. */
export async function listenOnLoopback(server: grpc.Server, port: number): Promise<() => Promise<void>> {
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`${LOOPBACK}:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return async () => server.forceShutdown();
}

/** Keeps `stream` in `streams` while its call is open; a client that half-closes gets the call ended. */
export function trackWhileOpen<S>(streams: Set<S>, stream: S, call: grpc.ServerDuplexStream<unknown, unknown>): void {
  streams.add(stream);
  const drop = () => streams.delete(stream);
  call.on("end", () => {
    drop();
    call.end();
  });
  call.on("error", drop);
  call.on("close", drop);
}
