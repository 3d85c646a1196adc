import { csvInputError, type CsvLocation } from './csv-input-error.ts';

/** Bytes a `json` file (one array, parsed whole) may hold: larger tables are written as jsonl or csv, which are streamed. */
export const MAX_JSON_FILE_BYTES = 64 * 1024 * 1024;

/**
 * One record of a JSON table, as a CSV record (csv-records.ts): the cells in header order and the
 * line the object starts on; `null` is a missing cell (a JSON null or an absent key).
 */
export interface JsonRecord {
  fields: (string | null)[];
  /** 1-based line of the file where the object starts (for the header: where the file's first object starts). */
  line: number;
}

/** How to read one JSON table file. */
export interface JsonRecordsOptions {
  /** The file's name, for error messages. */
  file: string;
  /** `json`: one top-level array of flat objects, parsed whole; `jsonl`: one flat object per line, streamed. */
  format: 'json' | 'jsonl';
  /** jsonl: characters one line may hold before the file is refused. */
  maxRecordChars: number;
  /** json: bytes the file may hold (MAX_JSON_FILE_BYTES). */
  maxJsonBytes?: number;
}

/** A key of a JSON object and the line it is written on. */
interface JsonKey {
  name: string;
  line: number;
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Walks JSON text that JSON.parse has accepted, to recover what parsing drops: the line each
 * object and key is on, and the keys in written order (a parsed object lists index-like keys such
 * as `"2019"` first) with repeats (a parsed object keeps the last).
 */
class JsonScanner {
  private pos = 0;

  constructor(
    private readonly text: string,
    private line: number,
  ) {}

  /** The elements of the top-level array: the line each starts on, and an object's keys (null for any other value). */
  arrayElements(): { line: number; keys: JsonKey[] | null }[] {
    const out: { line: number; keys: JsonKey[] | null }[] = [];
    this.skipSpace();
    this.pos++; // [
    this.skipSpace();
    if (this.at() === CLOSE_BRACKET) return out;
    for (;;) {
      this.skipSpace();
      const line = this.line;
      if (this.at() === OPEN_BRACE) out.push({ line, keys: this.objectKeys() });
      else {
        this.skipValue();
        out.push({ line, keys: null });
      }
      this.skipSpace();
      if (this.next() === CLOSE_BRACKET) return out;
    }
  }

  /** The keys of the top-level object. */
  topObjectKeys(): JsonKey[] {
    this.skipSpace();
    return this.objectKeys();
  }

  private at(): number {
    return this.text.charCodeAt(this.pos);
  }

  private next(): number {
    if (this.pos >= this.text.length) throw new Error('JsonScanner: the text ends early (it was not checked by JSON.parse)');
    return this.text.charCodeAt(this.pos++);
  }

  private skipSpace(): void {
    for (;;) {
      const c = this.at();
      if (c === LF) this.line++;
      else if (c !== SPACE && c !== TAB && c !== CR) return;
      this.pos++;
    }
  }

  /** Skips a string at `pos`; returns its JSON text, quotes included. */
  private skipString(): string {
    const start = this.pos++;
    for (;;) {
      const c = this.next();
      if (c === BACKSLASH) this.pos++;
      else if (c === QUOTE) return this.text.slice(start, this.pos);
    }
  }

  private skipValue(): void {
    const c = this.at();
    if (c === QUOTE) {
      this.skipString();
      return;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      let depth = 0;
      for (;;) {
        if (this.at() === QUOTE) {
          this.skipString();
          continue;
        }
        const d = this.next();
        if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
        else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
          if (--depth === 0) return;
        } else if (d === LF) this.line++;
      }
    }
    // A number, true, false or null.
    while (this.pos < this.text.length) {
      const d = this.at();
      if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || d === SPACE || d === TAB || d === LF || d === CR) return;
      this.pos++;
    }
  }

  /** The keys of the object at `pos`, in written order, repeats kept. */
  private objectKeys(): JsonKey[] {
    const keys: JsonKey[] = [];
    this.pos++; // {
    this.skipSpace();
    if (this.at() === CLOSE_BRACE) {
      this.pos++;
      return keys;
    }
    for (;;) {
      this.skipSpace();
      const line = this.line;
      keys.push({ name: JSON.parse(this.skipString()) as string, line });
      this.skipSpace();
      this.pos++; // :
      this.skipSpace();
      this.skipValue();
      this.skipSpace();
      if (this.next() === CLOSE_BRACE) return keys;
    }
  }
}

