import { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/messages.ts';
import { mixSeed, shuffledIndices } from './seeded-random.ts';

/** Zod schema of a sampler checkpoint (JSON-serialisable). */
export const SamplerStateSchema = z.object({
  seed: z.int(),
  datasetSize: z.int().min(1),
  epoch: z.int().min(0),
  cursor: z.int().min(0),
  pending: z.array(z.object({ epoch: z.int().min(0), indices: z.array(z.int().min(0)).min(1) })),
});

/**
 * Where an EpochSampler stands: the current epoch, how far into that epoch's permutation it has
 * handed out, and indices given back (not yet re-served), oldest first. Goes into checkpoints.
 */
export type SamplerState = z.infer<typeof SamplerStateSchema>;

/**
 * DistributedSampler semantics for a fleet whose membership changes: every index of the data set
 * is trained exactly once per epoch, in a seeded shuffle per epoch, even when workers die and their
 * slices are given back. The coordinator draws one global batch per step and splits it with
 * {@link splitBatch}. Epoch e's permutation is `shuffledIndices(datasetSize, mixSeed(seed, e))`.
 * @example
 * const sampler = new EpochSampler({ seed: 42, datasetSize: train.size });
 * const { epoch, indices } = sampler.nextBatch(256);
 * const slices = splitBatch(indices, workers.length);
 * // a worker died before answering: sampler.giveBack(epoch, slices[2]);
 */
export class EpochSampler {
  private readonly seed: number;
  private readonly datasetSize: number;
  private currentEpoch: number;
  private cursor: number;
  private pending: { epoch: number; indices: number[] }[];
  private permutation: Uint32Array | null = null;
  private permutationEpoch = -1;
  private positions: Uint32Array | null = null; // inverse of `permutation`, built on first giveBack

  /** Starts at epoch 0, or resumes from a checkpointed state (validated; must match opts). */
  constructor(opts: { seed: number; datasetSize: number }, state?: SamplerState) {
    if (!Number.isSafeInteger(opts.seed)) {
      throw new CrowdtrainError('INVALID_CONFIG', `sampler seed ${opts.seed} is not a safe integer`);
    }
    if (!Number.isSafeInteger(opts.datasetSize) || opts.datasetSize < 1 || opts.datasetSize > 2 ** 32) {
      throw new CrowdtrainError('INVALID_CONFIG', `sampler dataset size ${opts.datasetSize} is not an integer in [1, 2^32]`);
    }
    this.seed = opts.seed;
    this.datasetSize = opts.datasetSize;
    this.currentEpoch = 0;
    this.cursor = 0;
    this.pending = [];
    if (state !== undefined) this.restore(state);
  }

  private restore(raw: SamplerState): void {
    const r = SamplerStateSchema.safeParse(raw);
    if (!r.success) {
      throw new CrowdtrainError('CHECKPOINT_INVALID', `sampler state is malformed: ${describeZodError(r.error)}`, { cause: r.error });
    }
    const s = r.data;
    if (s.seed !== this.seed || s.datasetSize !== this.datasetSize) {
      throw new CrowdtrainError('CHECKPOINT_INVALID', `sampler state is for seed ${s.seed} / dataset size ${s.datasetSize}, expected seed ${this.seed} / dataset size ${this.datasetSize}`);
    }
    if (s.cursor > s.datasetSize) {
      throw new CrowdtrainError('CHECKPOINT_INVALID', `sampler state cursor ${s.cursor} is past dataset size ${s.datasetSize}`);
    }
    this.currentEpoch = s.epoch;
    this.cursor = s.cursor;
    this.pending = [];
    try {
      for (const p of s.pending) this.giveBack(p.epoch, p.indices);
    } catch (cause) {
      throw new CrowdtrainError('CHECKPOINT_INVALID', `sampler state has invalid pending indices: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
  }

  /** The epoch new indices are being drawn from (earlier epochs may still have given-back indices pending). */
  get epoch(): number {
    return this.currentEpoch;
  }

  private permutationOf(epoch: number): Uint32Array {
    if (this.permutation === null || this.permutationEpoch !== epoch) {
      this.permutation = shuffledIndices(this.datasetSize, mixSeed(this.seed, epoch));
      this.permutationEpoch = epoch;
      this.positions = null;
    }
    return this.permutation;
  }

  /** Position of each index in the current epoch's permutation. */
  private positionsOfCurrent(): Uint32Array {
    const perm = this.permutationOf(this.currentEpoch);
    if (this.positions === null) {
      this.positions = new Uint32Array(perm.length);
      for (let k = 0; k < perm.length; k++) this.positions[perm[k]!] = k;
    }
    return this.positions;
  }

  /**
   * Next global batch of up to `size` indices, all from one epoch: given-back indices of the oldest
   * epoch first, then (if that is the current epoch) the epoch's permutation from the cursor. Moves
   * to the next epoch when the current permutation and everything pending are exhausted; the last
   * batch of an epoch may be short. Never returns an empty batch.
   */
  nextBatch(size: number): { epoch: number; indices: number[] } {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new CrowdtrainError('INVALID_CONFIG', `batch size ${size} is not a positive integer`);
    }
    if (this.pending.length === 0 && this.cursor >= this.datasetSize) {
      this.currentEpoch += 1;
      this.cursor = 0;
    }
    const epoch = this.pending.length > 0 ? Math.min(...this.pending.map((p) => p.epoch)) : this.currentEpoch;
    const indices: number[] = [];
    for (let g = 0; g < this.pending.length && indices.length < size; ) {
      const group = this.pending[g]!;
      if (group.epoch !== epoch) {
        g++;
        continue;
      }
      const take = group.indices.splice(0, size - indices.length);
      for (const i of take) indices.push(i);
      if (group.indices.length === 0) this.pending.splice(g, 1);
    }
    if (epoch === this.currentEpoch && indices.length < size && this.cursor < this.datasetSize) {
      const perm = this.permutationOf(epoch);
      const end = Math.min(this.datasetSize, this.cursor + size - indices.length);
      for (let k = this.cursor; k < end; k++) indices.push(perm[k]!);
      this.cursor = end;
    }
    return { epoch, indices };
  }

  /**
   * Returns indices that were handed out for `epoch` but never trained (a worker died): they are served
   * again, before anything else, and still count for their epoch. Throws CrowdtrainError('INVALID_MESSAGE')
   * for an epoch in the future, an index out of range, an index of the current epoch not handed out yet,
   * or an index already pending for that epoch.
   */
  giveBack(epoch: number, indices: readonly number[]): void {
    if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > this.currentEpoch) {
      throw new CrowdtrainError('INVALID_MESSAGE', `cannot give back indices for epoch ${epoch}: current epoch is ${this.currentEpoch}`);
    }
    if (indices.length === 0) return;
    const seen = new Set<number>();
    for (const p of this.pending) if (p.epoch === epoch) for (const i of p.indices) seen.add(i);
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= this.datasetSize) {
        throw new CrowdtrainError('INVALID_MESSAGE', `given-back index ${i} is out of range for dataset size ${this.datasetSize}`);
      }
      if (epoch === this.currentEpoch && this.positionsOfCurrent()[i]! >= this.cursor) {
        throw new CrowdtrainError('INVALID_MESSAGE', `index ${i} of epoch ${epoch} has not been handed out yet`);
      }
      if (seen.has(i)) {
        throw new CrowdtrainError('INVALID_MESSAGE', `index ${i} is already pending for epoch ${epoch}`);
      }
      seen.add(i);
    }
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined && last.epoch === epoch) last.indices.push(...indices);
    else this.pending.push({ epoch, indices: [...indices] });
  }

  /** A deep copy of the state, for checkpoints (JSON-serialisable). */
  state(): SamplerState {
    return {
      seed: this.seed,
      datasetSize: this.datasetSize,
      epoch: this.currentEpoch,
      cursor: this.cursor,
      pending: this.pending.map((p) => ({ epoch: p.epoch, indices: [...p.indices] })),
    };
  }

  /** Fraction of the current epoch handed out and not given back, in [0, 1]. */
  progress(): number {
    let pendingNow = 0;
    for (const p of this.pending) if (p.epoch === this.currentEpoch) pendingNow += p.indices.length;
    return (this.cursor - pendingNow) / this.datasetSize;
  }
}

/**
 * Splits one global batch into `parts` contiguous, disjoint slices covering it in order, sizes as even
 * as possible (the first n % parts slices get one more), or proportional to `weights` (largest remainder;
 * e.g. measured samples/s per worker). Slices may be empty when the batch has fewer indices than parts.
 * @example splitBatch([0, 1, 2, 3, 4], 2) // [[0, 1, 2], [3, 4]]
 * @example splitBatch([0, 1, 2, 3], 2, [3, 1]) // [[0, 1, 2], [3]]
 */
export function splitBatch(indices: readonly number[], parts: number, weights?: readonly number[]): number[][] {
  if (!Number.isSafeInteger(parts) || parts < 1) {
    throw new CrowdtrainError('INVALID_CONFIG', `cannot split a batch into ${parts} parts`);
  }
  const n = indices.length;
  const sizes = new Array<number>(parts).fill(0);
  if (weights === undefined) {
    const base = Math.floor(n / parts);
    for (let k = 0; k < parts; k++) sizes[k] = base + (k < n % parts ? 1 : 0);
  } else {
    if (weights.length !== parts) {
      throw new CrowdtrainError('INVALID_CONFIG', `${weights.length} weights given for ${parts} parts`);
    }
    let total = 0;
    weights.forEach((w, k) => {
      if (!Number.isFinite(w) || w < 0) throw new CrowdtrainError('INVALID_CONFIG', `weight ${k} is ${w}, expected a finite number >= 0`);
      total += w;
    });
    if (!(total > 0)) throw new CrowdtrainError('INVALID_CONFIG', 'batch split weights sum to 0');
    const exact = weights.map((w) => (n * w) / total);
    let assigned = 0;
    exact.forEach((e, k) => {
      sizes[k] = Math.floor(e);
      assigned += sizes[k];
    });
    const byRemainder = exact.map((e, k) => ({ k, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.k - b.k);
    for (let j = 0; assigned < n; j++, assigned++) {
      const k = byRemainder[j % parts]!.k;
      sizes[k] = sizes[k]! + 1;
    }
  }
  const out: number[][] = [];
  let start = 0;
  for (const s of sizes) {
    out.push(indices.slice(start, start + s));
    start += s;
  }
  return out;
}
