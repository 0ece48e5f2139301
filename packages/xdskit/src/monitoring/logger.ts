// Structured logs (pino): one JSON object per line, so "what changed, which proxies got it, who NACKed" can be
// searched and graphed.
import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

export interface LoggerSetup {
  /** "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent". Default: "info". */
  readonly level?: string;
  /** Where lines go. Default: stdout. */
  readonly destination?: NodeJS.WritableStream;
  /** Fields on every line. Default: { component: "xdskit" }. */
  readonly base?: Record<string, unknown>;
}

export function createLogger(setup: LoggerSetup = {}): Logger {
  const options: LoggerOptions = { level: setup.level ?? "info", base: setup.base ?? { component: "xdskit" } };
  return setup.destination ? pino(options, setup.destination as pino.DestinationStream) : pino(options);
}
