import type { ChannelOptions, ServerCredentials } from "@grpc/grpc-js";
import type { ConfigWatcher, Node } from "@xdskit/core";
import { XdsKitError } from "@xdskit/core";
import type { XdsServerCallbacks } from "./callbacks.js";
import type { ClientStatusSource } from "./csds.js";

/** Who a stream's peer is, as your `authenticate` hook decides. */
export interface Identity {
  /** e.g. a SPIFFE ID from the client certificate. */
  readonly principal: string;
  readonly [key: string]: unknown;
}

/** What `authorize` is asked: may this identity, speaking for this node, subscribe to these names? */
export interface AuthorizationRequest {
  readonly identity: Identity | undefined;
  readonly node: Node;
  readonly typeUrl: string;
  /** Names the request subscribes to ("*" for a wildcard). */
  readonly names: readonly string[];
}

/** Information about the peer available when a stream opens. */
export interface PeerInfo {
  /** "ip:port" of the peer. */
  readonly address: string;
  /** Certificates presented by the client over mTLS (DER), if any. */
  readonly certificate?: { readonly raw: Buffer; readonly subjectAltNames?: string };
}

/** Options of {@link createXdsServer}. */
export interface XdsServerOptions {
  /** Where resources come from: a SnapshotCache, LinearCache, MuxCache or your own ConfigWatcher. Required. */
  cache: ConfigWatcher;
  /** Stream lifecycle and ACK/NACK hooks. Default: none. */
  callbacks?: XdsServerCallbacks;
  /** gRPC server credentials (TLS, mTLS). Default: insecure (plaintext), as Envoy's and gRPC's xDS samples. */
  credentials?: ServerCredentials;
  /** Maps a stream's peer to an identity; throw (or reject) to refuse the stream (UNAUTHENTICATED). Default: none. */
  authenticate?: (peer: PeerInfo) => Identity | undefined | Promise<Identity | undefined>;
  /**
   * Allows or refuses a subscription: return true to allow, false or a reason string to refuse
   * (the stream ends with PERMISSION_DENIED and that reason). Default: everything allowed.
   */
  authorize?: (request: AuthorizationRequest) => boolean | string | Promise<boolean | string>;
  /**
   * "send-order" (default): responses triggered together go out in make-before-break order (XDS-RULES R18).
   * "ack-gated": additionally hold a response until every earlier-ranked type's response on the stream
   * was answered (ACK or NACK), or `ackGateTimeoutMs` passed.
   */
  ordering?: "send-order" | "ack-gated";
  /** With ordering "ack-gated": how long to wait for an ACK before sending anyway. Default: 5000 ms. */
  ackGateTimeoutMs?: number;
  /**
   * Largest resource-name list accepted in one request, and largest subscription a delta stream may
   * accumulate per type; more ends the stream with INVALID_ARGUMENT. Default: 100000.
   */
  maxResourceNamesPerRequest?: number;
  /**
   * TTL heartbeats (XDS-RULES R29-R31): how often a resource with a TTL (`prepareResource(..., { ttlMs })`)
   * that a client accepted is refreshed by a heartbeat, in ms. Default: half of each resource's TTL.
   * Heartbeats go to clients announcing the client feature `xds.config.supports-resource-ttl`; SotW also
   * needs `xds.config.supports-resource-in-sotw` (or gRPC's spelling `xds.config.resource-in-sotw`), without
   * which SotW resources go out plain, without TTL. VHDS gets none (Envoy reads body-less VHDS resources
   * as unresolved aliases). Delta and SotW EDS/RDS/SDS/...: a Resource without body at the client's
   * version. SotW LDS/CDS: the last accepted response is resent whole, because those clients replace
   * their whole set with each response and would drop heartbeat-only resources.
   */
  heartbeatIntervalMs?: number;
  /** Extra @grpc/grpc-js server options (keepalive, message sizes ...), merged over the defaults below. */
  grpcOptions?: ChannelOptions;
  /** Largest request message accepted, bytes. Default: 16 MiB. */
  maxReceiveMessageBytes?: number;
  /**
   * HTTP/2 receive window of each client connection, bytes: how much all its streams may send before the
   * server has read it. SotW clients repeat their whole subscription in every ACK (1,000 endpoint names are
   * ~56 KB), so HTTP/2's default of 64 KiB lets one such ACK per connection through at a time. Default: 16 MiB.
   */
  connectionWindowBytes?: number;
  /** HTTP/2 receive window of each stream, bytes (HTTP/2's SETTINGS_INITIAL_WINDOW_SIZE). Default: 1 MiB. */
  streamWindowBytes?: number;
  /** Server keepalive ping interval, ms. Default: 30000. */
  keepaliveTimeMs?: number;
  /** How long to wait for a keepalive ack, ms. Default: 10000. */
  keepaliveTimeoutMs?: number;
  /** Services to register. Default: all true. */
  services?: {
    /** StreamAggregatedResources + DeltaAggregatedResources. */
    ads?: boolean;
    /** The per-type services (LDS, RDS, CDS, EDS, SDS, SRDS, VHDS, RTDS, ECDS, LEDS), SotW and delta. */
    perType?: boolean;
    /** grpc.health.v1.Health. */
    health?: boolean;
    /** envoy.service.status.v3.ClientStatusDiscoveryService (needs `clientStatus`). */
    csds?: boolean;
  };
  /**
   * Where CSDS reads each node's sent/ACKed/NACKed state. Default: the cache itself when it has an ACK
   * tracker (a SnapshotCache does); otherwise CSDS is not served.
   */
  clientStatus?: ClientStatusSource;
}

