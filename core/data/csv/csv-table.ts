import createDebug from 'debug';
import type { DatasetFileSource } from './dataset-file-source.ts';
import { readCsvRecords } from './csv-records.ts';
import { readJsonRecords } from './json-records.ts';
import type { CsvFileFormat } from './csv-spec.ts';
import { csvInputError } from './csv-input-error.ts';
import { GrowableArray } from './growable-array.ts';

const debug = createDebug('crowdtrain:data:csv');

/** Most cells (kept columns x rows) one csv data set may hold in memory while it is read. */
export const MAX_CSV_CELLS = 2 ** 25;
/** Most files a glob may match. */
export const MAX_CSV_FILES = 10_000;
/** Distinct non-number values a column keeps before it is treated as free text (too many categories). */
export const MAX_DISTINCT_STRINGS = 1000;

/** Cell code: the cell is a number (in `numbers`). */
export const CELL_NUMBER = -1;
/** Cell code: the cell is missing (one of `missing_values`). */
export const CELL_MISSING = -2;
/** Cell code: a string beyond the column's MAX_DISTINCT_STRINGS distinct values (not kept). */
export const CELL_OVERFLOW = -3;

/** How a column is read: numbers recognised (`auto`), every value kept as text (`text`), or not kept (`skip`). */
export type CsvColumnReadMode = 'auto' | 'text' | 'skip';

/** Where a row or cell came from. */
export interface CsvCellOrigin {
  file: string;
  line: number;
}

/** The cells of one kept column, by row. */
export interface CsvColumnCells {
  name: string;
  /** The value of each number cell (NaN elsewhere). */
  numbers: Float64Array;
  /** Per row: CELL_NUMBER, CELL_MISSING, CELL_OVERFLOW or an index into `strings`. */
  codes: Int32Array;
  /** The distinct non-number values, in order of first appearance (at most MAX_DISTINCT_STRINGS). */
  strings: string[];
  /** More distinct values appeared than `strings` keeps. */
  overflow: boolean;
  numberCount: number;
  stringCount: number;
  missingCount: number;
  /** The first non-number cell, for error messages. */
  firstString: (CsvCellOrigin & { value: string }) | null;
}

/** One file read, with its size, rows and content hash. */
export interface CsvFileInfo {
  path: string;
  bytes: number;
  rows: number;
  /** SHA-256 of the file's bytes (64 hex digits). */
  sha256: string;
}

/** Every row of every file, column by column. */
export interface CsvTable {
  header: string[];
  rows: number;
  /** The kept columns (read mode other than `skip`). */
  columns: Map<string, CsvColumnCells>;
  files: CsvFileInfo[];
  /** Per row: the index into `files` and the line it starts on. */
  rowFile: Uint32Array;
  rowLine: Uint32Array;
  /**
   * SHA-256 of the manifest `"<file sha256>  <file base name>\n"` per file in name order: a
   * change to any file's bytes, a renamed, added or removed file changes it.
   */
  sha256: string;
}

/** How to read the files. */
export interface CsvTableOptions {
  /** How the files are written (default csv); `delimiter` applies to csv only. */
  format?: CsvFileFormat;
  delimiter: string;
  maxRecordChars: number;
  /** Cell values (after trimming) that mean "missing". */
  missingValues: readonly string[];
  /** How each header column is read. */
  columnMode(name: string): CsvColumnReadMode;
  /** Called with the first file's header before any row is read (throws to refuse it: a missing label column, unknown `columns`). */
  checkHeader?(header: string[], file: string): void;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The number a trimmed cell spells, or null when it spells none (a finite decimal or exponent form). */
export function parseNumberCell(text: string): number | null {
  if (!NUMBER.test(text)) return null;
  const v = Number(text);
  return Number.isFinite(v) ? v : null;
}

class ColumnBuilder {
  readonly numbers = new GrowableArray(Float64Array);
  readonly codes = new GrowableArray(Int32Array);
  readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  overflow = false;
  numberCount = 0;
  stringCount = 0;
  missingCount = 0;
  firstString: (CsvCellOrigin & { value: string }) | null = null;

  constructor(
    readonly name: string,
    private readonly text: boolean,
    private readonly missing: ReadonlySet<string>,
  ) {}

  /** Adds one cell: its raw text, or null when the input itself marks it missing (a JSON null or absent key). */
  add(raw: string | null, file: string, line: number): void {
    const v = raw === null ? '' : raw.trim();
    if (raw === null || this.missing.has(v)) {
      this.missingCount++;
      this.numbers.push(NaN);
      this.codes.push(CELL_MISSING);
      return;
    }
    const num = this.text ? null : parseNumberCell(v);
    if (num !== null) {
      this.numberCount++;
      this.numbers.push(num);
      this.codes.push(CELL_NUMBER);
      return;
    }
    this.stringCount++;
    this.firstString ??= { file, line, value: v };
    this.numbers.push(NaN);
    let code = this.index.get(v);
    if (code === undefined) {
      if (this.strings.length >= MAX_DISTINCT_STRINGS) {
        this.overflow = true;
        this.codes.push(CELL_OVERFLOW);
        return;
      }
      code = this.strings.length;
      this.strings.push(v);
      this.index.set(v, code);
    }
    this.codes.push(code);
  }

