import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../../../core/data/dataset-spec.ts';
import { CrowdtrainError } from '../../../../core/protocol/errors.ts';
import { memoryFileSource, type MemoryFile } from './memory-file-source.ts';

const GOOD = 'x,color,y\n1.5,red,a\n2.5,blue,b\n3.5,red,a\n4.5,blue,b\n5.5,red,a\n';

/** Loads a csv dataset over in-memory files; returns the error it throws (failing the test when it loads). */
async function refusal(files: Record<string, MemoryFile>, spec: Record<string, unknown> = {}): Promise<CrowdtrainError> {
  const source = memoryFileSource(files);
  try {
    await loadDataset({ name: 'csv', path: 'd.csv', label: 'y', ...spec }, { files: source });
  } catch (err) {
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
    return err as CrowdtrainError;
  }
  throw new Error('the dataset loaded; expected a refusal');
}

describe('csv datasets refuse bad input with the file, line and column', () => {
  it('loads the good table the bad ones are made from', async () => {
    const { train, test } = await loadDataset({ name: 'csv', path: 'd.csv', label: 'y', split: { test: 0.4 } }, { files: memoryFileSource({ 'd.csv': GOOD }) });
    expect([train.size, test.size, train.numClasses, train.inputShape]).toEqual([3, 2, 2, [3]]);
  });

  it('a ragged row', async () => {
    const e = await refusal({ 'd.csv': 'x,color,y\n1,red,a\n2,blue\n3,red,a\n' });
    expect(e.message).toBe('csv dataset: d.csv line 3: row has 2 fields, expected 3 (the header\'s columns: x, color, y)');
  });

  it('a non-number in a column declared numeric, and in a column that is mostly numbers', async () => {
    const declared = await refusal({ 'd.csv': GOOD.replace('2.5,blue', '2.5,7').replace('4.5,blue', 'abc,blue') }, { columns: { x: 'numeric' } });
    expect(declared.message).toBe('csv dataset: d.csv line 5, column "x": "abc" is not a number, and the column is declared numeric (list the value in missing_values if it means "missing")');
    const inferred = await refusal({ 'd.csv': GOOD.replace('4.5,blue', '4,5,blue') });
    expect(inferred.message).toMatch(/^csv dataset: d\.csv line 5: row has 4 fields/);
    const mostly = await refusal({ 'd.csv': GOOD.replace('4.5,blue', '4.5x,blue') });
    expect(mostly.message).toMatch(/^csv dataset: d\.csv line 5, column "x": "4\.5x" is not a number, but 4 of the column's 5 values are/);
  });

  it('no label column', async () => {
    const e = await refusal({ 'd.csv': GOOD }, { label: 'species' });
    expect(e.message).toBe('csv dataset: d.csv line 1: the label column "species" is not in the header (columns: x, color, y)');
  });

  it('an empty file, and a file with only a header', async () => {
    expect((await refusal({ 'd.csv': '' })).message).toBe('csv dataset: d.csv: the file is empty: expected a header row and data rows');
    expect((await refusal({ 'd.csv': '\n\n' })).message).toBe('csv dataset: d.csv: the file is empty: expected a header row and data rows');
    expect((await refusal({ 'd.csv': 'x,color,y\n' })).message).toBe('csv dataset: d.csv: the file has a header row but no data rows');
  });

  it('a label with one class, and a numeric label that is not integer', async () => {
    const one = await refusal({ 'd.csv': GOOD.replace(/,b\n/g, ',a\n') });
    expect(one.message).toBe('csv dataset: d.csv, column "y": the label has one class ("a"): a classifier needs at least 2');
    const real = await refusal({ 'd.csv': 'x,y\n1,0\n2,1\n3,0.5\n' });
    expect(real.message).toMatch(/^csv dataset: d\.csv line 4, column "y": the label 0\.5 is not an integer/);
  });

  it('a 100 MB single line, refused after reading about max_record_chars of it', async () => {
    const piece = new TextEncoder().encode('x'.repeat(64 * 1024));
    const hundredMb = function* () {
      yield new TextEncoder().encode('x,y\n');
      for (let i = 0; i < 1600; i++) yield piece; // 1600 x 64 KiB = 100 MiB, no newline
    };
    const source = memoryFileSource({ 'd.csv': hundredMb });
    const err: Error | null = await loadDataset({ name: 'csv', path: 'd.csv', label: 'y' }, { files: source }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect(err?.message).toBe('csv dataset: d.csv line 2: a record longer than 1048576 characters (max_record_chars): a line without its end, or an unterminated quote?');
    expect(source.bytesServed).toBeLessThan(2 * 1024 * 1024);
  });

  it('files of one dataset with different headers', async () => {
    const e = await refusal({ 'd1.csv': GOOD, 'd2.csv': GOOD.replace('x,color,y', 'x,colour,y') }, { path: 'd*.csv' });
    expect(e.message).toBe('csv dataset: d2.csv line 1: header [x, colour, y] differs from the header of d1.csv [x, color, y]: every file of one dataset has the same columns in the same order');
  });

  it('a missing label (unless missing: drop), a duplicate header, an unknown column, all-missing and free-text columns', async () => {
    expect((await refusal({ 'd.csv': GOOD.replace('2.5,blue,b', '2.5,blue,NA') })).message).toBe(
      'csv dataset: d.csv line 3, column "y": the label is missing (preprocess.missing: drop drops such rows)',
    );
    expect((await refusal({ 'd.csv': GOOD.replace('x,color,y', 'x,x,y') })).message).toBe('csv dataset: d.csv line 1: header names column "x" twice');
    expect((await refusal({ 'd.csv': GOOD }, { columns: { size: 'numeric' } })).message).toBe(
      'csv dataset: d.csv line 1: columns: names "size", which is not in the header (columns: x, color, y)',
    );
    const allMissing = 'x,z,y\n1,NA,a\n2,,b\n3,NA,a\n4,,b\n';
    expect((await refusal({ 'd.csv': allMissing })).message).toMatch(/column "z": every value is missing: set columns: \{ "z": ignore \}/);
    const ids = ['x,name,y', ...Array.from({ length: 1002 }, (_, i) => `${i},person-${i},${i % 2 ? 'a' : 'b'}`)].join('\n');
    expect((await refusal({ 'd.csv': ids })).message).toMatch(/column "name": has more than 1000 distinct values that are not numbers/);
  });

  it('files that no longer match the pinned sha256', async () => {
    const e = await refusal({ 'd.csv': GOOD }, { sha256: 'a'.repeat(64) });
    expect(e.message).toMatch(/^csv dataset: d\.csv: the files' sha256 is [0-9a-f]{64}, but the spec pins a{64}: the data changed/);
  });

  it('a split that leaves no test rows', async () => {
    const e = await refusal({ 'd.csv': 'x,s,y\n1,train,a\n2,train,b\n' }, { split: { by: 's' } });
    expect(e.message).toBe('csv dataset: d.csv: split.by "s" with test_values [test] leaves 2 train and 0 test rows: both splits need at least one row');
  });

  it('a spec error is refused before any file is read', async () => {
    const source = memoryFileSource({ 'd.csv': GOOD });
    await expect(loadDataset({ name: 'csv', path: 'd.csv', label: 'y', split: { test: 1.5 } }, { files: source })).rejects.toThrow(/invalid dataset spec: split/);
    await expect(loadDataset({ name: 'csv', path: 'd.csv', label: 'y', columns: { y: 'ignore' } }, { files: source })).rejects.toThrow(/the label column cannot be set to ignore/);
    expect(source.bytesServed).toBe(0);
  });
});
