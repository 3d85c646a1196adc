import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { DEFAULT_MAX_RECORD_CHARS, DEFAULT_MISSING_VALUES, formatFromPath, type CsvFileFormat } from '../../core/data/csv/csv-spec.ts';
import { readCsvTable, type CsvTable } from '../../core/data/csv/csv-table.ts';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { nodeDatasetFileSource } from '../../worker-node/node-dataset-files.ts';

/** Default most bytes one uploaded file may have (`--max-upload-mb`). */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 * 2 ** 20;
/** A folder or file name of an upload: letters, digits, `_ . -`, not starting with a dot. */
export const UPLOAD_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;
/** The extensions an uploaded table may have, and the format each means. */
export const UPLOAD_EXTENSIONS = ['.csv', '.tsv', '.json', '.jsonl', '.ndjson'] as const;
/** Most files one upload folder may hold (the glob of a csv data set matches at most 10,000). */
export const MAX_FILES_PER_FOLDER = 10_000;

/** What a column of an uploaded table holds, as inference would read it. */
export interface UploadedColumn {
  name: string;
  /** `numeric`: every present cell is a number; `categorical`: text; `mixed`: mostly numbers with some text (declare it or fix it); `empty`: every cell missing. */
  kind: 'numeric' | 'categorical' | 'mixed' | 'empty';
  missing: number;
  /** Distinct text values (at most 1,000 counted); 0 for a numeric column. */
  distinct: number;
}

/** An uploaded table, as stored and read back. */
export interface UploadedTable {
  folder: string;
  file: string;
  /** Absolute path of the stored file: a csv data set's `path` (or `<folder path>/*.csv` for all its files). */
  path: string;
  format: CsvFileFormat;
  bytes: number;
  sha256: string;
  rows: number;
  columns: UploadedColumn[];
}

/** Where uploads live: `<dataDir>/datasets/<folder>/<file>`. */
export function uploadsDir(dataDir: string): string {
  return path.resolve(dataDir, 'datasets');
}

function refuse(message: string): CrowdtrainError {
  return new CrowdtrainError('INVALID_CONFIG', message);
}

/** Checks an upload's folder and file names (no path separators, no `..`, a table extension); returns the file's format. */
export function checkUploadNames(folder: string, file: string): CsvFileFormat {
  for (const [what, value] of [
    ['folder', folder],
    ['file', file],
  ] as const) {
    if (!UPLOAD_NAME.test(value) || value.includes('..')) {
      throw refuse(`upload ${what} name ${JSON.stringify(value.slice(0, 80))} must be 1-128 letters, digits, _ . or - (not starting with a dot, no "..", no path separators)`);
    }
  }
  const ext = path.extname(file).toLowerCase();
  if (!(UPLOAD_EXTENSIONS as readonly string[]).includes(ext)) throw refuse(`upload file ${JSON.stringify(file)} must end in one of ${UPLOAD_EXTENSIONS.join(', ')}`);
  return ext === '.tsv' ? 'csv' : formatFromPath(file);
}

function columnsOf(table: CsvTable): UploadedColumn[] {
  return table.header.map((name) => {
    const c = table.columns.get(name);
    if (!c) return { name, kind: 'empty', missing: table.rows, distinct: 0 };
    const present = c.numberCount + c.stringCount;
    const kind: UploadedColumn['kind'] = present === 0 ? 'empty' : c.stringCount === 0 ? 'numeric' : c.stringCount * 2 > present ? 'categorical' : 'mixed';
    return { name, kind, missing: c.missingCount, distinct: c.strings.length };
  });
}

/**
 * Stores an uploaded table streamed from `body` at `<dataDir>/datasets/<folder>/<file>`: written
 * to a temporary name while it is hashed and counted (refused past `maxBytes`), then read back
 * as a table (the tokenizer of csv data sets: a ragged row, a bad quote, an over-long record or an
 * empty file is refused naming the line), and only then linked to its name (refused when the name
 * is taken, unless `overwrite`). On any failure nothing is left behind.
 * @example await storeUploadedTable({ dataDir, folder: 'loans', file: 'train_data_1.csv', body: req, maxBytes });
 */
