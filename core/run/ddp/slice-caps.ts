import { splitBatch } from '../../data/epoch-sampler.ts';
import { CrowdtrainError } from '../../protocol/errors.ts';

/**
 * Slices capped by what each worker said it can hold (`capabilities.maxBatch` of its hello): a
 * worker that fits 16 samples never gets more, whatever its share of the fleet's throughput; what
 * it cannot take goes to the workers with room. Pure arithmetic: no I/O, no clock.
 */

/** The most samples `workers` can take together (Infinity when any of them declared no cap). */
export function capacityOf(workers: readonly string[], capOf: (workerId: string) => number): number {
  return workers.reduce((a, w) => a + capOf(w), 0);
}

/**
 * Splits `indices` into contiguous slices for `workers`, proportional to `weights` (equal when
 * undefined), none larger than its worker's cap: a worker whose share would pass its cap gets the
 * cap and the rest is shared by weight among the others (water-filling); a worker of weight 0
 * takes samples only once every weighted worker is full. Without a binding cap this is exactly
 * `splitBatch(indices, workers.length, weights)`. Throws CrowdtrainError('INTERNAL') when the caps
 * together cannot hold the batch (the caller draws no more than `capacityOf` the takers).
 * @example splitCapped([0, 1, 2, 3, 4, 5], ['a', 'b'], [5, 1], (w) => (w === 'a' ? 2 : Infinity)) // [[0, 1], [2, 3, 4, 5]]
 */
export function splitCapped(indices: readonly number[], workers: readonly string[], weights: readonly number[] | undefined, capOf: (workerId: string) => number): number[][] {
  const caps = workers.map(capOf);
  const w = weights ?? workers.map(() => 1);
  const sizes = new Array<number>(workers.length).fill(0);
  let free = workers.map((_, k) => k);
  let left = indices.length;
  for (;;) {
    const total = free.reduce((a, k) => a + w[k]!, 0);
    const share = (k: number) => (total > 0 ? (left * w[k]!) / total : left / free.length);
    const full = free.filter((k) => share(k) >= caps[k]!);
    if (full.length === 0) break;
    for (const k of full) {
      sizes[k] = caps[k]!;
      left -= caps[k]!;
    }
    free = free.filter((k) => !full.includes(k));
    if (free.length === 0) break;
  }
  if (left > 0 && free.length === 0) {
    throw new CrowdtrainError('INTERNAL', `a batch of ${indices.length} samples does not fit the takers' maxBatch (${caps.join(', ')})`);
  }
  if (left > 0) {
    const total = free.reduce((a, k) => a + w[k]!, 0);
    const rest = splitBatch(Array.from({ length: left }, (_, j) => j), free.length, weights !== undefined && total > 0 ? free.map((k) => w[k]!) : undefined);
    free.forEach((k, j) => (sizes[k] = rest[j]!.length));
  }
  const out: number[][] = [];
  let start = 0;
  for (const s of sizes) {
    out.push(indices.slice(start, start + s));
    start += s;
  }
  return out;
}
