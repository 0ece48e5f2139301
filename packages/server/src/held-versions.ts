// What a client holds of one type (name → version), kept as its differences from an immutable view.
// A client in sync with the current resources then costs nothing per resource: thousands of idle
// sidecars holding the same clusters and endpoints share the cache's views instead of each keeping a
// map of every name. Reads behave exactly like a Map; only the representation differs.
import type { PreparedResource } from "@xdskit/core";
import { changedBetween, type HeldView, isImmutableView, type ResourceView } from "@xdskit/core/watcher";

/** Names of a resource list, computed once per list (shared responses share their list). */
const namesOfList = new WeakMap<readonly PreparedResource[], ReadonlySet<string>>();
export function namesOf(resources: readonly PreparedResource[]): ReadonlySet<string> {
  let names = namesOfList.get(resources);
  if (!names) {
    names = new Set(resources.map((r) => r.name));
    namesOfList.set(resources, names);
  }
  return names;
}

/** The version `view` gives `name` within `scope` (undefined: every name of the view). */
function lookup(view: ResourceView | undefined, scope: ReadonlySet<string> | undefined, name: string) {
  if (!view || (scope !== undefined && !scope.has(name))) return undefined;
  return view.resources.get(name)?.version;
}

/** Every name `view` gives within `scope`, walking the smaller of the two. */
function* namesWithin(view: ResourceView, scope: ReadonlySet<string> | undefined): Generator<string> {
  if (scope !== undefined && scope.size < view.resources.size) {
    for (const name of scope) if (view.resources.has(name)) yield name;
  } else {
    for (const name of view.resources.keys()) if (scope === undefined || scope.has(name)) yield name;
  }
}

/** What taking in a response does to a client that held exactly a view: its own entries and names added. */
interface TakeInResult {
  readonly added: number;
  readonly own: ReadonlyArray<readonly [string, string | null]>;
}

/** Stands for "every name of the view" where a scope is a key. */
const WHOLE_VIEW = new Set<string>();
type ByResources = WeakMap<readonly PreparedResource[], TakeInResult>;
const takeIns = new WeakMap<ResourceView, WeakMap<object, WeakMap<ResourceView, WeakMap<object, ByResources>>>>();

function takeInEntry(
  base: ResourceView,
  baseScope: ReadonlySet<string> | undefined,
  view: ResourceView,
  scope: ReadonlySet<string> | undefined,
  create: boolean,
): ByResources | undefined {
  const level = <K extends object, V>(map: WeakMap<K, V>, key: K, make: () => V): V | undefined => {
    let value = map.get(key);
    if (value === undefined && create) {
      value = make();
      map.set(key, value);
    }
    return value;
  };
  const byBaseScope = level(takeIns, base, () => new WeakMap());
  const byView = byBaseScope && level(byBaseScope, baseScope ?? WHOLE_VIEW, () => new WeakMap());
  const byScope = byView && level(byView, view, () => new WeakMap());
  return byScope && level(byScope, scope ?? WHOLE_VIEW, () => new WeakMap());
}

function cachedTakeIn(
  base: ResourceView,
  baseScope: ReadonlySet<string> | undefined,
  view: ResourceView,
  scope: ReadonlySet<string> | undefined,
  resources: readonly PreparedResource[],
): TakeInResult | undefined {
  return takeInEntry(base, baseScope, view, scope, false)?.get(resources);
}

function rememberTakeIn(
  base: ResourceView,
  baseScope: ReadonlySet<string> | undefined,
  view: ResourceView,
  scope: ReadonlySet<string> | undefined,
  resources: readonly PreparedResource[],
  result: TakeInResult,
): void {
  takeInEntry(base, baseScope, view, scope, true)?.set(resources, result);
}

export class HeldVersions implements ReadonlyMap<string, string> {
  /** The view (and the names of it that count) the client holds, but for `own`. */
  private base: ResourceView | undefined;
  private scope: ReadonlySet<string> | undefined;
  /** Where the client differs from the base: its version, or null for a name of the base it does not hold. */
  private own: Map<string, string | null> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get [Symbol.toStringTag](): string {
    return "HeldVersions";
  }

  get(name: string): string | undefined {
    const own = this.own?.get(name);
    if (own !== undefined) return own ?? undefined;
    return lookup(this.base, this.scope, name);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, version: string): this {
    const before = this.get(name);
    if (before === version) return this;
    if (before === undefined) this.count++;
    if (lookup(this.base, this.scope, name) === version) this.own?.delete(name);
    else this.ownMap().set(name, version);
    return this;
  }

  delete(name: string): boolean {
    if (this.get(name) === undefined) return false;
    this.count--;
    if (lookup(this.base, this.scope, name) !== undefined) this.ownMap().set(name, null);
    else this.own?.delete(name);
    return true;
  }

  clear(): void {
    this.base = undefined;
    this.scope = undefined;
    this.own = undefined;
    this.count = 0;
  }