  build(): CsvColumnCells {
    return {
      name: this.name,
      numbers: this.numbers.toArray(),
      codes: this.codes.toArray(),
      strings: this.strings,
      overflow: this.overflow,
      numberCount: this.numberCount,
      stringCount: this.stringCount,
      missingCount: this.missingCount,
      firstString: this.firstString,
    };
  }
}

function baseName(path: string): string {
  const k = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return k < 0 ? path : path.slice(k + 1);
}

function checkOwnHeader(header: string[], file: string): void {
  const seen = new Set<string>();
  header.forEach((name, k) => {
    if (name === '') throw csvInputError({ file, line: 1 }, `header column ${k + 1} has no name`);
    if (seen.has(name)) throw csvInputError({ file, line: 1 }, `header names column ${JSON.stringify(name)} twice`);
    seen.add(name);
  });
}

/**
 * Reads every file a csv data set names, in order, into one column-wise table, streaming each
 * file record by record (CSV, or JSON through readJsonRecords: `format`) and hashing its bytes as
 * they pass. Every file must start with the same header row and have at least one data row; every
 * row must have the header's number of fields.
 * Throws CrowdtrainError('INVALID_CONFIG') naming the file, line and column of the first problem.
 * @example const table = await readCsvTable(['a.csv'], source, { delimiter: ',', maxRecordChars: 1 << 20, missingValues: [''], columnMode: () => 'auto' });
 */
export async function readCsvTable(paths: readonly string[], source: DatasetFileSource, opts: CsvTableOptions): Promise<CsvTable> {
  if (paths.length === 0) throw csvInputError({ file: '(no file)' }, 'no file to read');
  if (paths.length > MAX_CSV_FILES) throw csvInputError({ file: paths[0]! }, `the path matches ${paths.length} files, at most ${MAX_CSV_FILES} allowed`);
  const missing = new Set(opts.missingValues.map((v) => v.trim()));
  let header: string[] | null = null;
  let kept: { index: number; builder: ColumnBuilder }[] = [];
  const rowFile = new GrowableArray(Uint32Array);
  const rowLine = new GrowableArray(Uint32Array);
  const files: CsvFileInfo[] = [];
  let rows = 0;

  for (const [fileIndex, file] of paths.entries()) {
    const hasher = source.sha256();
    let bytes = 0;
    async function* hashed(): AsyncGenerator<Uint8Array> {
      for await (const chunk of source.read(file)) {
        hasher.update(chunk);
        bytes += chunk.byteLength;
        yield chunk;
      }
    }
    let fileRows = 0;
    let sawHeader = false;
    const format = opts.format ?? 'csv';
    const records =
      format === 'csv'
        ? readCsvRecords(hashed(), { file, delimiter: opts.delimiter, maxRecordChars: opts.maxRecordChars })
        : readJsonRecords(hashed(), { file, format, maxRecordChars: opts.maxRecordChars });
    for await (const rec of records) {
      if (!sawHeader) {
        sawHeader = true;
        const own = rec.fields.map((f) => (f ?? '').trim());
        checkOwnHeader(own, file);
        if (header === null) {
          header = own;
          opts.checkHeader?.(header, file);
          kept = header.flatMap((name, index) => {
            const mode = opts.columnMode(name);
            return mode === 'skip' ? [] : [{ index, builder: new ColumnBuilder(name, mode === 'text', missing) }];
          });
          if (kept.length === 0) throw csvInputError({ file, line: 1 }, 'every column is ignored');
        } else if (own.join('\u0000') !== header.join('\u0000')) {
          throw csvInputError(
            { file, line: 1 },
            `header [${own.join(', ')}] differs from the header of ${paths[0]} [${header.join(', ')}]: every file of one dataset has the same columns in the same order`,
          );
        }
        continue;
      }
      const width = header!.length;
      if (rec.fields.length !== width) {
        throw csvInputError(
          { file, line: rec.line },
          `row has ${rec.fields.length} field${rec.fields.length === 1 ? '' : 's'}, expected ${width} (the header's columns: ${header!.join(', ')})`,
        );
      }
      if ((rows + 1) * kept.length > MAX_CSV_CELLS) {
        throw csvInputError({ file, line: rec.line }, `the dataset holds more than ${MAX_CSV_CELLS} cells (${kept.length} columns): too large for one in-memory dataset`);
      }
      for (const { index, builder } of kept) builder.add(rec.fields[index]!, file, rec.line);
      rowFile.push(fileIndex);
      rowLine.push(rec.line);
      rows++;
      fileRows++;
    }
    if (!sawHeader) throw csvInputError({ file }, 'the file is empty: expected a header row and data rows');
    if (fileRows === 0) throw csvInputError({ file }, 'the file has a header row but no data rows');
    files.push({ path: file, bytes, rows: fileRows, sha256: hasher.digestHex() });
    debug('read %s: %d rows, %d bytes', file, fileRows, bytes);
  }

  const manifest = source.sha256();
  manifest.update(new TextEncoder().encode(files.map((f) => `${f.sha256}  ${baseName(f.path)}\n`).join('')));
  return {
    header: header!,
    rows,
    columns: new Map(kept.map(({ builder }) => [builder.name, builder.build()])),
    files,
    rowFile: rowFile.toArray(),
    rowLine: rowLine.toArray(),
    sha256: manifest.digestHex(),
  };
}

/** Where row `row` of the table came from. */
export function rowOrigin(table: CsvTable, row: number): CsvCellOrigin {
  return { file: table.files[table.rowFile[row]!]?.path ?? '(unknown file)', line: table.rowLine[row]! };
}

/** The text of one cell of a kept column (a number as JavaScript writes it), or null when it is missing or not kept. */
export function cellText(col: CsvColumnCells, row: number): string | null {
  const code = col.codes[row]!;
  if (code === CELL_NUMBER) return String(col.numbers[row]);
  if (code >= 0) return col.strings[code]!;
  return null;
}

