// When a certificate is renewed (by the control plane: a proxy's workload certificate, its own 15012 one; by the
// agent: its xDS client certificate), and the timer that does it.
import { type IssuedCertificate, nextRotationTime, type RotationOptions } from "@xdskit/certs";

/** setTimeout's longest delay (~24.8 days); a longer one fires at once. Half of a 90-day certificate is longer. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * When to renew `certificate`, issued at `issuedAt` (ms): the CA backdates NotBefore (clock skew), so the lifetime
 * that counts starts when it was issued.
 */
export function renewalTime(
  certificate: Pick<IssuedCertificate, "notBefore" | "notAfter">,
  issuedAt: number,
  rotation?: RotationOptions,
): Date {
  const validFrom = new Date(Math.max(issuedAt, certificate.notBefore.getTime()));
  return nextRotationTime({ notBefore: validFrom, notAfter: certificate.notAfter }, rotation);
}

/** An unref'd timer; a renewal due later than the longest timer runs at that timer instead (early, never in a loop). */
export function renewalTimer(run: () => void, delayMs: number): NodeJS.Timeout {
  const timer = setTimeout(run, Math.min(MAX_TIMER_MS, Math.max(0, delayMs)));
  timer.unref();
  return timer;
}
