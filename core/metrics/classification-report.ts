import { CrowdtrainError } from '../protocol/errors.ts';

/**
 * Per-class and averaged precision, recall and F1 from a confusion matrix, as scikit-learn's
 * `classification_report(..., zero_division=0)` reports them. Pure: no tensors, no I/O.
 *
 * Conventions (the same as scikit-learn's):
 * - `confusion[t][p]` counts the samples of true class `t` predicted as class `p`;
 * - precision = tp / (tp + fp), recall = tp / (tp + fn), f1 = 2·tp / (2·tp + fp + fn) (the
 *   harmonic mean of the two wherever both are defined); every 0/0 is defined as 0, as
 *   `zero_division=0` does (a class never predicted has precision 0, a class with no samples
 *   recall 0);
 * - the macro average is the unweighted mean over the classes that occur among the true or the
 *   predicted labels (scikit-learn's default `labels`, the union of both); a class with neither
 *   samples nor predictions is listed with zeros but left out of the mean;
 * - the weighted average weighs each class by its support (true samples), so the weighted recall
 *   equals the accuracy;
 * - accuracy = trace / total (0 for an empty matrix).
 */

/** Precision, recall, F1 and support of one class. */
export interface ClassScores {
  /** The class's name. */
  class: string;
  precision: number;
  recall: number;
  f1: number;
  /** True samples of the class (its row sum). */
  support: number;
}

/** An average over the classes; `support` is the total number of samples. */
export interface AveragedScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Everything scikit-learn's classification_report and confusion_matrix show, for one evaluation. */
export interface ClassificationReport {
  /** Class names, in row (and column) order of `confusion`. */
  classes: string[];
  /** Counts: row = true class, column = predicted class. */
  confusion: number[][];
  per_class: ClassScores[];
  macro: AveragedScores;
  weighted: AveragedScores;
  /** trace / total. */
  accuracy: number;
}

/** a / b, with 0/0 (and any division by 0) defined as 0. */
function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/** Throws INVALID_MESSAGE unless `m` is a square matrix of non-negative integer counts matching `classes`. */
function checkConfusion(m: readonly (readonly number[])[], classes: readonly string[]): void {
  const k = m.length;
  if (k === 0) throw new CrowdtrainError('INVALID_MESSAGE', 'confusion matrix is empty: it needs at least one class');
  if (classes.length !== k) throw new CrowdtrainError('INVALID_MESSAGE', `confusion matrix has ${k} rows but ${classes.length} class names were given`);
  m.forEach((row, t) => {
    if (row.length !== k) throw new CrowdtrainError('INVALID_MESSAGE', `confusion matrix row ${t} has ${row.length} columns, expected ${k} (a square matrix)`);
    row.forEach((v, p) => {
      if (!Number.isSafeInteger(v) || v < 0) throw new CrowdtrainError('INVALID_MESSAGE', `confusion matrix cell [${t}][${p}] is ${v}, expected a non-negative integer count`);
    });
  });
}

/**
 * The classification report of a confusion matrix (row = true class, column = predicted class).
 * `classes` names the rows; by default "0".."K-1". Throws INVALID_MESSAGE for a matrix that is not
 * square, names of the wrong length, or a cell that is not a non-negative integer.
 * @example
 * // y_true = [0, 1, 2, 2, 2], y_pred = [0, 0, 2, 2, 1] (scikit-learn's documented example)
 * const r = classificationReport([[1, 0, 0], [1, 0, 0], [0, 1, 2]]);
 * r.per_class.map((c) => c.precision); // [0.5, 0, 1]
 * r.macro.f1; // 0.488...
 * r.accuracy; // 0.6
 */
