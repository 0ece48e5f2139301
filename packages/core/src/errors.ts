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
  override readonly name = "XdsKitError";
  constructor(
    readonly code: XdsKitErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
