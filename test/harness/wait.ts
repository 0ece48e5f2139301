// Polling helpers for tests that wait on another process (Envoy, a gRPC client) to converge.

export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Default 50 ms. */
  intervalMs?: number;
  /** Prefix of the timeout error, e.g. "envoy: cluster reviews-v2 healthy". */
  what?: string;
  /** Extra text appended to the timeout error (e.g. a log tail); called only on timeout. */
  detail?: () => string;
}

/**
 * Polls `predicate` until it returns a truthy value (returned) or the timeout passes (throws, naming the
 * last error the predicate threw). A predicate that throws counts as "not yet".
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutOrOptions: number | WaitOptions = {},
): Promise<NonNullable<T>> {
  const options = typeof timeoutOrOptions === "number" ? { timeoutMs: timeoutOrOptions } : timeoutOrOptions;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const last = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
      const detail = options.detail ? `\n${options.detail()}` : "";
      throw new Error(`${options.what ?? "waitFor"}: timed out after ${timeoutMs} ms${last}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
