import createDebug from 'debug';
import type { Dataset } from '../dataset.ts';
import { assertDataset } from '../dataset.ts';
import { csvFileFormat, type CsvSpec } from './csv-spec.ts';
import { resolveDatasetFileSource, type DatasetFileSource } from './dataset-file-source.ts';
import { CELL_MISSING, readCsvTable, rowOrigin, type CsvFileInfo, type CsvTable } from './csv-table.ts';
import { checkCsvHeader, columnReadMode, csvLabels, inferCsvSchema, type CsvSchema } from './csv-schema.ts';
import { splitCsvRows } from './csv-split.ts';
import { applyCsvTransformToTable, csvTransformWidth, fitCsvTransform, type CsvTransform } from './csv-transform.ts';
import { csvInputError } from './csv-input-error.ts';

const debug = createDebug('crowdtrain:data:csv');

/** Most feature values (train + test) a csv data set may produce: 2^27 float32 = 512 MiB, as for synthetic data. */
export const MAX_CSV_VALUES = 2 ** 27;

/** What a csv data set was made from and how: what a run records with its params. */
export interface CsvDatasetInfo {
  /** SHA-256 of the files (CsvTable.sha256): the data set's version. */
  sha256: string;
  files: CsvFileInfo[];
  rows: { total: number; dropped: number; train: number; test: number };
  /** The fitted preprocessing (train split only), JSON-serialisable. */
  transform: CsvTransform;
}

/** The splits of a csv data set and its provenance. */
export interface LoadedCsvDataset {
  train: Dataset;
  test: Dataset;
  csv: CsvDatasetInfo;
}

/** Rows kept: all of them, or under `missing: drop` those with no missing label or feature cell; a missing label is refused otherwise. */
function keptRows(spec: CsvSpec, table: CsvTable, schema: CsvSchema, labelCodes: Int32Array): Uint8Array {
  const kept = new Uint8Array(table.rows).fill(1);
  const drop = spec.preprocess.missing === 'drop';
  for (let r = 0; r < table.rows; r++) {
    if (labelCodes[r]! >= 0) continue;
    if (!drop) {
      throw csvInputError(
        { ...rowOrigin(table, r), column: schema.label },
        'the label is missing (preprocess.missing: drop drops such rows)',
      );
    }
    kept[r] = 0;
  }
  if (drop) {
    for (const f of schema.features) {
      const codes = table.columns.get(f.column)!.codes;
      for (let r = 0; r < table.rows; r++) if (codes[r] === CELL_MISSING) kept[r] = 0;
    }
  }
  return kept;
}

function gather(name: string, features: Float32Array, width: number, labelCodes: Int32Array, rows: Uint32Array, numClasses: number): Dataset {
  const labels = new Uint8Array(rows.length);
  rows.forEach((r, k) => (labels[k] = labelCodes[r]!));
  const ds: Dataset = { name, size: rows.length, inputShape: [width], numClasses, features, labels };
  assertDataset(ds);
  return ds;
}

/**
 * Loads a csv data set: lists the files `spec.path` names, streams them into a table (hashing
 * their bytes), checks the pinned `sha256`, infers the schema, splits the rows, fits the
 * preprocessing on the train split and encodes both splits. Deterministic: the same files and
 * spec give the same bytes on every machine. Every problem is a CrowdtrainError('INVALID_CONFIG')
 * naming the file, line and column; nothing is returned half-built.
 * @example const { train, test, csv } = await loadCsvDataset(CsvSpecSchema.parse({ name: 'csv', path: 'a.csv', label: 'y' }), source);
 */
export async function loadCsvDataset(spec: CsvSpec, files?: DatasetFileSource): Promise<LoadedCsvDataset> {
  const source = resolveDatasetFileSource(files);
  const paths = await source.list(spec.path);
  const table = await readCsvTable(paths, source, {
    format: csvFileFormat(spec),
    delimiter: spec.delimiter,
    maxRecordChars: spec.max_record_chars,
    missingValues: spec.missing_values,
    columnMode: (name) => columnReadMode(spec, name),
    checkHeader: (header, file) => checkCsvHeader(spec, header, file),
  });
  if (spec.sha256 !== undefined && spec.sha256 !== table.sha256) {
    throw csvInputError(
      { file: paths.join(', ') },
      `the files' sha256 is ${table.sha256}, but the spec pins ${spec.sha256}: the data changed since the run was configured`,
    );
  }
  const schema = inferCsvSchema(spec, table);
  const all = csvLabels(spec, table, null);
  const kept = keptRows(spec, table, schema, all.codes);
  // Classes are counted again over the kept rows: dropping rows may remove a class.
  const labels = spec.preprocess.missing === 'drop' ? csvLabels(spec, table, kept) : all;
  const split = splitCsvRows(spec, table, kept);
  const transform = fitCsvTransform(spec, table, schema, labels.classes, split.train);
  const width = csvTransformWidth(transform);
  if (width * (split.train.length + split.test.length) > MAX_CSV_VALUES) {
    throw csvInputError({ file: paths[0]! }, `${split.train.length + split.test.length} rows x ${width} input values exceed ${MAX_CSV_VALUES} values: too large for one in-memory dataset`);
  }
  const numClasses = labels.classes.length;
  const train = gather('csv-train', applyCsvTransformToTable(transform, table, split.train), width, labels.codes, split.train, numClasses);
  const test = gather('csv-test', applyCsvTransformToTable(transform, table, split.test), width, labels.codes, split.test, numClasses);
  const dropped = table.rows - split.train.length - split.test.length;
  debug('csv %s: %d rows (%d dropped), %d train / %d test, %d inputs, %d classes, sha256 %s', spec.path, table.rows, dropped, train.size, test.size, width, numClasses, table.sha256);
  return {
    train,
    test,
    csv: { sha256: table.sha256, files: table.files, rows: { total: table.rows, dropped, train: train.size, test: test.size }, transform },
  };
}
