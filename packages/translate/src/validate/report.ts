// What every semantic rule writes to: a problem at a field path of the object being validated.

export interface Report {
  /** The object is rejected (Istio's webhook would refuse it). */
  error(path: string, message: string, code?: string): void;
  /** The object is accepted; the message only informs. */
  warning(path: string, message: string, code?: string): void;
}

export interface DurationLike {
  readonly seconds?: number;
  readonly nanos?: number;
}

// The generated Istio types mark every field optional; decoded specs have them all, objects built in code may not.
export const list = <T>(value: readonly T[] | undefined): readonly T[] => value ?? [];
export const dict = <T>(value: Readonly<Record<string, T>> | undefined): Readonly<Record<string, T>> => value ?? {};

/** Istio's rule for timeouts and intervals: at least 1ms, whole milliseconds. */
export function durationProblem(d: DurationLike | undefined): string | undefined {
  if (!d) return undefined;
  const nanos = BigInt(d.seconds ?? 0) * 1_000_000_000n + BigInt(d.nanos ?? 0);
  if (nanos < 1_000_000n) return "duration must be greater than 1ms";
  if (nanos % 1_000_000n !== 0n) return "only durations to ms precision are supported";
  return undefined;
}

export function checkDuration(report: Report, path: string, d: DurationLike | undefined): void {
  const problem = durationProblem(d);
  if (problem) report.error(path, problem);
}

/** Go's %f: six decimals. */
export const goFloat = (value: number) => value.toFixed(6);
