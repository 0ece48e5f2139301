// What a CLI command may touch besides its arguments, so commands run in-process in tests.

export interface CliIo {
  /** Command output (what a script pipes). */
  stdout(text: string): void;
  /** Progress and errors (what a person reads). */
  stderr(text: string): void;
  /** Aborted on Ctrl-C / SIGTERM: long-running commands stop cleanly. */
  readonly signal?: AbortSignal;
  /** The environment (ENVOY_BIN...). Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

/** A user mistake: printed as one line `xdskit: <message>` and exit code `exitCode` (default 1). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export const processIo = (signal?: AbortSignal): CliIo => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  ...(signal ? { signal } : {}),
});
