import type { CsvSpec } from './csv-spec.ts';
import { CELL_MISSING, CELL_NUMBER, MAX_DISTINCT_STRINGS, cellText, rowOrigin, type CsvColumnCells, type CsvColumnReadMode, type CsvTable } from './csv-table.ts';
import { csvInputError, quoteCell } from './csv-input-error.ts';

/** Most classes a label column may have (labels are stored as one byte). */
export const MAX_CSV_CLASSES = 256;

/** A feature column and how it enters the features. */
export interface CsvFeatureColumn {
  column: string;
  kind: 'numeric' | 'categorical';
  /** For categorical columns: numbers were recognised while reading (inferred columns), so a number's text is canonical (`1.0` reads as `1`). */
  canonicalNumbers: boolean;
}

/** The roles of a table's columns, inferred and overridden by the spec. */
export interface CsvSchema {
  label: string;
  features: CsvFeatureColumn[];
  /** The column of a `split: { by }`, or null. */
  splitColumn: string | null;
}

/** The class of every row and the class names. */
export interface CsvLabels {
  /** Class names in class-index order: integers ascending for an integer label, else texts in code-unit order. */
  classes: string[];
  /** Per row: the class index, or -1 where the label is missing. */
  codes: Int32Array;
}

function splitColumnOf(spec: CsvSpec): string | null {
  return 'by' in spec.split ? spec.split.by : null;
}

/**
 * How the table reader treats column `name` under `spec`: declared-categorical and split columns
 * as text, ignored columns skipped, the rest with numbers recognised.
 */
export function columnReadMode(spec: CsvSpec, name: string): CsvColumnReadMode {
  if (name === splitColumnOf(spec)) return 'text';
  const declared = spec.columns?.[name];
  if (declared === 'ignore') return 'skip';
  if (declared === 'categorical') return 'text';
  return 'auto';
}

/**
 * Checks a header against the spec before any row is read: the label column, every `columns:` name
 * and the split column must be in it. Throws naming the file and listing the header's columns.
 */
export function checkCsvHeader(spec: CsvSpec, header: readonly string[], file: string): void {
  const names = new Set(header);
  const list = header.join(', ');
  if (!names.has(spec.label)) {
    throw csvInputError({ file, line: 1 }, `the label column ${JSON.stringify(spec.label)} is not in the header (columns: ${list})`);
  }
  for (const name of Object.keys(spec.columns ?? {})) {
    if (!names.has(name)) throw csvInputError({ file, line: 1 }, `columns: names ${JSON.stringify(name)}, which is not in the header (columns: ${list})`);
  }
  const by = splitColumnOf(spec);
  if (by !== null && !names.has(by)) throw csvInputError({ file, line: 1 }, `split.by names ${JSON.stringify(by)}, which is not in the header (columns: ${list})`);
}

function column(table: CsvTable, name: string): CsvColumnCells {
  const col = table.columns.get(name);
  if (!col) throw csvInputError({ file: table.files[0]?.path ?? '(no file)', column: name }, 'the column was not read');
  return col;
}

function firstStringError(col: CsvColumnCells, problem: string): Error {
  const at = col.firstString!;
  return csvInputError({ file: at.file, line: at.line, column: col.name }, `${quoteCell(at.value)} ${problem}`);
}

function inferFeature(spec: CsvSpec, col: CsvColumnCells): CsvFeatureColumn {
  const declared = spec.columns?.[col.name];
  const where = { file: col.firstString?.file ?? '(every file)', column: col.name };
  if (declared === 'numeric') {
    if (col.stringCount > 0) throw firstStringError(col, `is not a number, and the column is declared numeric (list the value in missing_values if it means "missing")`);
  } else if (col.overflow) {
    throw csvInputError(
      where,
      `has more than ${MAX_DISTINCT_STRINGS} distinct values that are not numbers (free text or an id?): set columns: { ${JSON.stringify(col.name)}: ignore }`,
    );
  } else if (declared === 'categorical') {
    return { column: col.name, kind: 'categorical', canonicalNumbers: false };
  } else if (col.stringCount > 0) {
    if (col.numberCount > col.stringCount) {
      throw firstStringError(
        col,
        `is not a number, but ${col.numberCount} of the column's ${col.numberCount + col.stringCount} values are: fix the value, list it in missing_values if it means "missing", or declare the column categorical in columns:`,
      );
    }
    return { column: col.name, kind: 'categorical', canonicalNumbers: true };
  }
  if (col.numberCount === 0) {
    throw csvInputError(where, `every value is missing: set columns: { ${JSON.stringify(col.name)}: ignore }`);
  }
  return { column: col.name, kind: 'numeric', canonicalNumbers: false };
}