export async function storeUploadedTable(o: {
  dataDir: string;
  folder: string;
  file: string;
  body: Readable;
  maxBytes: number;
  overwrite?: boolean;
  delimiter?: string;
}): Promise<UploadedTable> {
  const format = checkUploadNames(o.folder, o.file);
  const dir = path.join(uploadsDir(o.dataDir), o.folder);
  await mkdir(dir, { recursive: true });
  const existing = (await readdir(dir)).filter((n) => !n.endsWith('.tmp'));
  if (!existing.includes(o.file) && existing.length >= MAX_FILES_PER_FOLDER) throw refuse(`upload folder ${o.folder} already holds ${existing.length} files (at most ${MAX_FILES_PER_FOLDER})`);
  const final = path.join(dir, o.file);
  const tmpName = `.${o.file}.${randomBytes(6).toString('hex')}.tmp`;
  const tmp = path.join(dir, tmpName);
  const hash = createHash('sha256');
  let bytes = 0;
  const oversized = () => new CrowdtrainError('OVERSIZED', `upload ${o.folder}/${o.file} exceeds the limit of ${o.maxBytes} bytes (--max-upload-mb)`);
  // Past the limit the rest of the body is read and dropped (so the client gets the 413 answer),
  // up to twice the limit; beyond that the connection is cut.
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > o.maxBytes) {
        done(bytes > 2 * o.maxBytes + 2 ** 20 ? oversized() : null);
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(o.body, counter, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    if (bytes > o.maxBytes) throw oversized();
    if (bytes === 0) throw refuse(`upload ${o.folder}/${o.file} is empty`);
    let table: CsvTable;
    try {
      table = await readCsvTable([tmpName], nodeDatasetFileSource({ baseDir: dir }), {
        format,
        delimiter: o.delimiter ?? (path.extname(o.file).toLowerCase() === '.tsv' ? '\t' : ','),
        maxRecordChars: DEFAULT_MAX_RECORD_CHARS,
        missingValues: DEFAULT_MISSING_VALUES,
        columnMode: () => 'auto',
      });
    } catch (err) {
      const message = err instanceof Error ? err.message.split(tmpName).join(`${o.folder}/${o.file}`) : String(err);
      throw new CrowdtrainError('INVALID_CONFIG', message, { cause: err });
    }
    if (table.rows === 0) throw refuse(`upload ${o.folder}/${o.file} has a header but no rows`);
    if (o.overwrite) await rm(final, { force: true });
    try {
      await link(tmp, final); // atomic, and never replaces a file another upload linked meanwhile
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new CrowdtrainError('RUN_CONFLICT', `${o.folder}/${o.file} is already uploaded (PUT it with ?overwrite=1 to replace it: runs on it then record a new data set version)`);
      }
      throw err;
    }
    return { folder: o.folder, file: o.file, path: final, format, bytes, sha256: hash.digest('hex'), rows: table.rows, columns: columnsOf(table) };
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The uploaded files, by folder then name (temporary files of uploads in progress left out). */
export async function listUploadedTables(dataDir: string): Promise<{ folder: string; file: string; path: string; bytes: number; modifiedAt: Date }[]> {
  const root = uploadsDir(dataDir);
  const folders = await readdir(root, { withFileTypes: true }).catch(() => []);
  const out: { folder: string; file: string; path: string; bytes: number; modifiedAt: Date }[] = [];
  for (const f of folders.filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const files = (await readdir(path.join(root, f))).filter((n) => !n.startsWith('.')).sort();
    for (const file of files) {
      const p = path.join(root, f, file);
      const s = await stat(p).catch(() => null);
      if (s?.isFile()) out.push({ folder: f, file, path: p, bytes: s.size, modifiedAt: s.mtime });
    }
  }
  return out;
}
