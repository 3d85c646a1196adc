import { csvInputError } from './csv-input-error.ts';

/** One CSV record: its fields (quotes removed, `""` unescaped) and the line it starts on. */
export interface CsvRecord {
  fields: string[];
  /** 1-based line of the file where the record starts. */
  line: number;
}

/** How to tokenise one file. */
export interface CsvTokenizerOptions {
  /** The file's name, for error messages. */
  file: string;
  /** One-character field delimiter. */
  delimiter: string;
  /** Characters one record may span (quoted newlines included) before the file is refused. */
  maxRecordChars: number;
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const BOM = 0xfeff;

/**
 * An incremental RFC 4180 tokenizer: feed text in any pieces with {@link push}, then {@link end}.
 * Fields may be quoted (`"a, b"`, `"say ""hi"""`, newlines inside quotes); records end at LF, CRLF
 * or CR; blank lines are skipped; a leading byte-order mark is dropped. It never holds more than
 * one record: a record longer than `maxRecordChars` (a 100 MB line, an unterminated quote) is
 * refused as soon as it passes the limit, naming the file and line. A quote inside an unquoted
 * field, or text after a closing quote, is refused too (as csv-parse does by default).
 * @example const t = new CsvTokenizer({ file: 'a.csv', delimiter: ',', maxRecordChars: 1 << 20 }); t.push('a,b\n1,2\n'); t.end();
 */
export class CsvTokenizer {
  private readonly delimiter: number;
  private fields: string[] = [];
  private field = '';
  /** Inside a quoted field. */
  private quoted = false;
  /** Just after the closing quote of a quoted field. */
  private closed = false;
  /** The current field has begun (a character or an opening quote was read). */
  private fieldBegun = false;
  /** The last character was a CR that ended a record: a following LF belongs to it. */
  private afterCr = false;
  private line = 1;
  private recordLine = 1;
  private recordChars = 0;
  private atStart = true;
  /** The last character read inside a quoted field was a CR (an LF after it is the same newline). */
  private quotedCr = false;

  constructor(private readonly opts: CsvTokenizerOptions) {
    if (opts.delimiter.length !== 1 || opts.delimiter === '"' || opts.delimiter === '\n' || opts.delimiter === '\r') {
      throw csvInputError({ file: opts.file }, `delimiter ${JSON.stringify(opts.delimiter)} must be one character other than a quote or a newline`);
    }
    this.delimiter = opts.delimiter.charCodeAt(0);
  }

  /** Tokenises the next piece of text; returns the records it completed. */
  push(text: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    let i = 0;
    if (this.atStart && text.length > 0) {
      this.atStart = false;
      if (text.charCodeAt(0) === BOM) i = 1;
    }
    const n = text.length;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (this.afterCr) {
        this.afterCr = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      if (this.quoted) {
        // Copy up to the next quote in one slice.
        let j = text.indexOf('"', i);
        if (j < 0) j = n;
        this.countChars(text, i, j);
        this.field += text.slice(i, j);
        i = j;
        if (i < n) {
          this.quotedCr = false;
          this.quoted = false;
          this.closed = true;
          this.addChars(1);
          i++;
        }
        continue;
      }
      if (this.closed) {
        if (c === QUOTE) {
          // `""` inside a quoted field: one literal quote, still quoted.
          this.field += '"';
          this.closed = false;
          this.quoted = true;
          this.addChars(1);
          i++;
          continue;
        }
        if (c !== this.delimiter && c !== LF && c !== CR) {
          throw csvInputError(
            { file: this.opts.file, line: this.line },
            `unexpected ${JSON.stringify(text[i])} after the closing quote of field ${this.fields.length + 1}: quote the whole field and write a quote inside it as ""`,
          );
        }
      }
      if (c === this.delimiter) {
        this.addChars(1);
        this.endField();
        i++;
      } else if (c === LF || c === CR) {
        this.afterCr = c === CR;
        const rec = this.endRecord();
        if (rec) out.push(rec);
        this.line++;
        this.recordLine = this.line;
        i++;
      } else if (c === QUOTE) {
        if (this.fieldBegun) {
          throw csvInputError(
            { file: this.opts.file, line: this.line },
            `a quote inside unquoted field ${this.fields.length + 1} (${JSON.stringify(this.field.slice(0, 40))}...): quote the whole field and write a quote inside it as ""`,
          );
        }
        this.quoted = true;
        this.fieldBegun = true;
        this.addChars(1);
        i++;
      } else {
        // Copy up to the next delimiter, quote or newline in one slice.
        let j = i + 1;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === this.delimiter || d === LF || d === CR || d === QUOTE) break;
          j++;
        }
        this.addChars(j - i);
        this.field += text.slice(i, j);
        this.fieldBegun = true;
        i = j;
      }
    }
    return out;
  }

  /** Ends the input: returns the last record when the text did not end with a newline; refuses an unterminated quote. */
  end(): CsvRecord[] {
    if (this.quoted) {
      throw csvInputError({ file: this.opts.file, line: this.recordLine }, `the file ends inside a quoted field that starts on this line (a missing closing quote)`);
    }
    const rec = this.endRecord();
    return rec ? [rec] : [];
  }

  /** Counts the characters text[from, to) of a quoted field into the record, and its newlines (LF, CRLF, CR) into the line count. */
  private countChars(text: string, from: number, to: number): void {
    this.addChars(to - from);
    for (let k = from; k < to; k++) {
      const c = text.charCodeAt(k);
      if (c === LF) {
        if (!this.quotedCr) this.line++;
        this.quotedCr = false;
      } else {
        if (c === CR) this.line++;
        this.quotedCr = c === CR;
      }
    }
  }

  private addChars(count: number): void {
    this.recordChars += count;
    if (this.recordChars > this.opts.maxRecordChars) {
      throw csvInputError(
        { file: this.opts.file, line: this.recordLine },
        `a record longer than ${this.opts.maxRecordChars} characters (max_record_chars): a line without its end, or an unterminated quote?`,
      );
    }
  }

  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.fieldBegun = false;
    this.closed = false;
  }

  private endRecord(): CsvRecord | null {
    const blank = this.fields.length === 0 && !this.fieldBegun;
    if (blank) {
      this.recordChars = 0;
      return null;
    }
    this.endField();
    const rec = { fields: this.fields, line: this.recordLine };
    this.fields = [];
    this.recordChars = 0;
    return rec;
  }
}

/**
 * Streams the records of one CSV file from its bytes (UTF-8; invalid bytes are refused, naming the
 * file): decoding and tokenising piece by piece, so memory holds one chunk and one record, never
 * the whole file.
 * @example for await (const rec of readCsvRecords(chunks, { file, delimiter: ',', maxRecordChars: 1 << 20 })) ...
 */
export async function* readCsvRecords(chunks: AsyncIterable<Uint8Array>, opts: CsvTokenizerOptions): AsyncGenerator<CsvRecord> {
  const tokenizer = new CsvTokenizer(opts);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes?: Uint8Array): string => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch (cause) {
      throw csvInputError({ file: opts.file }, 'is not UTF-8 text (a CSV file must be UTF-8)', cause);
    }
  };
  for await (const chunk of chunks) {
    yield* tokenizer.push(decode(chunk));
  }
  yield* tokenizer.push(decode());
  yield* tokenizer.end();
}
