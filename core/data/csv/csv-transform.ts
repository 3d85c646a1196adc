import { z } from 'zod';
import type { CsvSpec } from './csv-spec.ts';
import type { CsvSchema } from './csv-schema.ts';
import { compareText } from './csv-schema.ts';
import { CELL_MISSING, CELL_NUMBER, cellText, parseNumberCell, rowOrigin, type CsvColumnCells, type CsvTable } from './csv-table.ts';
import { csvInputError, quoteCell } from './csv-input-error.ts';
import { CrowdtrainError } from '../../protocol/errors.ts';
import { describeZodError } from '../../protocol/messages.ts';

/** The format tag of a fitted transform's JSON. */
export const CSV_TRANSFORM_FORMAT = 'crowdtrain-csv-transform/1';

const Column = z.string().min(1).max(256);

/** A numeric feature: `(value - offset) / divisor`, a missing value replaced by `fill` first, plus a 0/1 "missing" feature when `indicator`. */
const NumericFeatureSchema = z.strictObject({
  column: Column,
  kind: z.literal('numeric'),
  fill: z.number(),
  offset: z.number(),
  divisor: z.number().positive(),
  indicator: z.boolean(),
});

/**
 * A one-hot categorical feature over `categories` (an unseen value is all zeros); a missing value
 * becomes `fill` (a category, or null: all zeros), or its own last slot when `missing_slot`.
 * `canonical_numbers`: a value that is a number is matched by its canonical text (`1.0` as `1`).
 */
const CategoricalFeatureSchema = z.strictObject({
  column: Column,
  kind: z.literal('categorical'),
  categories: z.array(z.string()).min(1),
  fill: z.string().nullable(),
  missing_slot: z.boolean(),
  canonical_numbers: z.boolean(),
});

/**
 * A fitted csv preprocessing, as saved with a run: enough to turn a raw row (column -> text) into
 * the model's input vector and a class index into the label's name, on any machine.
 */
export const CsvTransformSchema = z.strictObject({
  format: z.literal(CSV_TRANSFORM_FORMAT),
  missing_values: z.array(z.string()),
  label: z.strictObject({ column: Column, classes: z.array(z.string()).min(2).max(256) }),
  features: z.array(z.discriminatedUnion('kind', [NumericFeatureSchema, CategoricalFeatureSchema])).min(1),
  /** The name of each value of the input vector, in order (`bill`, `island=Biscoe`, `income:missing`). */
  outputs: z.array(z.string()).min(1),
});

/** A fitted csv transform (JSON-serialisable). */
export type CsvTransform = z.infer<typeof CsvTransformSchema>;
type FeatureTransform = CsvTransform['features'][number];

/** Missing cell marker for {@link encodeFeature}. */
const MISSING = null;

/** Number of input values one feature of a transform produces (its slice of the input vector). */
export function featureWidth(f: FeatureTransform): number {
  return f.kind === 'numeric' ? (f.indicator ? 2 : 1) : f.categories.length + (f.missing_slot ? 1 : 0);
}

function featureOutputs(f: FeatureTransform): string[] {
  if (f.kind === 'numeric') return f.indicator ? [f.column, `${f.column}:missing`] : [f.column];
  return [...f.categories.map((c) => `${f.column}=${c}`), ...(f.missing_slot ? [`${f.column}:missing`] : [])];
}

/** Writes the values of one feature for one cell (a number, a text, or MISSING) at out[at]. */
function encodeFeature(f: FeatureTransform, value: number | string | null, out: Float32Array, at: number, index: Map<string, number> | undefined): void {
  if (f.kind === 'numeric') {
    const v = value === MISSING ? f.fill : (value as number);
    out[at] = (v - f.offset) / f.divisor;
    if (f.indicator) out[at + 1] = value === MISSING ? 1 : 0;
    return;
  }
  if (value === MISSING) {
    if (f.missing_slot) out[at + f.categories.length] = 1;
    else if (f.fill !== null) out[at + index!.get(f.fill)!] = 1;
    return;
  }
  const k = index!.get(value as string);
  if (k !== undefined) out[at + k] = 1;
}

function categoryIndex(f: FeatureTransform): Map<string, number> | undefined {
  return f.kind === 'categorical' ? new Map(f.categories.map((c, k) => [c, k])) : undefined;
}

/** The most frequent value of `counts` (ties: the first in `order`). */
function modeOf<T>(counts: Map<T, number>, order: (a: T, b: T) => number): T {
  let best: T | undefined;
  let bestCount = -1;
  for (const [v, n] of [...counts.entries()].sort(([a], [b]) => order(a, b))) {
    if (n > bestCount) [best, bestCount] = [v, n];
  }
  return best!;
}

