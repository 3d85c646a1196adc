import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../../../core/data/dataset-spec.ts';
import { applyCsvTransform, parseCsvTransform } from '../../../../core/data/csv/csv-transform.ts';
import { LOANS_DIR } from '../../../fixtures/csv/generate-loans.ts';
import { memoryFileSource } from './memory-file-source.ts';

/** Rows as column -> text, from a CSV without quotes. */
function rowsOf(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split('\n');
  const names = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, k) => [names[k]!, v])));
}

async function load(text: string, spec: Record<string, unknown>) {
  const r = await loadDataset({ name: 'csv', path: 'd.csv', label: 'y', ...spec }, { files: memoryFileSource({ 'd.csv': text }) });
  return { ...r, csv: r.csv! };
}

// Train rows (s = train) and test rows with extreme values that must not move the fit.
const TABLE = [
  'x,c,s,y',
  '1,red,train,a',
  '2,blue,train,b',
  '4,red,train,a',
  '9,green,train,b',
  '1000,purple,test,a',
  '-500,red,test,b',
].join('\n');

describe('csv preprocessing', () => {
  it('standardizes with the mean and population std of the train rows only (float64 oracle), one-hot encodes sorted train categories, zeros an unseen one', async () => {
    const { train, test, csv } = await load(TABLE, { split: { by: 's' } });
    const xs = [1, 2, 4, 9];
    const mean = xs.reduce((a, b) => a + b) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(csv.transform.outputs).toEqual(['x', 'c=blue', 'c=green', 'c=red']);
    const expectRow = (values: Float32Array, row: number, x: number, onehot: number[]) => {
      const want = (x - mean) / std;
      expect(Math.abs(values[row * 4]! - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want))); // float32 of the float64 value
      expect(Array.from(values.subarray(row * 4 + 1, row * 4 + 4))).toEqual(onehot);
    };
    expectRow(train.features, 0, 1, [0, 0, 1]);
    expectRow(train.features, 3, 9, [0, 1, 0]);
    expectRow(test.features, 0, 1000, [0, 0, 0]); // purple was never seen in train
    expectRow(test.features, 1, -500, [0, 0, 1]);
    expect(Array.from(train.labels)).toEqual([0, 1, 0, 1]);
    expect(Array.from(test.labels)).toEqual([0, 1]);
  });

  it('scales min-max and none from the train rows', async () => {
    const mm = await load(TABLE, { split: { by: 's' }, preprocess: { numeric: 'minmax' } });
    expect(Array.from(mm.train.features.filter((_v, i) => i % 4 === 0))).toEqual([0, 1 / 8, 3 / 8, 1].map(Math.fround));
    expect(mm.test.features[0]).toBeCloseTo((1000 - 1) / 8, 4);
    const none = await load(TABLE, { split: { by: 's' }, preprocess: { numeric: 'none' } });
    expect(Array.from(none.train.features.filter((_v, i) => i % 4 === 0))).toEqual([1, 2, 4, 9]);
  });

  const MISSING = ['x,c,s,y', '2,red,train,a', 'NA,blue,train,b', '4,,train,a', '4,red,train,b', '10,red,train,a', ',,test,b', '1,red,test,a'].join('\n');

  it('fills missing cells with the train mean (numbers) and mode (categories), or the modes, or adds indicators, or drops rows', async () => {
    const none = { numeric: 'none' };
    const mean = await load(MISSING, { split: { by: 's' }, preprocess: { ...none, missing: 'mean' } });
    expect(mean.csv.transform.outputs).toEqual(['x', 'c=blue', 'c=red']);
    expect(Array.from(mean.train.features.subarray(3, 6))).toEqual([5, 1, 0]); // NA -> mean of 2, 4, 4, 10
    expect(Array.from(mean.train.features.subarray(6, 9))).toEqual([4, 0, 1]); // empty -> mode red (3 of 4)
    expect(Array.from(mean.test.features.subarray(0, 3))).toEqual([5, 0, 1]);

    const mode = await load(MISSING, { split: { by: 's' }, preprocess: { ...none, missing: 'mode' } });
    expect(mode.train.features[3]).toBe(4);

    const ind = await load(MISSING, { split: { by: 's' }, preprocess: { ...none, missing: 'indicator' } });
    expect(ind.csv.transform.outputs).toEqual(['x', 'x:missing', 'c=blue', 'c=red', 'c:missing']);
    expect(Array.from(ind.train.features.subarray(5, 10))).toEqual([5, 1, 1, 0, 0]);
    expect(Array.from(ind.train.features.subarray(10, 15))).toEqual([4, 0, 0, 0, 1]);

    const drop = await load(MISSING, { split: { by: 's' }, preprocess: { ...none, missing: 'drop' } });
    expect([drop.train.size, drop.test.size, drop.csv.rows]).toEqual([3, 1, { total: 7, dropped: 3, train: 3, test: 1 }]);
  });

  it('re-applies the saved transform to raw rows (after a JSON round trip) and gets exactly the features it trained on', async () => {
    const text = readFileSync(path.join(LOANS_DIR, 'train_data_1.csv'), 'utf8');
    for (const missing of ['mean', 'indicator'] as const) {
      const { train, test, csv } = await load(text, { label: 'outcome', columns: { applicant_id: 'ignore' }, split: { by: 'region', test_values: ['west'] }, preprocess: { numeric: 'standardize', missing } });
      const saved = parseCsvTransform(JSON.parse(JSON.stringify(csv.transform)));
      const rows = rowsOf(text);
      const width = train.inputShape[0]!;
      const trainRows = rows.filter((r) => r.region !== 'west');
      const testRows = rows.filter((r) => r.region === 'west');
      trainRows.forEach((r, k) => expect(applyCsvTransform(saved, r)).toEqual(train.features.subarray(k * width, (k + 1) * width)));
      testRows.forEach((r, k) => expect(applyCsvTransform(saved, r)).toEqual(test.features.subarray(k * width, (k + 1) * width)));
      expect(() => applyCsvTransform(saved, { ...trainRows[0], age: 'old' })).toThrow(/column "age": "old" is not a number/);
    }
    expect(() => parseCsvTransform({ format: 'crowdtrain-csv-transform/1' })).toThrow(/invalid csv transform/);
  });
});

