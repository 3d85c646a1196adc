/** Coordinates per block: the block of every input stays in cache while all pairs run over it. */
const BLOCK = 2048;

/**
 * The squared Euclidean distances between every pair of `arrays` (float64 sums), as an n x n
 * row-major matrix with a zero diagonal. Block by block, so each input is read from memory once.
 * A NaN anywhere makes the distances of its array NaN.
 * @example const d2 = pairwiseSquaredDistances([a, b, c]); d2[0 * 3 + 2] // |a - c|^2
 */
export function pairwiseSquaredDistances(arrays: readonly Float32Array[]): Float64Array {
  const n = arrays.length;
  const d = n > 0 ? arrays[0]!.length : 0;
  const out = new Float64Array(n * n);
  for (let start = 0; start < d; start += BLOCK) {
    const end = Math.min(d, start + BLOCK);
    for (let a = 0; a < n; a++) {
      const x = arrays[a]!;
      for (let b = a + 1; b < n; b++) {
        const y = arrays[b]!;
        let sum = 0;
        for (let i = start; i < end; i++) {
          const diff = x[i]! - y[i]!;
          sum += diff * diff;
        }
        out[a * n + b] = out[a * n + b]! + sum;
      }
    }
  }
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) out[b * n + a] = out[a * n + b]!;
  return out;
}

/**
 * Krum scores (Blanchard et al. 2017) of the inputs `members` (indices into the n x n matrix
 * `d2`): for each, the sum of its squared distances to its `neighbours` nearest other members.
 * A NaN distance counts as +infinity, so an input with a NaN is never the one selected.
 */
export function krumScores(d2: Float64Array, n: number, members: readonly number[], neighbours: number): number[] {
  return members.map((i) => {
    const dist = members.filter((j) => j !== i).map((j) => (Number.isNaN(d2[i * n + j]) ? Infinity : d2[i * n + j]!));
    dist.sort((x, y) => x - y);
    let score = 0;
    for (let k = 0; k < Math.min(neighbours, dist.length); k++) score += dist[k]!;
    return score;
  });
}

/**
 * Orders two vectors lexicographically by value: the tie-break between equal Krum scores, so
 * that the choice does not depend on the order the inputs came in (0 only for equal vectors,
 * where the choice does not matter).
 */
export function compareVectors(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return 0;
}
