/**
 * Bench: weighted-mean reduce of 8 gradients of 6.25M floats (25 MB each). Ratio = reduce
 * throughput (input bytes read per second) / throughput of Float32Array.prototype.set copying the
 * same total bytes. The gradients sit in a ReduceArena's slots, where the coordinator decodes
 * workers' updates, so the reduce runs the in-place SIMD kernel; the plain-JS path over ordinary
 * Float32Arrays is measured too (details.js*). Reduce and copy repetitions alternate so that
 * machine noise hits both alike; medians after a warm-up.
 */
import { createReduceArena } from '../core/aggregate/reduce-arena.ts';
import { reduceWeightedMean, type WeightedUpdate } from '../core/aggregate/reduce-weighted-mean.ts';
import type { BenchResult } from './bench-result.ts';

const WORKERS = 8;
const FLOATS = 6_250_000;
const WARMUP = 2;
const REPS = 11;
const TARGET = 0.5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function fill(v: Float32Array, k: number): void {
  for (let i = 0; i < v.length; i++) v[i] = Math.sin(i * 0.001 + k);
}

/** Runs the aggregate bench. */
export default function aggregateBench(): Promise<BenchResult> {
  const arena = createReduceArena(FLOATS, WORKERS);
  const arenaUpdates: WeightedUpdate[] = [];
  const plainUpdates: WeightedUpdate[] = [];
  for (let k = 0; k < WORKERS; k++) {
    fill(arena.slot(k), k);
    arenaUpdates.push({ values: arena.slot(k), weight: 32 + 8 * k });
    plainUpdates.push({ values: arena.slot(k).slice(), weight: 32 + 8 * k });
  }
  const plainOut = new Float32Array(FLOATS);
  const copyTargets = plainUpdates.map(() => new Float32Array(FLOATS));
  const copy = () => {
    for (let k = 0; k < WORKERS; k++) copyTargets[k]!.set(plainUpdates[k]!.values);
  };
  const reduceArena = () => {
    reduceWeightedMean(arenaUpdates, arena.out);
  };
  const reduceJs = () => {
    reduceWeightedMean(plainUpdates, plainOut);
  };

  for (let i = 0; i < WARMUP; i++) {
    copy();
    reduceArena();
    reduceJs();
  }
  const copyTimes: number[] = [];
  const arenaTimes: number[] = [];
  const jsTimes: number[] = [];
  for (let i = 0; i < REPS; i++) {
    copyTimes.push(timed(copy));
    arenaTimes.push(timed(reduceArena));
    jsTimes.push(timed(reduceJs));
  }
  let maxDiff = 0;
  for (let i = 0; i < FLOATS; i++) maxDiff = Math.max(maxDiff, Math.abs(arena.out[i]! - plainOut[i]!));

  const bytes = WORKERS * FLOATS * 4;
  const copyMs = median(copyTimes);
  const arenaMs = median(arenaTimes);
  const jsMs = median(jsTimes);
  const value = bytes / (arenaMs / 1000);
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
      simd: arena.simd,
      reduceMedianMs: arenaMs,
      copyMedianMs: copyMs,
      jsReduceMedianMs: jsMs,
      jsRatio: copyMs / jsMs,
      arenaVsJsMaxAbsDiff: maxDiff,
      reduceMs: arenaTimes,
      jsReduceMs: jsTimes,
      copyMs: copyTimes,
    },
  });
}
