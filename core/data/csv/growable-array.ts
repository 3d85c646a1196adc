/** A typed array constructor the growable arrays use. */
type TypedArrayCtor<T> = { new (length: number): T };

/**
 * An append-only typed array that doubles its capacity as it grows ({@link toArray} trims it).
 * @example const a = new GrowableArray(Float64Array); a.push(1.5); a.toArray(); // Float64Array [1.5]
 */
export class GrowableArray<T extends Float64Array | Int32Array | Uint32Array> {
  private data: T;
  private n = 0;

  constructor(private readonly ctor: TypedArrayCtor<T>, capacity = 1024) {
    this.data = new ctor(capacity);
  }

  /** Number of values pushed. */
  get length(): number {
    return this.n;
  }

  /** Appends one value. */
  push(value: number): void {
    if (this.n === this.data.length) {
      const bigger = new this.ctor(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = value;
  }

  /** The pushed values (a view of exactly `length` values; no copy). */
  toArray(): T {
    return this.data.subarray(0, this.n) as T;
  }
}