/** "an array", "null", "a number": what a JSON value is, for error messages. */
function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isFlatObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The cell text of one JSON value: a number as String(n) writes it, a string as is, a boolean as `true` / `false`, null as missing. */
function cellOf(value: unknown, at: CsvLocation): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  throw csvInputError(
    at,
    `the value is ${describeJson(value)}: a JSON table's values must be numbers, strings, booleans or null (flatten nested objects and arrays into columns of their own)`,
  );
}

/** The cells of one object in header order; `unknown` refuses a key the header lacks. */
function rowOf(
  file: string,
  obj: Record<string, unknown>,
  keys: readonly JsonKey[],
  index: ReadonlyMap<string, number>,
  unknown: (key: JsonKey) => Error,
): (string | null)[] {
  const fields = new Array<string | null>(index.size).fill(null);
  const seen = new Set<string>();
  for (const key of keys) {
    const at = { file, line: key.line, column: key.name };
    if (seen.has(key.name)) throw csvInputError(at, 'the object has this key twice');
    seen.add(key.name);
    const k = index.get(key.name);
    if (k === undefined) throw unknown(key);
    fields[k] = cellOf(obj[key.name], at);
  }
  return fields;
}

function utf8Decoder(file: string): (bytes?: Uint8Array) => string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return (bytes) => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch (cause) {
      throw csvInputError({ file }, 'is not UTF-8 text (a JSON file must be UTF-8)', cause);
    }
  };
}

/** "64 MiB", "100 bytes". */
function byteSize(bytes: number): string {
  const mib = 2 ** 20;
  return bytes >= mib && bytes % mib === 0 ? `${bytes / mib} MiB` : `${bytes} bytes`;
}

function parseJson(text: string, at: CsvLocation): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw csvInputError(at, `is not valid JSON (${(cause as Error).message})`, cause);
  }
}

/** A `json` file: read whole (up to the byte cap), parsed, then its objects as records; the header is the union of their keys in order of first appearance. */
async function* readJsonArray(chunks: AsyncIterable<Uint8Array>, opts: JsonRecordsOptions): AsyncGenerator<JsonRecord> {
  const { file } = opts;
  const cap = opts.maxJsonBytes ?? MAX_JSON_FILE_BYTES;
  const pieces: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.byteLength;
    if (size > cap) {
      throw csvInputError(
        { file },
        `the file is larger than ${byteSize(cap)}, the most a json file may hold (it is parsed whole): write the table as jsonl (one object per line) or csv, which are streamed`,
      );
    }
    pieces.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const p of pieces) {
    bytes.set(p, offset);
    offset += p.byteLength;
  }
  pieces.length = 0;
  const text = utf8Decoder(file)(bytes);
  if (text.trim() === '') throw csvInputError({ file }, 'the file is empty: expected a JSON array of objects');
  const value = parseJson(text, { file });
  if (!Array.isArray(value)) {
    throw csvInputError({ file }, `the top level is ${describeJson(value)}: a json table is one array of flat objects ([{"a": 1, "b": "x"}, ...]), or write one object per line as jsonl`);
  }
  if (value.length === 0) throw csvInputError({ file }, 'the array holds no objects: expected a table of at least one row');
  const elements = new JsonScanner(text, 1).arrayElements();
  const index = new Map<string, number>();
  for (const [i, el] of elements.entries()) {
    if (el.keys === null) {
      throw csvInputError({ file, line: el.line }, `record ${i + 1} of the array is ${describeJson(value[i])}: every element of a json table is a flat object`);
    }
    for (const key of el.keys) if (!index.has(key.name)) index.set(key.name, index.size);
  }
  if (index.size === 0) throw csvInputError({ file }, 'no object of the array has a key: the keys are the columns');
  yield { fields: [...index.keys()], line: elements[0]!.line };
  for (const [i, el] of elements.entries()) {
    yield {
      fields: rowOf(file, value[i] as Record<string, unknown>, el.keys!, index, () => new Error('unreachable: the header holds every key')),
      line: el.line,
    };
  }
}