  /**
   * The client takes in `resources`, all taken from `view`: the same as setting each of them. When `view` is
   * immutable, what it holds is kept relative to it within `scope` (undefined: all of the view; a set must never
   * change), so the cost is the names that changed between the previous view and this one, not every name held.
   */
  takeIn(resources: readonly PreparedResource[], view: ResourceView, scope: ReadonlySet<string> | undefined): void {
    // Only a view that never changes can stand for what the client holds (a LinearCache's views do change).
    if (!isImmutableView(view)) {
      for (const r of resources) this.set(r.name, r.version);
      return;
    }
    // A client holding exactly an immutable view ends up the same as every other client that did and took in
    // the same response: computed once (a whole type changing on thousands of streams), then reused.
    const cached = !this.own && this.base ? cachedTakeIn(this.base, this.scope, view, scope, resources) : undefined;
    if (cached) {
      this.count += cached.added;
      this.base = view;
      this.scope = scope;
      this.own = cached.own.length > 0 ? new Map(cached.own) : undefined;
      return;
    }
    const sharedFrom = !this.own && this.base ? { base: this.base, scope: this.scope, count: this.count } : undefined;
    for (const r of resources) if (this.get(r.name) === undefined) this.count++;
    const inResponse = namesOf(resources);
    const base = this.base;
    const own = this.own;
    let next: Map<string, string | null> | undefined;
    /** `name` holds `value` afterwards: an own entry unless the new base says the same. */
    const keep = (name: string, value: string | undefined) => {
      if (lookup(view, scope, name) === value) return;
      next ??= new Map();
      next.set(name, value ?? null);
    };
    const unchanged = (name: string) => !inResponse.has(name) && !own?.has(name);
    for (const r of resources)
      if (view.resources.get(r.name) !== r || (scope !== undefined && !scope.has(r.name))) keep(r.name, r.version);
    if (own) for (const [name, value] of own) if (!inResponse.has(name)) keep(name, value ?? undefined);
    // Names the response leaves alone keep what the old base gave them.
    if (base && scope === this.scope) {
      for (const name of changedBetween(base, view)) if (unchanged(name)) keep(name, lookup(base, this.scope, name));
    } else {
      if (base)
        for (const name of namesWithin(base, this.scope))
          if (unchanged(name)) keep(name, lookup(base, this.scope, name));
      for (const name of namesWithin(view, scope)) if (unchanged(name)) keep(name, lookup(base, this.scope, name));
    }
    this.base = view;
    this.scope = scope;
    this.own = next;
    if (sharedFrom)
      rememberTakeIn(sharedFrom.base, sharedFrom.scope, view, scope, resources, {
        added: this.count - sharedFrom.count,
        own: next ? [...next] : [],
      });
  }

  /**
   * The client now holds exactly `view`'s resources (a full-state response carrying every resource of
   * the view): O(1) for an immutable view.
   */
  adopt(view: ResourceView): void {
    if (!isImmutableView(view)) {
      this.clear();
      for (const r of view.resources.values()) this.set(r.name, r.version);
      return;
    }
    this.base = view;
    this.scope = undefined;
    this.own = undefined;
    this.count = view.resources.size;
  }

  /** The immutable view (and scope) the client holds exactly, when it differs from it in nothing. */
  heldView(): HeldView | undefined {
    if (!this.base || this.own) return undefined;
    return this.scope ? { view: this.base, scope: this.scope } : { view: this.base };
  }

  /** Names held that `view` does not have: O(changes since the base), not O(names held). */
  notIn(view: ResourceView): string[] {
    const out: string[] = [];
    if (this.own) for (const [name, value] of this.own) if (value !== null && !view.resources.has(name)) out.push(name);
    const base = this.base;
    if (!base) return out;
    const candidates = base === view ? [] : changedBetween(base, view);
    for (const name of candidates)
      if (!view.resources.has(name) && !this.own?.has(name) && lookup(base, this.scope, name) !== undefined)
        out.push(name);
    return out;
  }

  private ownMap(): Map<string, string | null> {
    this.own ??= new Map();
    return this.own;
  }

  /** A plain copy, for iteration (status reports, subscription changes: never on the per-ACK path). */
  private materialize(): Map<string, string> {
    const out = new Map<string, string>();
    const base = this.base;
    if (base)
      for (const name of namesWithin(base, this.scope)) {
        if (this.own?.has(name)) continue;
        const version = base.resources.get(name)?.version;
        if (version !== undefined) out.set(name, version);
      }
    if (this.own) for (const [name, value] of this.own) if (value !== null) out.set(name, value);
    return out;
  }

  entries(): MapIterator<[string, string]> {
    return this.materialize().entries();
  }

  keys(): MapIterator<string> {
    return this.materialize().keys();
  }

  values(): MapIterator<string> {
    return this.materialize().values();
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  forEach(callback: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.materialize()) callback.call(thisArg, value, key, this);
  }
}
