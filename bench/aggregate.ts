/**
 * Bench: weighted-mean reduce of 8 gradients of 6.25M floats (25 MB each). Ratio = reduce
 * throughput (input bytes read per second) / throughput of Float32Array.prototype.set copying the
 * same total bytes, both measured here (warm-up, then the median of several repetitions).
 */
import { reduceWeightedMean } from '../core/aggregate/reduce-weighted-mean.ts';
import type { BenchResult } from './bench-result.ts';

const WORKERS = 8;
const FLOATS = 6_250_000;
const WARMUP = 2;
const REPS = 9;
const TARGET = 0.5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function timeMs(fn: () => void): number[] {
  for (let i = 0; i < WARMUP; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times;
}

/** Runs the aggregate bench. */
export default function aggregateBench(): Promise<BenchResult> {
  const inputs = Array.from({ length: WORKERS }, (_, k) => {
    const v = new Float32Array(FLOATS);
    for (let i = 0; i < FLOATS; i++) v[i] = Math.sin(i * 0.001 + k);
    return v;
  });
  const updates = inputs.map((values, k) => ({ values, weight: 32 + 8 * k }));
  const out = new Float32Array(FLOATS);
  const copyTargets = inputs.map(() => new Float32Array(FLOATS));

  const reduceTimes = timeMs(() => {
    reduceWeightedMean(updates, out);
  });
  const copyTimes = timeMs(() => {
    for (let k = 0; k < WORKERS; k++) copyTargets[k]!.set(inputs[k]!);
  });

  const bytes = WORKERS * FLOATS * 4;
  const reduceMs = median(reduceTimes);
  const copyMs = median(copyTimes);
  const value = bytes / (reduceMs / 1000);
  const baseline = bytes / (copyMs / 1000);
  const ratio = value / baseline;
  return Promise.resolve({
    name: 'aggregate',
    value,
    baseline,
    ratio,
    unit: 'B/s',
    target: `ratio >= ${TARGET}`,
    pass: ratio >= TARGET,
    details: {
      workers: WORKERS,
      floatsPerGradient: FLOATS,
      inputBytes: bytes,
      reduceMedianMs: reduceMs,
      copyMedianMs: copyMs,
      reduceMs: reduceTimes,
      copyMs: copyTimes,
    },
  });
}
