/**
 * Comparator lists of sorting networks: Batcher's odd-even merge sort for any input count (padded
 * to a power of two with +infinity, whose comparators are dropped), optionally pruned to the
 * comparators that decide a given set of output ranks (a selection network: the median needs
 * 53 of the 63 comparators for 16 inputs, the two extremes far fewer).
 */

/** Comparators `[a0, b0, a1, b1, ...]` of a network sorting `n` wires ascending (wire a gets the min). */
export function batcherNetwork(n: number): Int32Array {
  let p = 1;
  while (p < n) p <<= 1;
  const pairs: number[] = [];
  for (let size = 1; size < p; size <<= 1) {
    for (let k = size; k >= 1; k >>= 1) {
      for (let j = k % size; j <= p - 1 - k; j += 2 * k) {
        for (let i = 0; i <= Math.min(k - 1, p - j - k - 1); i++) {
          if (Math.floor((i + j) / (size * 2)) === Math.floor((i + j + k) / (size * 2))) {
            // Wires >= n hold +infinity: a comparator touching one never moves anything.
            if (i + j + k < n) pairs.push(i + j, i + j + k);
          }
        }
      }
    }
  }
  return Int32Array.from(pairs);
}

/** The comparators of `network` (over `n` wires) that can change what ends on the wires `ranks`. */
export function pruneNetwork(network: Int32Array, n: number, ranks: readonly number[]): Int32Array {
  const needed = new Uint8Array(n);
  for (const r of ranks) needed[r] = 1;
  const kept: number[] = [];
  for (let c = network.length - 2; c >= 0; c -= 2) {
    const a = network[c]!;
    const b = network[c + 1]!;
    if (needed[a] === 1 || needed[b] === 1) {
      kept.push(b, a);
      needed[a] = 1;
      needed[b] = 1;
    }
  }
  return Int32Array.from(kept.reverse());
}
