import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MAX_PER_CLASS_METRIC_CLASSES,
  classificationReport,
  metricClassNames,
  reportMetrics,
  type AveragedScores,
} from '../../../core/metrics/classification-report.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { METRIC_KEY } from '../../../coordinator/http/routes/run-lookup.ts';

/** The confusion matrix of label lists (row = true, column = predicted). */
function confusionOf(yTrue: number[], yPred: number[], k: number): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  yTrue.forEach((t, i) => (m[t]![yPred[i]!]! += 1));
  return m;
}

function expectScores(actual: AveragedScores, expected: Omit<AveragedScores, 'support'>, digits: number): void {
  expect(actual.precision).toBeCloseTo(expected.precision, digits);
  expect(actual.recall).toBeCloseTo(expected.recall, digits);
  expect(actual.f1).toBeCloseTo(expected.f1, digits);
}

describe('classificationReport', () => {
  it("gives scikit-learn's documented classification_report example (y_true [0,1,2,2,2], y_pred [0,0,2,2,1]) to its two decimals", () => {
    const r = classificationReport(confusionOf([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], 3), ['class 0', 'class 1', 'class 2']);
    expect(r.confusion).toEqual([
      [1, 0, 0],
      [1, 0, 0],
      [0, 1, 2],
    ]);
    // The table in scikit-learn's docs of sklearn.metrics.classification_report.
    const table = [
      ['class 0', 0.5, 1.0, 0.67, 1],
      ['class 1', 0.0, 0.0, 0.0, 1],
      ['class 2', 1.0, 0.67, 0.8, 3],
    ] as const;
    table.forEach(([name, p, rec, f1, support], i) => {
      const c = r.per_class[i]!;
      expect(c.class).toBe(name);
      expect(c.precision).toBeCloseTo(p, 2);
      expect(c.recall).toBeCloseTo(rec, 2);
      expect(c.f1).toBeCloseTo(f1, 2);
      expect(c.support).toBe(support);
    });
    expect(r.accuracy).toBeCloseTo(0.6, 12);
    expectScores(r.macro, { precision: 0.5, recall: 0.56, f1: 0.49 }, 2);
    expectScores(r.weighted, { precision: 0.7, recall: 0.6, f1: 0.61 }, 2);
    expect([r.macro.support, r.weighted.support]).toEqual([5, 5]);
    // And exactly, by hand: recall of class 2 is 2/3, macro f1 (2/3 + 0 + 4/5) / 3.
    expect(r.per_class[2]!.recall).toBeCloseTo(2 / 3, 12);
    expect(r.macro.f1).toBeCloseTo((2 / 3 + 0.8) / 3, 12);
    expect(r.weighted.f1).toBeCloseTo((2 / 3 + 3 * 0.8) / 5, 12);
  });

  it('defines 0/0 as 0: a class never predicted has precision 0, a class with no samples recall 0 (hand-computed)', () => {
    // a: tp 3, fp 2 (2 c's predicted a), fn 1; b: no samples, predicted once; c: 2 samples, never predicted.
    const r = classificationReport(
      [
        [3, 1, 0],
        [0, 0, 0],
        [2, 0, 0],
      ],
      ['a', 'b', 'c'],
    );
    expect(r.per_class.map((c) => [c.class, c.precision, c.recall, c.f1, c.support])).toEqual([
      ['a', 3 / 5, 3 / 4, 6 / 9, 4],
      ['b', 0, 0, 0, 0],
      ['c', 0, 0, 0, 2],
    ]);
    // All three classes occur (b among the predictions): the macro mean is over three.
    expectScores(r.macro, { precision: 0.6 / 3, recall: 0.75 / 3, f1: 2 / 9 }, 12);
    expectScores(r.weighted, { precision: (4 * 0.6) / 6, recall: 3 / 6, f1: (4 * (2 / 3)) / 6 }, 12);
    expect(r.accuracy).toBe(0.5);
  });

  it("leaves a class with neither samples nor predictions out of the macro mean (scikit-learn's default labels), listing it with zeros", () => {
    // y_true [0, 0, 2, 2], y_pred [0, 0, 0, 2]: scikit-learn reports labels 0 and 2 only.
    const r = classificationReport(confusionOf([0, 0, 2, 2], [0, 0, 0, 2], 3));
    expect(r.classes).toEqual(['0', '1', '2']);
    expect(r.per_class[1]).toEqual({ class: '1', precision: 0, recall: 0, f1: 0, support: 0 });
    expectScores(r.macro, { precision: (2 / 3 + 1) / 2, recall: (1 + 1 / 2) / 2, f1: (4 / 5 + 2 / 3) / 2 }, 12);
    expect(r.accuracy).toBe(0.75);
  });

  it('is all zeros for an empty matrix, and refuses a matrix that is not square counts or names of the wrong length', () => {
    const empty = classificationReport([
      [0, 0],
      [0, 0],
    ]);
    expect([empty.accuracy, empty.macro.f1, empty.weighted.recall, empty.macro.support]).toEqual([0, 0, 0, 0]);
    const bad: [number[][], string[] | undefined, RegExp][] = [
      [[], undefined, /empty/],
      [[[1, 2], [3]], undefined, /row 1 has 1 columns, expected 2/],
      [[[1, -1], [0, 0]], undefined, /cell \[0\]\[1\] is -1/],
      [[[1, 0.5], [0, 0]], undefined, /cell \[0\]\[1\] is 0.5/],
      [[[1, 0], [0, 1]], ['a'], /2 rows but 1 class names/],
    ];
    for (const [m, names, message] of bad) {
      let err: unknown;
      try {
        classificationReport(m, names);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CrowdtrainError);
      expect((err as CrowdtrainError).code).toBe('INVALID_MESSAGE');
      expect((err as Error).message).toMatch(message);
    }
  });

  it('accuracy is trace / total and the weighted recall equals it, every score lies in [0, 1] and f1 is the harmonic mean (fast-check)', () => {
    const matrix = fc.integer({ min: 1, max: 8 }).chain((k) => fc.array(fc.array(fc.integer({ min: 0, max: 60 }), { minLength: k, maxLength: k }), { minLength: k, maxLength: k }));
    fc.assert(
      fc.property(matrix, (m) => {
        const r = classificationReport(m);
        const total = m.flat().reduce((a, v) => a + v, 0);
        const trace = m.reduce((a, row, i) => a + row[i]!, 0);
        expect(r.accuracy).toBe(total === 0 ? 0 : trace / total);
        expect(Math.abs(r.weighted.recall - r.accuracy)).toBeLessThanOrEqual(1e-12);
        expect(r.per_class.reduce((a, c) => a + c.support, 0)).toBe(total);
        for (const c of r.per_class) {
          for (const v of [c.precision, c.recall, c.f1]) expect(v >= 0 && v <= 1).toBe(true);
          if (c.precision + c.recall > 0) expect(Math.abs(c.f1 - (2 * c.precision * c.recall) / (c.precision + c.recall))).toBeLessThanOrEqual(1e-12);
        }
        for (const avg of [r.macro, r.weighted]) for (const v of [avg.precision, avg.recall, avg.f1]) expect(v >= 0 && v <= 1 + 1e-12).toBe(true);
      }),
    );
  });
});