export function classificationReport(confusion: readonly (readonly number[])[], classes?: readonly string[]): ClassificationReport {
  const k = confusion.length;
  const names = classes ?? Array.from({ length: k }, (_, i) => String(i));
  checkConfusion(confusion, names);
  const predicted = new Array<number>(k).fill(0);
  let total = 0;
  let trace = 0;
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) {
      const v = confusion[t]![p]!;
      predicted[p]! += v;
      total += v;
      if (t === p) trace += v;
    }
  }
  const perClass: ClassScores[] = names.map((name, i) => {
    const row = confusion[i]!;
    const tp = row[i]!;
    const support = row.reduce((a, v) => a + v, 0);
    const fp = predicted[i]! - tp;
    const fn = support - tp;
    return { class: name, precision: ratio(tp, tp + fp), recall: ratio(tp, support), f1: ratio(2 * tp, 2 * tp + fp + fn), support };
  });
  const present = perClass.filter((c, i) => c.support > 0 || predicted[i]! > 0);
  const mean = (pick: (c: ClassScores) => number) => ratio(present.reduce((a, c) => a + pick(c), 0), present.length);
  const weightedMean = (pick: (c: ClassScores) => number) => ratio(perClass.reduce((a, c) => a + pick(c) * c.support, 0), total);
  return {
    classes: [...names],
    confusion: confusion.map((row) => [...row]),
    per_class: perClass,
    macro: { precision: mean((c) => c.precision), recall: mean((c) => c.recall), f1: mean((c) => c.f1), support: total },
    weighted: { precision: weightedMean((c) => c.precision), recall: weightedMean((c) => c.recall), f1: weightedMean((c) => c.f1), support: total },
    accuracy: ratio(trace, total),
  };
}

/** Characters a class name keeps in a metric key (the API's metric keys allow letters, digits and `_ . / -`; `/` separates the class). */
const UNSAFE_KEY_CHARS = /[^A-Za-z0-9_.-]/g;
/** Longest class-name part of a metric key (`eval_precision/` + name + a `_N` suffix stays within the 128 characters a key may have). */
export const MAX_METRIC_CLASS_NAME = 100;

/**
 * Class names as metric-key parts: every character outside letters, digits and `_ . -` becomes
 * `_`, names are cut to {@link MAX_METRIC_CLASS_NAME} characters (an empty one becomes `_`), and
 * names that collide get `_2`, `_3`, ... appended, so the result is one distinct part per class,
 * in the same order.
 * @example metricClassNames(['high risk', 'high/risk', 'low']); // ['high_risk', 'high_risk_2', 'low']
 */
export function metricClassNames(classes: readonly string[]): string[] {
  const base = classes.map((c) => c.replace(UNSAFE_KEY_CHARS, '_').slice(0, MAX_METRIC_CLASS_NAME) || '_');
  // Names that are already free keep their spelling; only later duplicates get a suffix.
  const taken = new Set<string>();
  return base.map((name) => {
    let candidate = name;
    for (let n = 2; taken.has(candidate); n++) candidate = `${name}_${n}`;
    taken.add(candidate);
    return candidate;
  });
}

/** Runs with at most this many classes log per-class metric curves; every run gets the macro ones and the report Event. */
export const MAX_PER_CLASS_METRIC_CLASSES = 32;

/**
 * The metric points of one evaluation's report: `eval_macro_precision`, `eval_macro_recall`,
 * `eval_macro_f1`, and, when the report has at most {@link MAX_PER_CLASS_METRIC_CLASSES} classes,
 * `eval_precision/<class>`, `eval_recall/<class>` and `eval_f1/<class>` per class (names made
 * key-safe by {@link metricClassNames}).
 * @example reportMetrics(report); // { eval_macro_precision: 0.5, ..., 'eval_f1/2': 0.8 }
 */
export function reportMetrics(report: ClassificationReport): Record<string, number> {
  const values: Record<string, number> = {
    eval_macro_precision: report.macro.precision,
    eval_macro_recall: report.macro.recall,
    eval_macro_f1: report.macro.f1,
  };
  if (report.classes.length > MAX_PER_CLASS_METRIC_CLASSES) return values;
  const keys = metricClassNames(report.classes);
  report.per_class.forEach((c, i) => {
    const name = keys[i]!;
    values[`eval_precision/${name}`] = c.precision;
    values[`eval_recall/${name}`] = c.recall;
    values[`eval_f1/${name}`] = c.f1;
  });
  return values;
}
