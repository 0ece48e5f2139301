// When a workload should ask for its next certificate: half of its lifetime, with a little jitter so
// a fleet issued together does not come back together (Istio: 50% ± 1%).

import { XdsKitError } from "@xdskit/core";

/** Options of {@link nextRotationTime}. */
export interface RotationOptions {
  /** Fraction of the lifetime after which to rotate. Default: 0.5. */
  readonly fraction?: number;
  /** Largest deviation, as a fraction of the lifetime, either way. Default: 0.01. */
  readonly jitter?: number;
  /** A number in [0, 1). Default: Math.random. */
  readonly random?: () => number;
}

/** When to rotate a certificate valid from `notBefore` to `notAfter`. */
export function nextRotationTime(
  validity: { readonly notBefore: Date; readonly notAfter: Date },
  options: RotationOptions = {},
): Date {
  const fraction = options.fraction ?? 0.5;
  const jitter = options.jitter ?? 0.01;
  if (!(fraction > 0 && fraction < 1))
    throw new XdsKitError("INVALID_ARGUMENT", `rotation fraction must be in (0, 1), got ${fraction}`);
  if (!(jitter >= 0 && jitter < Math.min(fraction, 1 - fraction)))
    throw new XdsKitError(
      "INVALID_ARGUMENT",
      `rotation jitter must be in [0, ${Math.min(fraction, 1 - fraction)}), got ${jitter}`,
    );
  const start = validity.notBefore.getTime();
  const lifetime = validity.notAfter.getTime() - start;
  if (!(lifetime > 0))
    throw new XdsKitError("INVALID_ARGUMENT", "certificate validity: notAfter must be after notBefore");
  const offset = (fraction + jitter * (2 * (options.random ?? Math.random)() - 1)) * lifetime;
  return new Date(start + Math.round(offset));
}
