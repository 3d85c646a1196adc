import { describe, expect, it } from 'vitest';
import { CsvTokenizer, readCsvRecords, type CsvRecord } from '../../../../core/data/csv/csv-records.ts';
import { SeededRandom } from '../../../../core/data/seeded-random.ts';

const OPTS = { file: 'a.csv', delimiter: ',', maxRecordChars: 1 << 20 };

/** Tokenises `text` fed in pieces of `step` characters. */
function tokenize(text: string, step = text.length || 1, opts = OPTS): CsvRecord[] {
  const t = new CsvTokenizer(opts);
  const out: CsvRecord[] = [];
  for (let i = 0; i < text.length; i += step) out.push(...t.push(text.slice(i, i + step)));
  out.push(...t.end());
  return out;
}

/** An independent RFC 4180 writer: quotes a field only when it holds a delimiter, quote or newline. */
function writeCsv(rows: string[][], eol: string): string {
  const field = (f: string) => (/[",\r\n]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f);
  return rows.map((r) => r.map(field).join(',')).join(eol) + eol;
}

describe('CsvTokenizer', () => {
  it('splits fields and records, unquotes and unescapes, and skips blank lines', () => {
    const text = 'a,b,c\r\n1,"x, y","say ""hi"""\n\n"multi\nline",,last\r\n';
    for (const step of [1, 2, 3, 5, text.length]) {
      expect(tokenize(text, step)).toEqual([
        { fields: ['a', 'b', 'c'], line: 1 },
        { fields: ['1', 'x, y', 'say "hi"'], line: 2 },
        { fields: ['multi\nline', '', 'last'], line: 4 },
      ]);
    }
  });

  it('ends records at LF, CRLF or a lone CR, counts quoted newlines as lines, and takes a last record without a newline', () => {
    expect(tokenize('a\rb\r\nc\n"d\r\ne"\nf')).toEqual([
      { fields: ['a'], line: 1 },
      { fields: ['b'], line: 2 },
      { fields: ['c'], line: 3 },
      { fields: ['d\r\ne'], line: 4 },
      { fields: ['f'], line: 6 },
    ]);
  });

  it('drops a leading byte-order mark and keeps a quoted empty line as one empty field', () => {
    expect(tokenize('\uFEFFh\n""\n')).toEqual([
      { fields: ['h'], line: 1 },
      { fields: [''], line: 2 },
    ]);
  });

  it('reads back what an independent writer wrote, whatever the piece size (random fields with quotes, delimiters and newlines)', () => {
    const rng = new SeededRandom(3);
    const alphabet = ['a', 'b', ' ', ',', '"', '\n', '\r\n', 'é', '1', '.'];
    const rows = Array.from({ length: 60 }, () => Array.from({ length: 4 }, () => Array.from({ length: rng.int(6) }, () => alphabet[rng.int(alphabet.length)]).join('')));
    for (const eol of ['\n', '\r\n']) {
      const text = writeCsv(rows, eol);
      for (const step of [1, 4, 13, text.length]) expect(tokenize(text, step).map((r) => r.fields)).toEqual(rows);
    }
  });

  it('refuses a quote inside an unquoted field, text after a closing quote and an unterminated quote, naming file and line', () => {
    expect(() => tokenize('a,b\nx"y,1\n')).toThrow(/a\.csv line 2: a quote inside unquoted field 1/);
    expect(() => tokenize('a,b\n"x"y,1\n')).toThrow(/a\.csv line 2: unexpected "y" after the closing quote of field 1/);
    expect(() => tokenize('a,b\n1,2\n"open,3\n4,5\n')).toThrow(/a\.csv line 3: the file ends inside a quoted field/);
  });

  it('refuses a record longer than maxRecordChars as soon as it passes the limit, quoted or not', () => {
    const opts = { ...OPTS, maxRecordChars: 32 };
    expect(() => tokenize(`h\nshort\n${'x'.repeat(33)}\n`, 5, opts)).toThrow(/a\.csv line 3: a record longer than 32 characters/);
    expect(() => tokenize(`h\n"${'y\n'.repeat(20)}"\n`, 5, opts)).toThrow(/a\.csv line 2: a record longer than 32 characters/);
    expect(tokenize(`${'z'.repeat(32)}\n`, 5, opts)).toEqual([{ fields: ['z'.repeat(32)], line: 1 }]);
  });

  it('uses the configured delimiter and refuses one that cannot delimit', () => {
    expect(tokenize('a;b\n"1;2";3\n', 3, { ...OPTS, delimiter: ';' }).map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['1;2', '3'],
    ]);
    expect(() => new CsvTokenizer({ ...OPTS, delimiter: '"' })).toThrow(/delimiter/);
  });
});

describe('readCsvRecords', () => {
  it('decodes UTF-8 split across pieces and refuses bytes that are not UTF-8, naming the file', async () => {
    const bytes = new TextEncoder().encode('name\ncafé\n');
    async function* pieces(b: Uint8Array) {
      for (let i = 0; i < b.length; i++) {
        await Promise.resolve();
        yield b.subarray(i, i + 1);
      }
    }
    const recs: CsvRecord[] = [];
    for await (const r of readCsvRecords(pieces(bytes), OPTS)) recs.push(r);
    expect(recs.map((r) => r.fields)).toEqual([['name'], ['café']]);
    const bad = Uint8Array.from([0x61, 0x0a, 0xff, 0xfe, 0x0a]);
    await expect(async () => {
      for await (const _r of readCsvRecords(pieces(bad), OPTS)) void _r;
    }).rejects.toThrow(/a\.csv: is not UTF-8 text/);
  });
});