/**
 * The columns' roles: the label, the split column, and each other kept column numeric (every
 * present value a number) or categorical (mostly text), unless `columns:` declares it. Refuses a
 * column that is mostly numbers with a few non-numbers (naming the first), a column of free text
 * (too many distinct values), and an all-missing column.
 * @example const schema = inferCsvSchema(spec, table); // { label: 'species', features: [...], splitColumn: null }
 */
export function inferCsvSchema(spec: CsvSpec, table: CsvTable): CsvSchema {
  const splitColumn = splitColumnOf(spec);
  const features: CsvFeatureColumn[] = [];
  for (const name of table.header) {
    if (name === spec.label || name === splitColumn || !table.columns.has(name)) continue;
    features.push(inferFeature(spec, column(table, name)));
  }
  if (features.length === 0) {
    throw csvInputError({ file: table.files[0]!.path }, `no feature column is left besides the label ${JSON.stringify(spec.label)}${splitColumn ? ` and the split column ${JSON.stringify(splitColumn)}` : ''}`);
  }
  return { label: spec.label, features, splitColumn };
}

/** Code-unit order (the same on every machine, unlike localeCompare). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The class of every row: a label of integers keeps its numeric order (class i is the i-th
 * smallest value), any other label is categorical (class names sorted). Refuses non-integer
 * numbers in a label that is all numbers, a label declared numeric that has text, more than 256
 * classes, and fewer than 2 (each naming the file and line where it can).
 * `rows` limits which rows count (null: all).
 */
export function csvLabels(spec: CsvSpec, table: CsvTable, rows: Uint8Array | null): CsvLabels {
  const col = column(table, spec.label);
  const where = { file: table.files[0]!.path, column: col.name };
  const counted = (r: number) => rows === null || rows[r] === 1;
  const declaredNumeric = spec.columns?.[spec.label] === 'numeric';
  if (col.overflow) throw csvInputError(where, `the label has more than ${MAX_CSV_CLASSES} classes (at most ${MAX_CSV_CLASSES} allowed)`);
  const integer = col.stringCount === 0;
  if (declaredNumeric && !integer) throw firstStringError(col, 'is not a number, and the label column is declared numeric');
  const seen = new Map<string, number>();
  for (let r = 0; r < table.rows; r++) {
    if (!counted(r) || col.codes[r] === CELL_MISSING) continue;
    if (integer && !Number.isInteger(col.numbers[r])) {
      const at = rowOrigin(table, r);
      throw csvInputError(
        { ...at, column: col.name },
        `the label ${col.numbers[r]} is not an integer: a csv dataset is for classification, so a numeric label must hold integer class ids (or declare it categorical in columns:)`,
      );
    }
    const text = cellText(col, r)!;
    if (!seen.has(text)) seen.set(text, col.codes[r] === CELL_NUMBER ? col.numbers[r]! : NaN);
  }
  const names = [...seen.keys()];
  if (integer) names.sort((a, b) => seen.get(a)! - seen.get(b)!);
  else names.sort(compareText);
  if (names.length > MAX_CSV_CLASSES) throw csvInputError(where, `the label has ${names.length} classes, at most ${MAX_CSV_CLASSES} allowed`);
  if (names.length < 2) {
    throw csvInputError(where, names.length === 0 ? 'the label is missing in every row' : `the label has one class (${quoteCell(names[0]!)}): a classifier needs at least 2`);
  }
  const index = new Map(names.map((n, k) => [n, k]));
  const codes = new Int32Array(table.rows);
  for (let r = 0; r < table.rows; r++) {
    const text = cellText(col, r);
    codes[r] = text === null ? -1 : (index.get(text) ?? -1);
  }
  return { classes: names, codes };
}
