import type { DeltaDiscoveryRequest, DiscoveryRequest, Node } from "@xdskit/core";

/** The kind of a stream: SotW or delta, aggregated (ADS) or one type. */
export interface StreamInfo {
  readonly streamId: number;
  /** Full gRPC method path, e.g. /envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources. */
  readonly method: string;
  readonly delta: boolean;
  /** The peer's "ip:port". */
  readonly peer: string;
}

export interface ResponseInfo {
  readonly streamId: number;
  readonly node: Node;
  readonly typeUrl: string;
  readonly version: string;
  readonly nonce: string;
  readonly resourceNames: readonly string[];
  readonly removedNames: readonly string[];
  /** Encoded size of the response message. */
  readonly bytes: number;
}

export interface AckInfo {
  readonly streamId: number;
  readonly node: Node;
  readonly typeUrl: string;
  readonly version: string;
  readonly nonce: string;
}

export interface NackInfo extends AckInfo {
  readonly errorCode: number;
  readonly errorMessage: string;
}

/**
 * Hooks called by the server. All are optional; async ones are awaited before the stream goes on
 * (requests of one stream are handled in order). A hook that throws ends that stream with INTERNAL,
 * never the server.
 */
export interface XdsServerCallbacks {
  onStreamOpen?(info: StreamInfo): void | Promise<void>;
  onStreamClose?(info: StreamInfo & { readonly node?: Node; readonly error?: Error }): void;
  onRequest?(info: StreamInfo & { readonly request: DiscoveryRequest | DeltaDiscoveryRequest }): void | Promise<void>;
  onResponse?(info: ResponseInfo): void;
  onAck?(info: AckInfo): void;
  onNack?(info: NackInfo): void;
}