/** A `jsonl` file: streamed line by line; the first object's keys are the header, and a later object's other key is refused. */
async function* readJsonLines(chunks: AsyncIterable<Uint8Array>, opts: JsonRecordsOptions): AsyncGenerator<JsonRecord> {
  const { file, maxRecordChars } = opts;
  const decode = utf8Decoder(file);
  let header: { index: Map<string, number>; line: number } | null = null;
  let lineNo = 1;
  let pending = '';

  const tooLong = (line: number) =>
    csvInputError({ file, line }, `a line longer than ${maxRecordChars} characters (max_record_chars): a line without its end? (a jsonl file holds one object per line)`);

  function* recordsOf(text: string, line: number): Generator<JsonRecord> {
    if (text.length > maxRecordChars) throw tooLong(line);
    if (text.trim() === '') return;
    const value = parseJson(text, { file, line });
    if (!isFlatObject(value)) throw csvInputError({ file, line }, `the line holds ${describeJson(value)}: each line of a jsonl file is one flat object ({"a": 1, "b": "x"})`);
    const keys = new JsonScanner(text, line).topObjectKeys();
    if (header === null) {
      const index = new Map<string, number>();
      for (const key of keys) if (!index.has(key.name)) index.set(key.name, index.size);
      if (index.size === 0) throw csvInputError({ file, line }, 'the first object has no keys: its keys are the columns of a jsonl file');
      header = { index, line };
      yield { fields: [...index.keys()], line };
    }
    const first = header.line;
    const fields = rowOf(file, value, keys, header.index, (key) =>
      csvInputError(
        { file, line: key.line, column: key.name },
        `the key is not one of the first object's (line ${first}), whose keys are the columns of a jsonl file: add it there (null where a row has no value)`,
      ),
    );
    yield { fields, line };
  }

  for await (const chunk of chunks) {
    const piece = decode(chunk);
    let from = 0;
    for (;;) {
      const nl = piece.indexOf('\n', from);
      if (nl < 0) break;
      const text = pending + piece.slice(from, nl);
      pending = '';
      yield* recordsOf(text, lineNo);
      lineNo++;
      from = nl + 1;
    }
    pending += piece.slice(from);
    if (pending.length > maxRecordChars) throw tooLong(lineNo);
  }
  pending += decode();
  yield* recordsOf(pending, lineNo);
  if (header === null) throw csvInputError({ file }, 'the file holds no JSON object: expected one object per line');
}

/**
 * Reads the records of one JSON table file, as readCsvRecords does a CSV file's: first the header
 * (the columns), then one record per object with its cells as text (a number as String(n) writes
 * it, a boolean as `true` / `false`, null or an absent key as missing) and the line the object
 * starts on. `jsonl` is streamed line by line (memory holds one piece and one line, never the
 * whole file); its header is the first object's keys, and a later object's other key is refused.
 * `json` is one array of flat objects, read whole up to `maxJsonBytes` (MAX_JSON_FILE_BYTES); its
 * header is every key in order of first appearance. A nested object or array, a top level that is
 * no array of objects, invalid JSON or UTF-8 is a CrowdtrainError('INVALID_CONFIG') naming the
 * file, line and key.
 * @example for await (const rec of readJsonRecords(chunks, { file: 'penguins.json', format: 'json', maxRecordChars: 1 << 20 })) ...
 */
export function readJsonRecords(chunks: AsyncIterable<Uint8Array>, opts: JsonRecordsOptions): AsyncGenerator<JsonRecord> {
  return opts.format === 'json' ? readJsonArray(chunks, opts) : readJsonLines(chunks, opts);
}
