/** Machine-readable codes of {@link XdsKitError}. */
export type XdsKitErrorCode =
  /** A server's `listen`: another process holds the port. */
  | "ADDRESS_IN_USE"
  /** A server's `listen` called while it is listening (or binding) already. */
  | "ALREADY_LISTENING"
  | "UNKNOWN_TYPE_URL"
  | "UNKNOWN_MESSAGE_TYPE"
  | "DECODE_FAILED"
  | "JSON_CONVERSION_FAILED"
  | "INVALID_ARGUMENT"
  | "NACKED"
  | "TIMEOUT"
  | "CLOSED"
  /** The caller is known but asks for something it may not have (e.g. a certificate for another identity). */
  | "PERMISSION_DENIED"
  /** The caller could not be identified. */
  | "UNAUTHENTICATED"
  /** A fault of xdskit itself or of a dependency it relies on. */
  | "INTERNAL";

/**
 * The one error class xdskit throws, for programmer and runtime faults.
 * User configuration errors are returned as diagnostics instead of thrown.
 */
export class XdsKitError extends Error {
  override readonly name: string = "XdsKitError";
  /** Structured facts about the fault (plain, JSON-serialisable data), where the message has some to give. */
  readonly details?: Readonly<Record<string, unknown>>;
  constructor(
    readonly code: XdsKitErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options);
    if (options?.details) this.details = Object.freeze({ ...options.details });
  }
}

/** What a client rejected, and why: the facts of one NACK. */
export interface NackDetails {
  readonly nodeId: string;
  readonly typeUrl: string;
  /** The rejected response's version (SotW `version_info`; on delta the type's version it was computed from). */
  readonly version: string;
  readonly nonce: string;
  /** Names of the resources the rejected response carried: the rejected one is among them. */
  readonly resourceNames: readonly string[];
  /** The request's `error_detail` (a `google.rpc.Status`). */
  readonly errorDetail: { readonly code: number; readonly message: string };
}

/** An {@link XdsKitError} with code `NACKED`, carrying the NACK's facts as fields. */
export class NackError extends XdsKitError implements NackDetails {
  override readonly name: string = "NackError";
  readonly nodeId: string;
  readonly typeUrl: string;
  readonly version: string;
  readonly nonce: string;
  readonly resourceNames: readonly string[];
  readonly errorDetail: { readonly code: number; readonly message: string };
  constructor(message: string, nack: NackDetails) {
    super("NACKED", message, { details: { ...nack } });
    this.nodeId = nack.nodeId;
    this.typeUrl = nack.typeUrl;
    this.version = nack.version;
    this.nonce = nack.nonce;
    this.resourceNames = Object.freeze([...nack.resourceNames]);
    this.errorDetail = Object.freeze({ ...nack.errorDetail });
  }
}