describe('metric keys of a report', () => {
  it('makes class names key-safe and distinct, in order', () => {
    const names = metricClassNames(['high risk', 'high/risk', 'high_risk', 'low', '', 'été', 'x'.repeat(200), 'a.b-c_D9']);
    expect(names.slice(0, 6)).toEqual(['high_risk', 'high_risk_2', 'high_risk_3', 'low', '_', '_t_']);
    expect(names[6]).toBe('x'.repeat(100));
    expect(names[7]).toBe('a.b-c_D9');
    expect(new Set(names).size).toBe(names.length);
    // Still distinct when a suffixed name meets another class's own spelling.
    expect(metricClassNames(['a b', 'a_b', 'a_b_2'])).toEqual(['a_b', 'a_b_2', 'a_b_2_2']);
  });

  it('logs the macro scores always and per-class scores up to 32 classes, every key a valid API metric key', () => {
    const r = classificationReport(confusionOf([0, 1, 2, 2, 2], [0, 0, 2, 2, 1], 3), ['approve', 'needs review', 'decline/other']);
    const values = reportMetrics(r);
    expect(values).toEqual({
      eval_macro_precision: r.macro.precision,
      eval_macro_recall: r.macro.recall,
      eval_macro_f1: r.macro.f1,
      'eval_precision/approve': 0.5,
      'eval_recall/approve': 1,
      'eval_f1/approve': 2 / 3,
      'eval_precision/needs_review': 0,
      'eval_recall/needs_review': 0,
      'eval_f1/needs_review': 0,
      'eval_precision/decline_other': 1,
      'eval_recall/decline_other': 2 / 3,
      'eval_f1/decline_other': 0.8,
    });
    const long = classificationReport(
      Array.from({ length: 32 }, (_, i) => Array.from({ length: 32 }, (_, j) => (i === j ? 1 : 0))),
      Array.from({ length: 32 }, (_, i) => `${'y'.repeat(300)} ${i}`),
    );
    const keys = Object.keys(reportMetrics(long));
    expect(keys).toHaveLength(3 + 3 * 32);
    for (const key of keys) expect(key).toMatch(METRIC_KEY);
    const many = MAX_PER_CLASS_METRIC_CLASSES + 1;
    const wide = classificationReport(Array.from({ length: many }, () => new Array<number>(many).fill(1)));
    expect(Object.keys(reportMetrics(wide))).toEqual(['eval_macro_precision', 'eval_macro_recall', 'eval_macro_f1']);
  });
});
