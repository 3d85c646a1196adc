import type { CsvSpec } from './csv-spec.ts';
import { cellText, type CsvTable } from './csv-table.ts';
import { csvInputError } from './csv-input-error.ts';
import { shuffledIndices } from '../seeded-random.ts';

/** The rows of each split, ascending (file order). */
export interface CsvSplitRows {
  train: Uint32Array;
  test: Uint32Array;
}

/**
 * Splits the rows marked 1 in `kept` into train and test: by a seeded shuffle (`{ test, seed }`:
 * round(test x rows) rows go to test; the same rows on every machine), or by a column
 * (`{ by, test_values }`). Refuses a split that leaves either side empty.
 * @example const { train, test } = splitCsvRows(spec, table, kept);
 */
export function splitCsvRows(spec: CsvSpec, table: CsvTable, kept: Uint8Array): CsvSplitRows {
  const candidates: number[] = [];
  for (let r = 0; r < table.rows; r++) if (kept[r] === 1) candidates.push(r);
  const isTest = new Uint8Array(table.rows);
  let describe: string;
  if ('by' in spec.split) {
    const { by, test_values } = spec.split;
    const col = table.columns.get(by)!;
    const testValues = new Set(test_values);
    for (const r of candidates) {
      const text = cellText(col, r);
      if (text !== null && testValues.has(text)) isTest[r] = 1;
    }
    describe = `split.by ${JSON.stringify(by)} with test_values [${test_values.join(', ')}]`;
  } else {
    const n = candidates.length;
    const nTest = Math.round(spec.split.test * n);
    const order = shuffledIndices(n, spec.split.seed);
    for (let k = 0; k < nTest; k++) isTest[candidates[order[k]!]!] = 1;
    describe = `split.test ${spec.split.test} of ${n} rows`;
  }
  const train: number[] = [];
  const test: number[] = [];
  for (const r of candidates) (isTest[r] === 1 ? test : train).push(r);
  if (train.length === 0 || test.length === 0) {
    throw csvInputError(
      { file: table.files[0]!.path },
      `${describe} leaves ${train.length} train and ${test.length} test rows: both splits need at least one row`,
    );
  }
  return { train: Uint32Array.from(train), test: Uint32Array.from(test) };
}
