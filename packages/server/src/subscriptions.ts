// SotW subscriptions shared between streams. Sidecars of one mesh mostly subscribe to the very same
// names (every cluster's endpoints, every listener's routes); a stream whose request carries the same
// resource_names bytes as another's shares that stream's immutable name set instead of decoding and
// holding its own copy of every name.

/** What one SotW request subscribes to, in canonical form. Immutable. */
export interface Subscription {
  /** Subscribed names, "*" excluded. */
  readonly names: ReadonlySet<string>;
  /** The request listed "*" (XDS-RULES R11). */
  readonly wildcard: boolean;
  /** How many names the request listed, "*" included (for the per-request limit). */
  readonly listed: number;
  /**
   * The resource_names bytes it was decoded from, when they were one run: every ACK repeats them, and
   * comparing bytes is much cheaper than decoding or hashing them. One copy per distinct subscription.
   */
  readonly bytes?: Uint8Array;
}

export const EMPTY_SUBSCRIPTION: Subscription = { names: new Set(), wildcard: false, listed: 0 };

/** The subscription of a decoded name list (names already canonical), and the bytes it came from. */
export function subscriptionOf(names: readonly string[], bytes?: Uint8Array): Subscription {
  if (names.length === 0) return EMPTY_SUBSCRIPTION;
  const set = new Set<string>();
  let wildcard = false;
  for (const name of names) {
    if (name === "*") wildcard = true;
    else set.add(name);
  }
  // A copy: the request's bytes belong to a transient message buffer.
  return { names: set, wildcard, listed: names.length, ...(bytes ? { bytes: Uint8Array.from(bytes) } : {}) };
}

/** Whether a request's resource_names bytes are exactly those of the subscription. */
export function repeats(subscription: Subscription | undefined, run: Uint8Array | undefined): boolean {
  const bytes = subscription?.bytes;
  if (!bytes || !run || bytes.length !== run.length) return false;
  return Buffer.compare(bytes, run) === 0;
}

/**
 * Subscriptions by the digest of their resource_names bytes, held weakly: an entry lives while some
 * stream holds it. Equal bytes decode to equal canonical names, whatever server decodes them.
 */
const byDigest = new Map<string, WeakRef<Subscription>>();
const collected = new FinalizationRegistry<string>((digest) => {
  if (byDigest.get(digest)?.deref() === undefined) byDigest.delete(digest);
});

/** The shared subscription of these resource_names bytes, if a live stream holds one. */
export function sharedSubscription(digest: string): Subscription | undefined {
  return byDigest.get(digest)?.deref();
}

/** Makes `subscription` the shared one for its digest and returns the one to hold (an existing one wins). */
export function shareSubscription(digest: string, subscription: Subscription): Subscription {
  const existing = sharedSubscription(digest);
  if (existing) return existing;
  byDigest.set(digest, new WeakRef(subscription));
  collected.register(subscription, digest);
  return subscription;
}

/**
 * An order-independent fingerprint of a set of names, kept up to date as names come and go (delta subscriptions
 * change by increments): the XOR of a 64-bit hash of each name.
 */
export interface NamesFingerprint {
  hi: number;
  lo: number;
}

/** Adds or removes `name` (the same operation: XOR). */
export function toggleName(fingerprint: NamesFingerprint, name: string): void {
  // Two FNV-1a variants over the UTF-16 code units: 64 bits in all.
  let hi = 0x811c9dc5;
  let lo = 0x01000193 ^ name.length;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    hi = Math.imul(hi ^ c, 0x01000193);
    lo = Math.imul(lo ^ c, 0x5bd1e995) ^ (lo >>> 15);
  }
  fingerprint.hi = (fingerprint.hi ^ hi) >>> 0;
  fingerprint.lo = (fingerprint.lo ^ lo) >>> 0;
}

const nameSets = new Map<string, WeakRef<ReadonlySet<string>>>();
const collectedSets = new FinalizationRegistry<string>((key) => {
  if (nameSets.get(key)?.deref() === undefined) nameSets.delete(key);
});

/**
 * The set of names equal to `names` that other streams already hold, or `names` itself, which becomes the one
 * shared from now on. Never mutate a set passed here or returned from here. Equality is checked, so a
 * fingerprint collision only costs the sharing.
 */
export function shareNameSet(names: ReadonlySet<string>, fingerprint: NamesFingerprint): ReadonlySet<string> {
  if (names.size === 0) return EMPTY_SUBSCRIPTION.names;
  const key = `${names.size}:${fingerprint.hi.toString(36)}:${fingerprint.lo.toString(36)}`;
  const existing = nameSets.get(key)?.deref();
  if (existing) {
    if (existing === names) return existing;
    let equal = existing.size === names.size;
    if (equal) for (const name of names) if (!existing.has(name)) equal = false;
    if (equal) return existing;
    return names;
  }
  nameSets.set(key, new WeakRef(names));
  collectedSets.register(names, key);
  return names;
}
