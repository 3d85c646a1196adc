import { CrowdtrainError } from '../protocol/errors.ts';

const TWO_POW_32 = 4294967296;

/**
 * Folds an integer seed and any number of extra integer words into one 32-bit seed with a
 * murmur3-style finaliser, so that nearby inputs (seed 1 / epoch 2 versus seed 2 / epoch 1) land far apart.
 * @example const epochSeed = mixSeed(runSeed, epoch);
 */
export function mixSeed(seed: number, ...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of [seed, ...words]) {
    if (!Number.isSafeInteger(w)) {
      throw new CrowdtrainError('INVALID_CONFIG', `seed word ${w} is not a safe integer`);
    }
    const lo = w >>> 0;
    const hi = Math.floor(w / TWO_POW_32) >>> 0;
    h = Math.imul(h ^ lo, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h ^ hi, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * A small, fast, deterministic PRNG (mulberry32, 32-bit state) with uniform, integer and
 * standard-normal draws. Identical sequences on every JS engine; not cryptographic.
 * @example const rng = new SeededRandom(42); const u = rng.next(); const z = rng.normal();
 */
export class SeededRandom {
  private s: number;
  private spareNormal: number | null = null;

  /** Creates a generator from any safe integer seed (folded through {@link mixSeed}). */
  constructor(seed: number) {
    this.s = mixSeed(seed);
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Next uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32 (bias below n / 2^32, negligible for data sizes). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal draw (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    const u1 = (this.nextUint32() + 1) / (TWO_POW_32 + 1); // (0, 1): log is finite
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

/**
 * A seeded Fisher–Yates permutation of 0..n-1; the same (n, seed) gives the same permutation everywhere.
 * @example shuffledIndices(5, 7) // e.g. Uint32Array [3, 0, 4, 1, 2]
 */
export function shuffledIndices(n: number, seed: number): Uint32Array {
  if (!Number.isSafeInteger(n) || n < 0 || n > TWO_POW_32) {
    throw new CrowdtrainError('INVALID_CONFIG', `cannot shuffle ${n} indices: need an integer in [0, 2^32]`);
  }
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const rng = new SeededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}