describe('csv schema and splits', () => {
  it('orders integer labels numerically and text labels by code unit', async () => {
    const ints = await load('x,y\n1,10\n2,9\n3,2\n4,10\n5,9\n', { split: { test: 0.2, seed: 1 } });
    expect(ints.csv.transform.label.classes).toEqual(['2', '9', '10']);
    const texts = await load('x,y\n1,b\n2,B\n3,a\n4,b\n5,a\n', {});
    expect(texts.csv.transform.label.classes).toEqual(['B', 'a', 'b']);
  });

  it('keeps the text of a column declared categorical (01 and 1 differ) and canonicalises numbers in an inferred mixed column', async () => {
    const text = 'z,m,x,y\n01,1.0,1,a\n1,cat,2,b\n1,cat,3,a\n01,1,4,b\n1,cat,5,a\n';
    const { csv } = await load(text, { columns: { z: 'categorical' }, split: { test: 0.2, seed: 4 } });
    const byColumn = Object.fromEntries(csv.transform.features.map((f) => [f.column, f]));
    expect(byColumn.z).toMatchObject({ kind: 'categorical', canonical_numbers: false });
    expect(byColumn.m).toMatchObject({ kind: 'categorical', canonical_numbers: true });
    const all = await load(text.replace(/\n1,cat,5,a\n$/, '\n'), { columns: { z: 'categorical' }, split: { by: 'x', test_values: ['4'] } });
    const cats = Object.fromEntries(all.csv.transform.features.flatMap((f) => (f.kind === 'categorical' ? [[f.column, f.categories]] : [])));
    expect(cats).toEqual({ z: ['01', '1'], m: ['1', 'cat'] });
  });

  it('splits by a seeded shuffle: round(test x rows) test rows, the same for the same seed, others for another', async () => {
    const text = ['x,y', ...Array.from({ length: 50 }, (_, i) => `${i},${i % 3}`)].join('\n');
    const a = await load(text, { split: { test: 0.2, seed: 7 }, preprocess: { numeric: 'none' } });
    const b = await load(text, { split: { test: 0.2, seed: 7 }, preprocess: { numeric: 'none' } });
    const c = await load(text, { split: { test: 0.2, seed: 8 }, preprocess: { numeric: 'none' } });
    expect([a.train.size, a.test.size]).toEqual([40, 10]);
    expect(b.test.features).toEqual(a.test.features);
    expect(c.test.features).not.toEqual(a.test.features);
    expect([...a.train.features, ...a.test.features].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('reads a glob of shards as one dataset equal to the concatenated file, hashed as sha256 of the "<sha256>  <name>" manifest', async () => {
    const names = ['train_data_1.csv', 'train_data_2.csv', 'train_data_3.csv'];
    const texts = names.map((n) => readFileSync(path.join(LOANS_DIR, n), 'utf8'));
    const files = Object.fromEntries(names.map((n, k) => [`loans/${n}`, texts[k]!]));
    const joined = texts[0] + texts.slice(1).map((t) => t.slice(t.indexOf('\n') + 1)).join('');
    const spec = { name: 'csv', label: 'outcome', columns: { applicant_id: 'ignore' } } as const;
    const sharded = await loadDataset({ ...spec, path: 'loans/train_data_*.csv' }, { files: memoryFileSource(files, 4096) });
    const single = await loadDataset({ ...spec, path: 'all.csv' }, { files: memoryFileSource({ 'all.csv': joined }, 4096) });
    expect(sharded.train.features).toEqual(single.train.features);
    expect(sharded.test.labels).toEqual(single.test.labels);
    expect(sharded.csv!.files.map((f) => [f.path, f.rows])).toEqual(names.map((n) => [`loans/${n}`, 500]));
    const sha = (b: string) => createHash('sha256').update(b).digest('hex');
    const manifest = names.map((n, k) => `${sha(texts[k]!)}  ${n}\n`).join('');
    expect(sharded.csv!.sha256).toBe(sha(manifest));
    expect(sharded.csv!.files.map((f) => f.sha256)).toEqual(texts.map(sha));
    // The pinned hash is accepted.
    const pinned = await loadDataset({ ...spec, path: 'loans/train_data_*.csv', sha256: sha(manifest) }, { files: memoryFileSource(files, 4096) });
    expect(pinned.train.features).toEqual(sharded.train.features);
  });
});
