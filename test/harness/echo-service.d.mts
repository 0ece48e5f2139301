// Types of echo-service.mjs.
import type { Client, Metadata, ServiceDefinition } from "@grpc/grpc-js";

export declare const ECHO_SERVICE: string;
export declare const WHO_PATH: string;

/** What the Echo upstream answers: who it is and the request metadata it saw. */
export interface WhoReply {
  service: string;
  version: string;
  metadata: Record<string, string>;
}

export declare function serializeJson(value: unknown): Buffer;
export declare function deserializeJson(bytes: Buffer): unknown;
export declare const echoServiceDefinition: ServiceDefinition;
export declare function metadataToObject(metadata: Metadata): Record<string, string>;

export interface WhoCallOptions {
  metadata?: Record<string, string>;
  /** Default 5000. */
  deadlineMs?: number;
  /** Queue the call while the channel connects instead of failing fast on TRANSIENT_FAILURE. Default false. */
  waitForReady?: boolean;
  request?: unknown;
}

export declare function who(client: Client, options?: WhoCallOptions): Promise<WhoReply>;
