// A map with a hard cap and O(1) eviction: two generations. New and touched keys live in `young`; when it holds half
// the cap it becomes `old` and the previous `old` is dropped as a whole, except the entries `keep` asks for (locked
// users and addresses), carried over while they fill less than half of the new generation. Dropping a generation
// walks it once, so the cost per insertion stays constant (a Map evicted one key at a time from its front walks its
// deleted slots on every eviction: a million-name spray took 59 s in a first version, 3.2 s with this one, both in
// test/unit/auth-protection-store.test.ts on a shared 2-core machine).
export class BoundedTable<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  /** Entries dropped since start. */
  dropped = 0;

  constructor(
    private readonly cap: () => number,
    private readonly keep: (value: V) => boolean = () => false,
  ) {}

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The value, moved to the young generation when it was old (a key in use is never dropped first). */
  get(key: string): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o === undefined) return undefined;
    this.old.delete(key);
    this.set(key, o);
    return o;
  }

  /** Read without touching (views, checks that must not keep a key alive). */
  peek(key: string): V | undefined {
    return this.young.get(key) ?? this.old.get(key);
  }

  set(key: string, value: V): void {
    if (!this.young.has(key) && this.young.size >= Math.max(1, Math.floor(this.cap() / 2))) this.rotate();
    this.young.set(key, value);
  }

  delete(key: string): boolean {
    return this.young.delete(key) || this.old.delete(key);
  }

  /** Every entry, young first (a worker's mirror is started from them). */
  *entries(): IterableIterator<[string, V]> {
    yield* this.young;
    for (const e of this.old) if (!this.young.has(e[0])) yield e;
  }

  private rotate(): void {
    const half = Math.max(1, Math.floor(this.cap() / 2));
    const dropping = this.old;
    this.old = this.young;
    this.young = new Map();
    for (const [key, value] of dropping) {
      if (this.young.size < half / 2 && this.keep(value)) this.young.set(key, value);
      else this.dropped++;
    }
  }
}
