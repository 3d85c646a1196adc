/**
 * Bench `robust-aggregate`: every registered aggregator on 16 updates of 1M floats (4 MB each),
 * against `Float32Array.prototype.set` copying the same 64 MB (the baseline, measured in the same
 * run, repetitions alternating so machine noise hits both alike; medians after a warm-up). The
 * updates sit in a ReduceArena's slots, as in the coordinator. Each ratio is baseline time /
 * aggregator time (1 = as fast as copying the inputs once); `ratio` is the lower of median's and
 * trimmed mean's (the figure, target >= 0.1); every ratio is in details.ratios.
 */
import { createReduceArena } from '../core/aggregate/reduce-arena.ts';
import { AGGREGATORS, createAggregator, type AggregatorName, type AggregatorSpecInput } from '../core/aggregate/robust/index.ts';
import type { BenchResult } from './bench-result.ts';

const UPDATES = 16;
const FLOATS = 1 << 20;
const WARMUP = 1;
const REPS = 5;
const TARGET = 0.1;

/** The spec each aggregator is benchmarked with (defaults, plus the required options). */
const SPECS: Record<AggregatorName, AggregatorSpecInput> = {
  mean: { name: 'mean' },
  median: { name: 'median' },
  trimmed_mean: { name: 'trimmed_mean', beta: 0.2 },
  krum: { name: 'krum', f: 3 },
  multi_krum: { name: 'multi_krum', f: 3 },
  bulyan: { name: 'bulyan', f: 3 },
  centered_clipping: { name: 'centered_clipping', tau: 10, iterations: 3 },
  norm_bounding: { name: 'norm_bounding', max_norm: 100 },
};

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

/** Runs the robust-aggregate bench. */
export default function robustAggregateBench(): Promise<BenchResult> {
  const arena = createReduceArena(FLOATS, UPDATES);
  const inputs = Array.from({ length: UPDATES }, (_, k) => {
    const v = arena.slot(k);
    for (let i = 0; i < FLOATS; i++) v[i] = Math.sin(i * 0.001 + k * 1.7) + Math.cos(i * 0.37 + k);
    return { values: v, weight: 32 + 4 * k };
  });
  const copyTargets = inputs.map(() => new Float32Array(FLOATS));
  const copy = () => {
    for (let k = 0; k < UPDATES; k++) copyTargets[k]!.set(inputs[k]!.values);
  };
  const msBy: Record<string, number> = {};
  const ratios: Record<string, number> = {};
  const copyMsBy: Record<string, number> = {};
  for (const name of Object.keys(AGGREGATORS) as AggregatorName[]) {
    const agg = createAggregator(SPECS[name], FLOATS);
    const run = () => void agg.aggregate(inputs, arena.out);
    for (let i = 0; i < WARMUP; i++) {
      copy();
      run();
    }
    const copyTimes: number[] = [];
    const aggTimes: number[] = [];
    for (let i = 0; i < REPS; i++) {
      copyTimes.push(timed(copy));
      aggTimes.push(timed(run));
    }
    copyMsBy[name] = median(copyTimes);
    msBy[name] = median(aggTimes);
    ratios[name] = copyMsBy[name] / msBy[name];
  }
  const worst = ratios.median! <= ratios.trimmed_mean! ? 'median' : 'trimmed_mean';
  const ratio = ratios[worst]!;
  const bytes = UPDATES * FLOATS * 4;
  return Promise.resolve({
    name: 'robust-aggregate',
    value: bytes / (msBy[worst]! / 1000),
    baseline: bytes / (copyMsBy[worst]! / 1000),
    ratio,
    unit: 'B/s',
    target: `ratio >= ${TARGET} (lower of median and trimmed_mean: copy time / aggregate time)`,
    pass: ratio >= TARGET,
    details: { updates: UPDATES, floatsPerUpdate: FLOATS, inputBytes: bytes, worstOfMedianAndTrimmedMean: worst, specs: SPECS, ratios, aggregateMedianMs: msBy, copyMedianMs: copyMsBy },
  });
}