export interface ResolvedXdsServerOptions {
  readonly cache: ConfigWatcher;
  readonly callbacks: XdsServerCallbacks;
  readonly credentials: ServerCredentials | undefined;
  readonly authenticate: XdsServerOptions["authenticate"];
  readonly authorize: XdsServerOptions["authorize"];
  readonly ordering: "send-order" | "ack-gated";
  readonly ackGateTimeoutMs: number;
  readonly maxResourceNamesPerRequest: number;
  readonly heartbeatIntervalMs: number | undefined;
  readonly grpcOptions: ChannelOptions;
  readonly connectionWindowBytes: number;
  readonly streamWindowBytes: number;
  readonly services: { ads: boolean; perType: boolean; health: boolean; csds: boolean };
  readonly clientStatus: ClientStatusSource | undefined;
}

/** Validates options and fills defaults; throws XdsKitError INVALID_ARGUMENT on a bad option. */
export function resolveXdsServerOptions(options: XdsServerOptions): ResolvedXdsServerOptions {
  if (!options || typeof options.cache?.watchSotw !== "function" || typeof options.cache?.watchDelta !== "function")
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      "createXdsServer: options.cache must implement ConfigWatcher (watchSotw, watchDelta)",
    );
  const positive = (name: string, value: number | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value <= 0)
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `createXdsServer: options.${name} must be a positive number, got ${value}`,
      );
    return value;
  };
  // HTTP/2 windows: at least the protocol's default, at most 2^31-1 (RFC 9113, 6.9.1).
  const windowSize = (name: string, value: number | undefined, fallback: number) => {
    const size = positive(name, value, fallback);
    if (!Number.isInteger(size) || size < 65_535 || size > 2 ** 31 - 1)
      throw new XdsKitError(
        "INVALID_ARGUMENT",
        `createXdsServer: options.${name} must be an integer from 65535 to 2147483647, got ${size}`,
      );
    return size;
  };
  const ordering = options.ordering ?? "send-order";
  if (ordering !== "send-order" && ordering !== "ack-gated")
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `createXdsServer: options.ordering must be "send-order" or "ack-gated", got "${ordering}"`,
    );
  return {
    cache: options.cache,
    callbacks: options.callbacks ?? {},
    credentials: options.credentials,
    authenticate: options.authenticate,
    authorize: options.authorize,
    ordering,
    ackGateTimeoutMs: positive("ackGateTimeoutMs", options.ackGateTimeoutMs, 5000),
    maxResourceNamesPerRequest: positive("maxResourceNamesPerRequest", options.maxResourceNamesPerRequest, 100_000),
    heartbeatIntervalMs:
      options.heartbeatIntervalMs === undefined
        ? undefined
        : positive("heartbeatIntervalMs", options.heartbeatIntervalMs, 0),
    grpcOptions: {
      "grpc.max_receive_message_length": positive(
        "maxReceiveMessageBytes",
        options.maxReceiveMessageBytes,
        16 * 1024 * 1024,
      ),
      "grpc.max_send_message_length": -1,
      "grpc.keepalive_time_ms": positive("keepaliveTimeMs", options.keepaliveTimeMs, 30_000),
      "grpc.keepalive_timeout_ms": positive("keepaliveTimeoutMs", options.keepaliveTimeoutMs, 10_000),
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
      ...options.grpcOptions,
    },
    connectionWindowBytes: windowSize("connectionWindowBytes", options.connectionWindowBytes, 16 * 1024 * 1024),
    streamWindowBytes: windowSize("streamWindowBytes", options.streamWindowBytes, 1024 * 1024),
    services: {
      ads: options.services?.ads ?? true,
      perType: options.services?.perType ?? true,
      health: options.services?.health ?? true,
      csds: options.services?.csds ?? true,
    },
    clientStatus: options.clientStatus ?? (isClientStatusSource(options.cache) ? options.cache : undefined),
  };
}

function isClientStatusSource(value: unknown): value is ClientStatusSource {
  const tracker = (value as { tracker?: { nodes?: unknown } }).tracker;
  return typeof tracker?.nodes === "function";
}