function fitNumeric(spec: CsvSpec, table: CsvTable, col: CsvColumnCells, rows: Uint32Array): FeatureTransform {
  let n = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let missing = 0;
  const counts = new Map<number, number>();
  for (const r of rows) {
    if (col.codes[r] !== CELL_NUMBER) {
      missing++;
      continue;
    }
    const v = col.numbers[r]!;
    n++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (spec.preprocess.missing === 'mode') counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  if (n === 0) throw csvInputError({ file: rowOrigin(table, rows[0]!).file, column: col.name }, 'has no value in any train row');
  const mean = sum / n;
  let sq = 0;
  for (const r of rows) if (col.codes[r] === CELL_NUMBER) sq += (col.numbers[r]! - mean) ** 2;
  const std = Math.sqrt(sq / n);
  const [offset, divisor] = spec.preprocess.numeric === 'standardize' ? [mean, std] : spec.preprocess.numeric === 'minmax' ? [min, max - min] : [0, 1];
  return {
    column: col.name,
    kind: 'numeric',
    fill: spec.preprocess.missing === 'mode' ? modeOf(counts, (a, b) => a - b) : mean,
    offset,
    divisor: divisor > 0 && Number.isFinite(divisor) ? divisor : 1,
    indicator: spec.preprocess.missing === 'indicator' && missing > 0,
  };
}

function fitCategorical(spec: CsvSpec, table: CsvTable, col: CsvColumnCells, rows: Uint32Array, canonicalNumbers: boolean): FeatureTransform {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const r of rows) {
    const text = cellText(col, r);
    if (text === null) missing++;
    else counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  if (counts.size === 0) throw csvInputError({ file: rowOrigin(table, rows[0]!).file, column: col.name }, 'has no value in any train row');
  const indicator = spec.preprocess.missing === 'indicator';
  return {
    column: col.name,
    kind: 'categorical',
    categories: [...counts.keys()].sort(compareText),
    fill: indicator ? null : modeOf(counts, compareText),
    missing_slot: indicator && missing > 0,
    canonical_numbers: canonicalNumbers,
  };
}

/**
 * Fits the preprocessing on the train rows only: per numeric column the mean and standard
 * deviation (standardize) or min and max (minmax) of its present values and the fill for missing
 * ones (train mean, or mode); per categorical column its sorted categories (one-hot) and the fill
 * (train mode) or a missing slot (indicator). Test rows never influence it.
 * @example const t = fitCsvTransform(spec, table, schema, classes, split.train);
 */
export function fitCsvTransform(spec: CsvSpec, table: CsvTable, schema: CsvSchema, classes: string[], trainRows: Uint32Array): CsvTransform {
  const features = schema.features.map((fc) => {
    const col = table.columns.get(fc.column)!;
    return fc.kind === 'numeric' ? fitNumeric(spec, table, col, trainRows) : fitCategorical(spec, table, col, trainRows, fc.canonicalNumbers);
  });
  return {
    format: CSV_TRANSFORM_FORMAT,
    missing_values: [...spec.missing_values],
    label: { column: schema.label, classes: [...classes] },
    features,
    outputs: features.flatMap(featureOutputs),
  };
}

/** Number of values in the input vector of a transform. */
export function csvTransformWidth(t: CsvTransform): number {
  return t.features.reduce((a, f) => a + featureWidth(f), 0);
}

/**
 * The input vectors of table rows `rows` (row-major, rows.length x width) under a fitted transform.
 * @example const features = applyCsvTransformToTable(t, table, split.test);
 */
export function applyCsvTransformToTable(t: CsvTransform, table: CsvTable, rows: Uint32Array): Float32Array {
  const width = csvTransformWidth(t);
  const out = new Float32Array(rows.length * width);
  let at = 0;
  for (const f of t.features) {
    const col = table.columns.get(f.column)!;
    const index = categoryIndex(f);
    rows.forEach((r, k) => {
      const code = col.codes[r]!;
      const value = code === CELL_MISSING ? MISSING : f.kind === 'numeric' ? col.numbers[r]! : cellText(col, r);
      encodeFeature(f, value, out, k * width + at, index);
    });
    at += featureWidth(f);
  }
  return out;
}

/**
 * Validates a transform read back from JSON (a run's params, a file); throws
 * CrowdtrainError('INVALID_CONFIG') naming every problem.
 */
export function parseCsvTransform(raw: unknown): CsvTransform {
  const r = CsvTransformSchema.safeParse(raw);
  if (!r.success) throw new CrowdtrainError('INVALID_CONFIG', `invalid csv transform: ${describeZodError(r.error)}`, { cause: r.error });
  const t = r.data;
  const expected = csvTransformWidth(t);
  if (t.outputs.length !== expected) throw new CrowdtrainError('INVALID_CONFIG', `invalid csv transform: ${t.outputs.length} outputs, its features make ${expected}`);
  for (const f of t.features) {
    if (f.kind === 'categorical' && f.fill !== null && !f.categories.includes(f.fill)) {
      throw new CrowdtrainError('INVALID_CONFIG', `invalid csv transform: column ${JSON.stringify(f.column)} fills with ${quoteCell(f.fill)}, which is not one of its categories`);
    }
  }
  return t;
}

/**
 * Re-applies a fitted transform to one raw row (column name -> cell text, as in the CSV; a
 * missing key or a `missing_values` text is missing): the model input the run trained on. Throws
 * naming the column when a numeric cell is not a number.
 * @example applyCsvTransform(t, { bill_length_mm: '39.1', island: 'Torgersen' }) // Float32Array
 */
export function applyCsvTransform(t: CsvTransform, row: Readonly<Record<string, string | null | undefined>>): Float32Array {
  const missing = new Set(t.missing_values.map((v) => v.trim()));
  const out = new Float32Array(csvTransformWidth(t));
  let at = 0;
  for (const f of t.features) {
    const raw = row[f.column];
    const text = raw === null || raw === undefined ? null : raw.trim();
    let value: number | string | null = MISSING;
    if (text !== null && !missing.has(text)) {
      const num = parseNumberCell(text);
      if (f.kind === 'numeric') {
        if (num === null) throw csvInputError({ file: '(row)', column: f.column }, `${quoteCell(text)} is not a number`);
        value = num;
      } else {
        value = f.canonical_numbers && num !== null ? String(num) : text;
      }
    }
    encodeFeature(f, value, out, at, categoryIndex(f));
    at += featureWidth(f);
  }
  return out;
}
