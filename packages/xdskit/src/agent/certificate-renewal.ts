// The agent's own workload certificate (pilot-agent's secret manager, for the xDS connection): fetched from the
// control plane's CA at start, written where Envoy's watched SDS files point, and renewed at half its lifetime
// with jitter. A failed renewal keeps the files as they are (the old certificate serves until it expires) and is
// retried with exponential backoff.
import { nextRotationTime, type RotationOptions, writeWorkloadFiles } from "@xdskit/certs";
import { XdsKitError } from "@xdskit/core";
import { renewalTime, renewalTimer } from "../control-plane/renewal.js";
import {
  CertificateFetchError,
  type CertificateRequestOptions,
  type FetchedCertificate,
  requestCertificate,
} from "./certificate-client.js";

export interface CertificateRenewalOptions extends Omit<CertificateRequestOptions, "current"> {
  /** Where cert-chain.pem, key.pem and root-cert.pem are written. */
  readonly dir: string;
  /** When to renew: fraction of the lifetime and jitter. Default: Istio's 0.5 ± 0.01. */
  readonly rotation?: Omit<RotationOptions, "random">;
  /** Backoff after a failed attempt: first delay, doubling up to the longest. Default: 1000 ms to 60000 ms. */
  readonly retry?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /** The first certificate: how long an unreachable CA is retried before giving up. Default: 30000 ms. */
  readonly startTimeoutMs?: number;
  /** Each certificate written and each failed attempt. */
  readonly onEvent?: (event: CertificateRenewalEvent) => void;
}

export type CertificateRenewalEvent =
  | {
      readonly type: "issued" | "renewed";
      readonly certificate: FetchedCertificate;
      readonly renewAt: Date;
    }
  | {
      readonly type: "failed";
      readonly error: CertificateFetchError;
      /** The next attempt is this much later. */
      readonly retryInMs: number;
      /** True while there is no certificate yet (the agent's start waits). */
      readonly first: boolean;
    };

export interface CertificateRenewal {
  /** The certificate in the files now. */
  current(): FetchedCertificate | undefined;
  /** When the next renewal (or retry) is due. */
  nextAttempt(): Date | undefined;
  /** Fetches and writes a new certificate now (and reschedules); rejects, keeping the files, on failure. */
  renewNow(): Promise<FetchedCertificate>;
  stop(): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function nonNegative(where: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0)
    throw new XdsKitError("INVALID_ARGUMENT", `${where} must be a number of milliseconds >= 0, got ${value}`);
  return n;
}

/**
 * Fetches the first certificate and writes it (resolving once it is in the files), then keeps it renewed.
 * Rejects with the reason when the CA refuses, answers something unusable, or stays unreachable for
 * `startTimeoutMs`.
 */
export async function startCertificateRenewal(options: CertificateRenewalOptions): Promise<CertificateRenewal> {
  if (typeof options?.dir !== "string" || options.dir === "")
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `startCertificateRenewal: dir must be a directory path, got ${JSON.stringify(options?.dir)}`,
    );
  const initialDelayMs = nonNegative("retry.initialDelayMs", options.retry?.initialDelayMs, 1000);
  const maxDelayMs = nonNegative("retry.maxDelayMs", options.retry?.maxDelayMs, 60_000);
  const startTimeoutMs = nonNegative("startTimeoutMs", options.startTimeoutMs, 30_000);
  const rotation = options.rotation ?? {};
  nextRotationTime({ notBefore: new Date(0), notAfter: new Date(1000) }, rotation); // a bad fraction fails here
  const { dir, onEvent } = options;
  let current: FetchedCertificate | undefined;
  let timer: NodeJS.Timeout | undefined;
  let due: Date | undefined;
  let stopped = false;
  let failures = 0;

  const backoff = () => Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(failures - 1, 30));

  const fetchAndWrite = async (): Promise<{ certificate: FetchedCertificate; renewAt: Date }> => {
    const issuedAt = Date.now();
    const certificate = await requestCertificate({ ...options, ...(current ? { current } : {}) });
    if (stopped) throw new CertificateFetchError("CLOSED", "the agent's certificate renewal was stopped", false);
    await writeWorkloadFiles(dir, certificate);
    current = certificate;
    failures = 0;
    return { certificate, renewAt: renewalTime(certificate, issuedAt, rotation) };
  };

  const schedule = (at: Date) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    due = at;
    timer = renewalTimer(() => void renew().catch(() => {}), at.getTime() - Date.now());
  };

  const asFetchError = (error: unknown) =>
    error instanceof CertificateFetchError
      ? error
      : new CertificateFetchError("INTERNAL", (error as Error)?.message ?? String(error), true, { cause: error });

  const renew = async (): Promise<FetchedCertificate> => {
    try {
      const { certificate, renewAt } = await fetchAndWrite();
      schedule(renewAt);
      onEvent?.({ type: "renewed", certificate, renewAt });
      return certificate;
    } catch (error) {
      const problem = asFetchError(error);
      if (stopped) throw problem;
      failures++;
      // The old certificate stays in the files; it still serves until it expires.
      const retryInMs = backoff();
      schedule(new Date(Date.now() + retryInMs));
      onEvent?.({ type: "failed", error: problem, retryInMs, first: false });
      throw problem;
    }
  };

  // The first certificate: an unreachable CA is retried until startTimeoutMs; a refusal ends the start at once.
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    try {
      const { certificate, renewAt } = await fetchAndWrite();
      schedule(renewAt);
      onEvent?.({ type: "issued", certificate, renewAt });
      break;
    } catch (error) {
      const problem = asFetchError(error);
      failures++;
      const retryInMs = backoff();
      if (!problem.retryable || Date.now() + retryInMs > deadline) {
        stopped = true;
        if (!problem.retryable) throw problem;
        throw new CertificateFetchError(
          problem.code,
          `${problem.message} (gave up after ${Math.round((Date.now() - deadline + startTimeoutMs) / 1000)} s)`,
          false,
          { cause: problem },
        );
      }
      onEvent?.({ type: "failed", error: problem, retryInMs, first: true });
      await sleep(retryInMs);
    }
  }

  return {
    current: () => current,
    nextAttempt: () => due,
    renewNow: () => renew(),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
