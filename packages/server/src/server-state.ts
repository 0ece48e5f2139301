// What every call handler of one XdsServer shares.
import type * as grpc from "@grpc/grpc-js";
import type { ResolvedXdsServerOptions } from "./options.js";

/** An open xDS stream, as close() sees it. */
export interface OpenStream {
  end(code: grpc.status, message: string): void;
}

export interface ServerState {
  readonly options: ResolvedXdsServerOptions;
  /** grpc.max_send_message_length, -1 = unlimited. */
  readonly maxSendBytes: number;
  readonly streams: Set<OpenStream>;
  /** False once close() has begun: new calls are refused UNAVAILABLE. */
  readonly serving: boolean;
  nextStreamId(): number;
}
