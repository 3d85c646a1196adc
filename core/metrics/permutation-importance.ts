import { CrowdtrainError } from '../protocol/errors.ts';
import { mixSeed, shuffledIndices } from '../data/seeded-random.ts';
import { metricClassNames } from './classification-report.ts';

/** Most source columns whose importance one computation measures (the rest are left out, and the result says so). */
export const MAX_IMPORTANCE_COLUMNS = 100;

/** Permutations per column unless asked otherwise (scikit-learn's `n_repeats` default). */
export const DEFAULT_IMPORTANCE_REPEATS = 5;

/** Runs with at most this many measured columns also log an `importance/<column>` metric per column. */
export const MAX_IMPORTANCE_METRIC_COLUMNS = 32;

/** Loss and accuracy of the model on a feature matrix (the test split's labels, unchanged). */
export interface ImportanceScore {
  loss: number;
  accuracy: number;
}

/** Inputs of {@link permutationImportance}. */
export interface PermutationImportanceOptions {
  /** Source columns and the input indices each produced (core/data/csv/csv-feature-groups.ts). */
  groups: readonly { column: string; inputs: readonly number[] }[];
  /** The test features, row-major: `rows * width` values. */
  features: Float32Array;
  rows: number;
  width: number;
  /** Scores the model on a (permuted) copy of `features`; called once for the baseline, then `repeats` times per column. */
  evaluate: (features: Float32Array) => ImportanceScore;
  /** Permutations per column ({@link DEFAULT_IMPORTANCE_REPEATS}, as scikit-learn's `n_repeats`). */
  repeats?: number;
  /** Seeds the permutations (see {@link importancePermutation}). */
  seed: number;
}

/** One column's importance: the mean and (population) standard deviation over the repeats. */
export interface ColumnImportance {
  column: string;
  accuracy_drop_mean: number;
  accuracy_drop_std: number;
  loss_rise_mean: number;
  loss_rise_std: number;
}

/** What {@link permutationImportance} returns. */
export interface PermutationImportanceResult {
  repeats: number;
  /** The score on the unpermuted features. */
  baseline: ImportanceScore;
  /** True when there were more than {@link MAX_IMPORTANCE_COLUMNS} columns: only the first ones were measured. */
  truncated: boolean;
  /** Source columns given (measured or not). */
  total_columns: number;
  /** Sorted by accuracy drop, largest first (ties keep the column order). */
  columns: ColumnImportance[];
}

/**
 * The row permutation of repeat `repeat` of column `group` (its index in the groups): row `k` of
 * the permuted matrix takes that column's inputs from row `perm[k]`. Deterministic per seed.
 * @example const perm = importancePermutation(300, 7, 0, 0);
 */
export function importancePermutation(rows: number, seed: number, group: number, repeat: number): Uint32Array {
  return shuffledIndices(rows, mixSeed(seed, group, repeat));
}

function meanStd(values: readonly number[]): [number, number] {
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return [mean, Math.sqrt(variance)];
}

/**
 * Permutation feature importance (scikit-learn's `permutation_importance`, scoring accuracy): for
 * each source column, `repeats` seeded row permutations of its inputs — all of them together, so a
 * one-hot column stays one-hot in every row — each scored against the unchanged labels; a column's
 * importance is how much accuracy drops (and loss rises) from the baseline, averaged over the
 * repeats. At most {@link MAX_IMPORTANCE_COLUMNS} columns.
 * @example
 * const r = permutationImportance({ groups, features, rows: 300, width: 12, evaluate: (x) => model.score(x), seed: 7 });
 * r.columns[0]; // { column: 'debt_ratio', accuracy_drop_mean: 0.21, ... }
 */
export function permutationImportance(opts: PermutationImportanceOptions): PermutationImportanceResult {
  const { features, rows, width, seed } = opts;
  const repeats = opts.repeats ?? DEFAULT_IMPORTANCE_REPEATS;
  if (!Number.isInteger(repeats) || repeats < 1) throw new CrowdtrainError('INVALID_CONFIG', `feature importance repeats ${repeats} must be a positive integer`);
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(width) || width < 1 || features.length !== rows * width) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `feature importance got ${features.length} values for ${rows} rows of ${width} inputs`);
  }
  for (const g of opts.groups) {
    if (g.inputs.length === 0 || g.inputs.some((i) => !Number.isInteger(i) || i < 0 || i >= width)) {
      throw new CrowdtrainError('SHAPE_MISMATCH', `feature importance column ${JSON.stringify(g.column)} has inputs [${g.inputs.join(', ')}] outside 0..${width - 1}`);
    }
  }
  const truncated = opts.groups.length > MAX_IMPORTANCE_COLUMNS;
  const groups = opts.groups.slice(0, MAX_IMPORTANCE_COLUMNS);
  const baseline = opts.evaluate(features.slice());
  const permuted = new Float32Array(features.length);
  const columns = groups.map((g, gi): ColumnImportance => {
    const drops: number[] = [];
    const rises: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const perm = importancePermutation(rows, seed, gi, r);
      permuted.set(features);
      for (let k = 0; k < rows; k++) {
        const from = perm[k]! * width;
        const to = k * width;
        for (const i of g.inputs) permuted[to + i] = features[from + i]!;
      }
      const s = opts.evaluate(permuted);
      drops.push(baseline.accuracy - s.accuracy);
      rises.push(s.loss - baseline.loss);
    }
    const [accuracy_drop_mean, accuracy_drop_std] = meanStd(drops);
    const [loss_rise_mean, loss_rise_std] = meanStd(rises);
    return { column: g.column, accuracy_drop_mean, accuracy_drop_std, loss_rise_mean, loss_rise_std };
  });
  const order = columns.map((c, i) => [c, i] as const).sort(([a, i], [b, j]) => b.accuracy_drop_mean - a.accuracy_drop_mean || i - j);
  return { repeats, baseline, truncated, total_columns: opts.groups.length, columns: order.map(([c]) => c) };
}

/**
 * The metric points of a result: `importance/<column>` = the column's mean accuracy drop, names
 * made key-safe as the evaluation report's class names are ({@link metricClassNames}); none when
 * more than {@link MAX_IMPORTANCE_METRIC_COLUMNS} columns were measured.
 * @example importanceMetrics(result); // { 'importance/debt_ratio': 0.21, 'importance/age': 0.01, ... }
 */
export function importanceMetrics(result: Pick<PermutationImportanceResult, 'columns'>): Record<string, number> {
  if (result.columns.length > MAX_IMPORTANCE_METRIC_COLUMNS) return {};
  const keys = metricClassNames(result.columns.map((c) => c.column));
  return Object.fromEntries(result.columns.map((c, i) => [`importance/${keys[i]!}`, c.accuracy_drop_mean]));
}
