// An immutable map whose next version costs the change, not the size: a shared base map plus a small map
// of what changed since (a value, or GONE). When the changes grow past a bound (about the square root of the
// size) they are folded into a new base, so a run of single-key changes costs O(√n) each, amortized, and a
// lookup two map lookups. Used for per-version indexes (objects by key, services by hostname) that
// every configuration change would otherwise copy whole.

const GONE: unique symbol = Symbol("gone");
type Slot<V> = V | typeof GONE;

export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  readonly size: number;
  private readonly base: ReadonlyMap<K, V>;
  private readonly top: ReadonlyMap<K, Slot<V>>;

  private constructor(base: ReadonlyMap<K, V>, top: ReadonlyMap<K, Slot<V>>, size: number) {
    this.base = base;
    this.top = top;
    this.size = size;
  }

  /** A map over `entries` (the map is not copied when it is a Map: the caller must not change it after). */
  static of<K, V>(entries: ReadonlyMap<K, V> | Iterable<readonly [K, V]>): LayeredMap<K, V> {
    const base = entries instanceof Map ? (entries as ReadonlyMap<K, V>) : new Map(entries);
    return new LayeredMap(base, new Map(), base.size);
  }

  /** This map with `changes` applied (undefined removes a key); this map stays as it is. */
  with(changes: Iterable<readonly [K, V | undefined]>): LayeredMap<K, V> {
    const top = new Map(this.top);
    let size = this.size;
    for (const [key, value] of changes) {
      const had = this.hasIn(top, key);
      if (value === undefined) {
        if (!had) continue;
        size--;
        if (this.base.has(key)) top.set(key, GONE);
        else top.delete(key);
      } else {
        if (!had) size++;
        top.set(key, value);
      }
    }
    if (top.size * top.size > Math.max(1024, this.base.size * 4)) {
      const base = new Map<K, V>();
      for (const [key, value] of new LayeredMap(this.base, top, size)) base.set(key, value);
      return new LayeredMap(base, new Map(), size);
    }
    return new LayeredMap(this.base, top, size);
  }

  private hasIn(top: ReadonlyMap<K, Slot<V>>, key: K): boolean {
    if (top.has(key)) return top.get(key) !== GONE;
    return this.base.has(key);
  }

  get(key: K): V | undefined {
    if (this.top.size > 0 && this.top.has(key)) {
      const value = this.top.get(key);
      return value === GONE ? undefined : value;
    }
    return this.base.get(key);
  }

  has(key: K): boolean {
    return this.hasIn(this.top, key);
  }

  *entries(): MapIterator<[K, V]> {
    for (const [key, value] of this.base) {
      if (!this.top.has(key)) yield [key, value];
      else {
        const now = this.top.get(key) as Slot<V>;
        if (now !== GONE) yield [key, now];
      }
    }
    for (const [key, value] of this.top) if (value !== GONE && !this.base.has(key)) yield [key, value];
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }
}
