import { z } from 'zod';

/** Characters one CSV record may span (quoted newlines included) before the file is refused. */
export const DEFAULT_MAX_RECORD_CHARS = 1 << 20;
/** Cell values treated as missing unless the spec lists its own (`missing_values`). */
export const DEFAULT_MISSING_VALUES = ['', 'NA', 'N/A', 'NaN', 'null', '?'] as const;

/** How a column enters the features: a number, a one-hot category, or not at all. */
export const CsvColumnKindSchema = z.enum(['numeric', 'categorical', 'ignore']);
/** A column kind of `columns:`. */
export type CsvColumnKind = z.infer<typeof CsvColumnKindSchema>;

/** Scaling of numeric feature columns, fitted on the train split. */
export const CsvNumericScalingSchema = z.enum(['standardize', 'minmax', 'none']);
/** Handling of missing cells: fill with the train mean (numeric; mode for categories), the train mode, fill plus a 0/1 "missing" feature, or drop the row. */
export const CsvMissingPolicySchema = z.enum(['mean', 'mode', 'indicator', 'drop']);

/** Preprocessing of the feature columns (fitted on the train split only). */
export const CsvPreprocessSchema = z.strictObject({
  numeric: CsvNumericScalingSchema.default('standardize'),
  missing: CsvMissingPolicySchema.default('mean'),
});

/** A seeded random split: `test` is the fraction of rows that go to the test split. */
export const CsvRandomSplitSchema = z.strictObject({
  test: z.number().gt(0).lt(1).default(0.2),
  seed: z.int().default(1),
});

/** A split by a column: rows whose value is one of `test_values` are test, every other row train (the column is no feature). */
export const CsvColumnSplitSchema = z.strictObject({
  by: z.string().min(1),
  test_values: z.array(z.string()).min(1).default(['test']),
});

/** How the files are written: CSV text, one JSON array of flat objects, or JSON Lines (one object per line). */
export const CsvFileFormatSchema = z.enum(['csv', 'json', 'jsonl']);
/** A file format of `format:`. */
export type CsvFileFormat = z.infer<typeof CsvFileFormatSchema>;

/**
 * The format a path's file extension names (case-insensitive): `.json` is json, `.jsonl` and
 * `.ndjson` are jsonl, anything else csv. A glob's extension counts (`data/part-*.jsonl`).
 * @example formatFromPath('node_modules/vega-datasets/data/penguins.json') // 'json'
 */
export function formatFromPath(path: string): CsvFileFormat {
  const ext = /\.([^./\\]*)$/.exec(path)?.[1]?.toLowerCase();
  if (ext === 'json') return 'json';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  return 'csv';
}

/**
 * The format a spec's files are read in: its `format`, else the one its path's extension names
 * ({@link formatFromPath}).
 * @example csvFileFormat(CsvSpecSchema.parse({ name: 'csv', path: 'a.jsonl', label: 'y' })) // 'jsonl'
 */
export function csvFileFormat(spec: Pick<CsvSpec, 'format' | 'path'>): CsvFileFormat {
  return spec.format ?? formatFromPath(spec.path);
}

/** One `columns:` name: the header's spelling, at most 256 characters. */
const ColumnName = z.string().min(1).max(256);

/**
 * A tabular classification data set read from one CSV file or a glob of them (`data/train_data_*.csv`:
 * `*` and `?` in the file name part) with a header row, or from JSON tables (`format`: a `.json`
 * array of flat objects, `.jsonl` one object per line; inferred from the path's extension).
 * Feature kinds are inferred (numeric when every present value is a number, otherwise
 * categorical) unless `columns` says otherwise; the label column becomes class indices. `sha256` pins the files' content hash (see CsvDatasetInfo.sha256).
 * @example CsvSpecSchema.parse({ name: 'csv', path: 'data/penguins.csv', label: 'species' })
 */
export const CsvSpecSchema = z
  .strictObject({
    name: z.literal('csv'),
    path: z.string().min(1).max(4096),
    /** The files' format; absent: inferred from the extension of `path` (csvFileFormat). */
    format: CsvFileFormatSchema.optional(),
    label: ColumnName,
    columns: z.record(ColumnName, CsvColumnKindSchema).optional(),
    preprocess: CsvPreprocessSchema.default({ numeric: 'standardize', missing: 'mean' }),
    split: z.union([CsvColumnSplitSchema, CsvRandomSplitSchema]).default({ test: 0.2, seed: 1 }),
    /** The CSV field delimiter (ignored by json and jsonl). */
    delimiter: z.enum([',', ';', '\t', '|']).default(','),
    missing_values: z.array(z.string().max(64)).max(64).default([...DEFAULT_MISSING_VALUES]),
    max_record_chars: z.int().min(16).max(1 << 28).default(DEFAULT_MAX_RECORD_CHARS),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits')
      .optional(),
  })
  .refine((s) => s.columns?.[s.label] !== 'ignore', { message: 'the label column cannot be set to ignore', path: ['columns'] })
  .refine((s) => !('by' in s.split) || s.split.by !== s.label, { message: 'the split column cannot be the label column', path: ['split', 'by'] });

/** A validated csv spec, defaults filled in. */
export type CsvSpec = z.infer<typeof CsvSpecSchema>;
