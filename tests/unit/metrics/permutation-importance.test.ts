import { describe, expect, it } from 'vitest';
import { importanceMetrics, importancePermutation, MAX_IMPORTANCE_COLUMNS, MAX_IMPORTANCE_METRIC_COLUMNS, permutationImportance } from '../../../core/metrics/permutation-importance.ts';
import { SeededRandom } from '../../../core/data/seeded-random.ts';

const ROWS = 200;
const WIDTH = 4;

/** Column x (input 0) decides the label; noise (input 1) is not looked at; cat (inputs 2, 3) is a one-hot pair. */
function fixture() {
  const rng = new SeededRandom(3);
  const features = new Float32Array(ROWS * WIDTH);
  const labels = new Uint8Array(ROWS);
  for (let r = 0; r < ROWS; r++) {
    const x = rng.normal();
    features[r * WIDTH] = x;
    features[r * WIDTH + 1] = rng.normal();
    const hot = rng.int(2);
    features[r * WIDTH + 2 + hot] = 1;
    labels[r] = x > 0 ? 1 : 0;
  }
  const groups = [
    { column: 'noise', inputs: [1] },
    { column: 'x', inputs: [0] },
    { column: 'cat', inputs: [2, 3] },
  ];
  return { features, labels, groups };
}

function oracle(labels: Uint8Array, seen: Float32Array[] = []) {
  return (f: Float32Array) => {
    seen.push(f.slice());
    let right = 0;
    for (let r = 0; r < ROWS; r++) if ((f[r * WIDTH]! > 0 ? 1 : 0) === labels[r]) right++;
    const accuracy = right / ROWS;
    return { loss: 1 - accuracy, accuracy };
  };
}

describe('permutationImportance', () => {
  it("measures the decisive column's accuracy drop exactly, a column the model ignores at 0, and sorts by drop", () => {
    const { features, labels, groups } = fixture();
    const r = permutationImportance({ groups, features, rows: ROWS, width: WIDTH, evaluate: oracle(labels), repeats: 3, seed: 11 });
    expect(r.baseline).toEqual({ loss: 0, accuracy: 1 });
    expect([r.truncated, r.total_columns, r.repeats]).toEqual([false, 3, 3]);
    expect(r.columns.map((c) => c.column)).toEqual(['x', 'noise', 'cat']);
    // The expected drop, from the same permutations (x is group 1).
    const drops = [0, 1, 2].map((rep) => {
      const perm = importancePermutation(ROWS, 11, 1, rep);
      let right = 0;
      for (let k = 0; k < ROWS; k++) if ((features[perm[k]! * WIDTH]! > 0 ? 1 : 0) === labels[k]) right++;
      return 1 - right / ROWS;
    });
    const mean = drops.reduce((a, v) => a + v, 0) / 3;
    const x = r.columns[0]!;
    expect(x.accuracy_drop_mean).toBe(mean);
    expect(x.accuracy_drop_std).toBe(Math.sqrt(drops.reduce((a, v) => a + (v - mean) ** 2, 0) / 3));
    expect(x.loss_rise_mean).toBe(mean);
    expect(x.accuracy_drop_mean).toBeGreaterThan(0.3);
    for (const c of r.columns.slice(1)) expect([c.accuracy_drop_mean, c.accuracy_drop_std, c.loss_rise_mean]).toEqual([0, 0, 0]);
  });

  it('is deterministic per seed, and another seed permutes differently', () => {
    const { features, labels, groups } = fixture();
    const run = (seed: number) => permutationImportance({ groups, features, rows: ROWS, width: WIDTH, evaluate: oracle(labels), seed });
    expect(run(5)).toEqual(run(5));
    expect(run(5).repeats).toBe(5);
    expect(run(5).columns[0]!.accuracy_drop_mean).not.toBe(run(6).columns[0]!.accuracy_drop_mean);
  });

  it("moves a column's inputs together (every row stays one-hot) and leaves the other inputs and the caller's matrix alone", () => {
    const { features, labels, groups } = fixture();
    const original = features.slice();
    const seen: Float32Array[] = [];
    permutationImportance({ groups, features, rows: ROWS, width: WIDTH, evaluate: oracle(labels, seen), repeats: 2, seed: 1 });
    expect(features).toEqual(original);
    expect(seen).toHaveLength(1 + 3 * 2);
    expect(seen[0]).toEqual(original);
    // Calls 5 and 6 permute cat (group 2).
    for (const [i, f] of seen.slice(5).entries()) {
      const perm = importancePermutation(ROWS, 1, 2, i);
      for (let k = 0; k < ROWS; k++) {
        expect(f[k * WIDTH + 2]! + f[k * WIDTH + 3]!).toBe(1);
        expect([f[k * WIDTH + 2], f[k * WIDTH + 3]]).toEqual([original[perm[k]! * WIDTH + 2], original[perm[k]! * WIDTH + 3]]);
        expect([f[k * WIDTH], f[k * WIDTH + 1]]).toEqual([original[k * WIDTH], original[k * WIDTH + 1]]);
      }
    }
  });

  it(`measures at most ${MAX_IMPORTANCE_COLUMNS} columns and says so; refuses inputs outside the matrix`, () => {
    const width = MAX_IMPORTANCE_COLUMNS + 5;
    const features = new Float32Array(10 * width);
    const groups = Array.from({ length: width }, (_, i) => ({ column: `c${i}`, inputs: [i] }));
    const r = permutationImportance({ groups, features, rows: 10, width, evaluate: () => ({ loss: 1, accuracy: 0.5 }), repeats: 1, seed: 0 });
    expect([r.truncated, r.total_columns, r.columns.length]).toEqual([true, width, MAX_IMPORTANCE_COLUMNS]);
    expect(r.columns.map((c) => c.column)).toEqual(groups.slice(0, MAX_IMPORTANCE_COLUMNS).map((g) => g.column));
    expect(() => permutationImportance({ groups: [{ column: 'z', inputs: [9] }], features: new Float32Array(8), rows: 2, width: 4, evaluate: () => ({ loss: 0, accuracy: 1 }), seed: 0 })).toThrow(
      /column "z" has inputs \[9\] outside 0..3/,
    );
  });

  it('refuses a bad repeat count', () => {
    const { features, labels, groups } = fixture();
    expect(() => permutationImportance({ groups, features, rows: ROWS, width: WIDTH, evaluate: oracle(labels), repeats: 0, seed: 0 })).toThrow(/repeats 0 must be a positive integer/);
  });
});

describe('importanceMetrics', () => {
  const column = (name: string, drop: number) => ({ column: name, accuracy_drop_mean: drop, accuracy_drop_std: 0, loss_rise_mean: 0, loss_rise_std: 0 });

  it("logs each column's mean accuracy drop under a key-safe importance/<column> key, as the evaluation report names classes", () => {
    expect(importanceMetrics({ columns: [column('debt ratio', 0.2), column('debt/ratio', 0.1), column('age', -0.01)] })).toEqual({
      'importance/debt_ratio': 0.2,
      'importance/debt_ratio_2': 0.1,
      'importance/age': -0.01,
    });
  });

  it(`logs nothing for more than ${MAX_IMPORTANCE_METRIC_COLUMNS} columns`, () => {
    const many = Array.from({ length: MAX_IMPORTANCE_METRIC_COLUMNS + 1 }, (_, i) => column(`c${i}`, 0));
    expect(importanceMetrics({ columns: many })).toEqual({});
    expect(Object.keys(importanceMetrics({ columns: many.slice(1) }))).toHaveLength(MAX_IMPORTANCE_METRIC_COLUMNS);
  });
});
