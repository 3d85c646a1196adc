import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDataset } from '../../../../core/data/dataset-spec.ts';
import { CsvSpecSchema, csvFileFormat, formatFromPath } from '../../../../core/data/csv/csv-spec.ts';
import { readJsonRecords, type JsonRecord, type JsonRecordsOptions } from '../../../../core/data/csv/json-records.ts';
import { CrowdtrainError } from '../../../../core/protocol/errors.ts';
import { nodeDatasetFileSource } from '../../../../worker-node/node-dataset-files.ts';
import { memoryFileSource, type MemoryFile } from './memory-file-source.ts';

const encoder = new TextEncoder();

/** The bytes of `text` in pieces of `step` bytes (so pieces split lines, keys and UTF-8 sequences). */
async function* piecesOf(text: string, step: number): AsyncGenerator<Uint8Array> {
  const bytes = encoder.encode(text);
  for (let i = 0; i < bytes.length; i += step) {
    await Promise.resolve();
    yield bytes.subarray(i, i + step);
  }
}

async function records(text: string, opts: Partial<JsonRecordsOptions> & Pick<JsonRecordsOptions, 'format'>, step = 7): Promise<JsonRecord[]> {
  const out: JsonRecord[] = [];
  for await (const rec of readJsonRecords(piecesOf(text, step), { file: 't.json', maxRecordChars: 1 << 20, ...opts })) out.push(rec);
  return out;
}

/** The CrowdtrainError('INVALID_CONFIG') a promise rejects with (failing the test when it resolves). */
async function refusal(p: Promise<unknown>): Promise<CrowdtrainError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrowdtrainError);
  expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
  return err as CrowdtrainError;
}

/** Loads a csv-kind dataset over in-memory files and returns its refusal. */
function loadRefusal(files: Record<string, MemoryFile>, spec: Record<string, unknown>): Promise<CrowdtrainError> {
  return refusal(loadDataset({ name: 'csv', path: 'd.json', label: 'y', ...spec }, { files: memoryFileSource(files) }));
}

let dir: string | null = null;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

describe('the format of a csv-kind dataset', () => {
  it('is inferred from the extension of the path unless `format` says otherwise', () => {
    expect(formatFromPath('node_modules/vega-datasets/data/penguins.json')).toBe('json');
    expect(formatFromPath('data/part-*.jsonl')).toBe('jsonl');
    expect(formatFromPath('data/part.NDJSON')).toBe('jsonl');
    expect(formatFromPath('data/train_data_*.csv')).toBe('csv');
    expect(formatFromPath('data.json/table')).toBe('csv');
    expect(formatFromPath('table')).toBe('csv');
    expect(csvFileFormat(CsvSpecSchema.parse({ name: 'csv', path: 'a.jsonl', label: 'y' }))).toBe('jsonl');
    expect(csvFileFormat(CsvSpecSchema.parse({ name: 'csv', path: 'a.txt', label: 'y', format: 'json' }))).toBe('json');
    expect(() => CsvSpecSchema.parse({ name: 'csv', path: 'a.txt', label: 'y', format: 'xml' })).toThrow();
  });
});

describe('readJsonRecords', () => {
  it('json: the header is every key in order of first appearance; cells are text, null and absent keys missing', async () => {
    const text = '[\n  {"a": 1.5, "b": "x", "2019": true},\n  {"c": null, "a": -2e-7, "b": " y "},\n\n  {"b": "", "2019": false, "a": 3}\n]\n';
    for (const step of [1, 3, 7, text.length]) {
      expect(await records(text, { format: 'json' }, step)).toEqual([
        // "2019" stays where it was written (a parsed object would list it first).
        { fields: ['a', 'b', '2019', 'c'], line: 2 },
        { fields: ['1.5', 'x', 'true', null], line: 2 },
        { fields: ['-2e-7', ' y ', null, null], line: 3 },
        { fields: ['3', '', 'false', null], line: 5 },
      ]);
    }
    // A one-line array, and one object per line of its own.
    expect(await records('[{"a":1,"b":2},{"b":3}]', { format: 'json' })).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['1', '2'], line: 1 },
      { fields: [null, '3'], line: 1 },
    ]);
  });

  it('json: skips nested-looking text inside strings when it finds the lines and keys', async () => {
    const text = '[{"a": "x\\"}, {\\n", "b": 1},\n{"b": 2, "a": "[\\\\"}]';
    expect(await records(text, { format: 'json' })).toEqual([
      { fields: ['a', 'b'], line: 1 },
      { fields: ['x"}, {\n', '1'], line: 1 },
      { fields: ['[\\', '2'], line: 2 },
    ]);
  });

  it('jsonl: streamed line by line; the first object is the header; blank lines and CRLF ends are fine, absent keys are missing', async () => {
    const text = '{"a": 1, "b": "é", "c": null}\r\n\n{"b": "ü", "a": 2}\n   \n{"c": true, "a": 0.25, "b": "x"}';
    for (const step of [1, 2, 5, text.length]) {
      expect(await records(text, { format: 'jsonl' }, step)).toEqual([
        { fields: ['a', 'b', 'c'], line: 1 },
        { fields: ['1', 'é', null], line: 1 },
        { fields: ['2', 'ü', null], line: 3 },
        { fields: ['0.25', 'x', 'true'], line: 5 },
      ]);
    }
  });
});

describe('a json or jsonl table', () => {
  // The same table three ways: 8 rows, a number, a category and a boolean, missing cells of each.
  const CSV = 'x,color,flag,y\n1.5,red,true,a\n2.5,,false,b\n3.5,red,true,a\n,blue,false,b\n5.5,red,true,a\n6.5,blue,false,b\n7.5,red,,a\n8.5,blue,true,b\n';
  const ROWS: Record<string, unknown>[] = [
    { x: 1.5, color: 'red', flag: true, y: 'a' },
    { x: 2.5, color: null, flag: false, y: 'b' },
    { x: 3.5, color: 'red', flag: true, y: 'a' },
    { color: 'blue', flag: false, y: 'b' },
    { x: 5.5, color: 'red', flag: true, y: 'a' },
    { x: 6.5, color: 'blue', flag: false, y: 'b' },
    { x: 7.5, color: 'red', flag: null, y: 'a' },
    { x: 8.5, color: 'blue', flag: true, y: 'b' },
  ];
  const JSONL = ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n';

  it('encodes to the same train and test splits as the equivalent CSV; its hash covers the raw bytes', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ct-json-'));
    const json = JSON.stringify(ROWS, null, 2);
    writeFileSync(path.join(dir, 't.csv'), CSV);
    writeFileSync(path.join(dir, 't.json'), json);
    writeFileSync(path.join(dir, 't.jsonl'), JSONL);
    writeFileSync(path.join(dir, 't.txt'), JSONL);
    const files = nodeDatasetFileSource({ baseDir: dir });
    const load = (p: string, extra: Record<string, unknown> = {}) =>
      loadDataset({ name: 'csv', path: p, label: 'y', split: { test: 0.25, seed: 4 }, preprocess: { numeric: 'standardize', missing: 'indicator' }, ...extra }, { files });
    const csv = await load('t.csv');
    expect([csv.train.size, csv.test.size, csv.train.inputShape]).toEqual([6, 2, [8]]);
    for (const [p, extra, text] of [
      ['t.json', {}, json],
      ['t.jsonl', {}, JSONL],
      ['t.txt', { format: 'jsonl' }, JSONL],
    ] as const) {
      const got = await load(p, extra);
      expect(got.train.features).toEqual(csv.train.features);
      expect(got.train.labels).toEqual(csv.train.labels);
      expect(got.test.features).toEqual(csv.test.features);
      expect(got.test.labels).toEqual(csv.test.labels);
      expect(got.csv!.transform).toEqual(csv.csv!.transform);
      // The file's sha256 is that of its bytes, and the dataset's that of the manifest, as for CSV.
      const fileSha = createHash('sha256').update(text).digest('hex');
      expect(got.csv!.files).toEqual([{ path: p, bytes: Buffer.byteLength(text), rows: 8, sha256: fileSha }]);
      expect(got.csv!.sha256).toBe(createHash('sha256').update(`${fileSha}  ${p}\n`).digest('hex'));
    }
    // The boolean column is categorical (false / true); every column has a missing cell in the train split (seed 4), so each gets an indicator.
    expect(csv.csv!.transform.outputs).toEqual(['x', 'x:missing', 'color=blue', 'color=red', 'color:missing', 'flag=false', 'flag=true', 'flag:missing']);
  });

  it('reads a glob of jsonl shards as one dataset, and refuses a shard with other columns', async () => {
    const [a, b] = [JSONL.split('\n').slice(0, 4).join('\n'), JSONL.split('\n').slice(4).join('\n')];
    const { train, test, csv } = await loadDataset({ name: 'csv', path: 'p*.jsonl', label: 'y', split: { test: 0.25 } }, { files: memoryFileSource({ 'p1.jsonl': a, 'p2.jsonl': b }) });
    expect([train.size + test.size, csv!.files.map((f) => f.rows)]).toEqual([8, [4, 4]]);
    const e = await loadRefusal({ 'p1.jsonl': a, 'p2.jsonl': b.replace('"color"', '"colour"') }, { path: 'p*.jsonl' });
    expect(e.message).toBe('csv dataset: p2.jsonl line 1: header [x, colour, flag, y] differs from the header of p1.jsonl [x, color, flag, y]: every file of one dataset has the same columns in the same order');
  });
});

describe('json and jsonl tables refuse bad input with the file, line and key', () => {
  const GOOD = '[{"x": 1, "y": "a"}, {"x": 2, "y": "b"}, {"x": 3, "y": "a"}, {"x": 4, "y": "b"}, {"x": 5, "y": "a"}]';

  it('loads the good table the bad ones are made from', async () => {
    const { train, test } = await loadDataset({ name: 'csv', path: 'd.json', label: 'y', split: { test: 0.4 } }, { files: memoryFileSource({ 'd.json': GOOD }) });
    expect([train.size, test.size, train.numClasses]).toEqual([3, 2, 2]);
  });

  it('invalid JSON', async () => {
    const json = await loadRefusal({ 'd.json': GOOD.replace('"x": 3', '"x" 3') }, { path: 'd.json' });
    expect(json.message).toMatch(/^csv dataset: d\.json: is not valid JSON \(.+\)$/);
    const jsonl = await loadRefusal({ 'd.jsonl': '{"x": 1, "y": "a"}\n{"x": 2, "y": "b"\n' }, { path: 'd.jsonl' });
    expect(jsonl.message).toMatch(/^csv dataset: d\.jsonl line 2: is not valid JSON \(.+\)$/);
    expect((await loadRefusal({ 'd.json': ' \n' }, { path: 'd.json' })).message).toBe('csv dataset: d.json: the file is empty: expected a JSON array of objects');
    expect((await loadRefusal({ 'd.json': new Uint8Array([0x5b, 0xff, 0x5d]) }, { path: 'd.json' })).message).toBe('csv dataset: d.json: is not UTF-8 text (a JSON file must be UTF-8)');
  });

  it('a top level that is not an array of flat objects', async () => {
    const obj = await loadRefusal({ 'd.json': '{"x": [1, 2], "y": ["a", "b"]}' }, { path: 'd.json' });
    expect(obj.message).toBe('csv dataset: d.json: the top level is an object: a json table is one array of flat objects ([{"a": 1, "b": "x"}, ...]), or write one object per line as jsonl');
    const element = await loadRefusal({ 'd.json': '[{"x": 1, "y": "a"},\n [2, "b"]]' }, { path: 'd.json' });
    expect(element.message).toBe('csv dataset: d.json line 2: record 2 of the array is an array: every element of a json table is a flat object');
    const line = await loadRefusal({ 'd.jsonl': '{"x": 1, "y": "a"}\n\n7\n' }, { path: 'd.jsonl' });
    expect(line.message).toBe('csv dataset: d.jsonl line 3: the line holds a number: each line of a jsonl file is one flat object ({"a": 1, "b": "x"})');
    expect((await loadRefusal({ 'd.json': '[]' }, { path: 'd.json' })).message).toBe('csv dataset: d.json: the array holds no objects: expected a table of at least one row');
    expect((await loadRefusal({ 'd.jsonl': '\n\n' }, { path: 'd.jsonl' })).message).toBe('csv dataset: d.jsonl: the file holds no JSON object: expected one object per line');
  });

  it('a nested object or array, and a key written twice', async () => {
    const nested = await loadRefusal({ 'd.json': GOOD.replace('{"x": 4,', '\n{"x": {"v": 4},') }, { path: 'd.json' });
    expect(nested.message).toBe(
      'csv dataset: d.json line 2, column "x": the value is an object: a JSON table\'s values must be numbers, strings, booleans or null (flatten nested objects and arrays into columns of their own)',
    );
    const array = await loadRefusal({ 'd.jsonl': '{"x": 1, "y": "a"}\n{"x": 2, "y": ["b"]}\n' }, { path: 'd.jsonl' });
    expect(array.message).toMatch(/^csv dataset: d\.jsonl line 2, column "y": the value is an array: /);
    const twice = await loadRefusal({ 'd.json': GOOD.replace('{"x": 2,', '{"x": 2, "x": 9,') }, { path: 'd.json' });
    expect(twice.message).toBe('csv dataset: d.json line 1, column "x": the object has this key twice');
  });

  it('jsonl: a key the first object does not have', async () => {
    const e = await loadRefusal({ 'd.jsonl': '{"x": 1, "y": "a"}\n{"x": 2, "y": "b"}\n{"x": 3, "z": 0, "y": "a"}\n' }, { path: 'd.jsonl' });
    expect(e.message).toBe(
      'csv dataset: d.jsonl line 3, column "z": the key is not one of the first object\'s (line 1), whose keys are the columns of a jsonl file: add it there (null where a row has no value)',
    );
  });

  it('json: a file over the byte cap, refused before it is read whole', async () => {
    let served = 0;
    async function* big(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 1000; i++) {
        await Promise.resolve();
        served += 64;
        yield encoder.encode(`${i === 0 ? '[' : ','}{"x": 1, "y": "${'a'.repeat(44)}"}`.padEnd(64, ' '));
      }
    }
    const recs = readJsonRecords(big(), { file: 'd.json', format: 'json', maxRecordChars: 1 << 20, maxJsonBytes: 1000 });
    const e = await refusal(recs.next());
    expect(e.message).toBe('csv dataset: d.json: the file is larger than 1000 bytes, the most a json file may hold (it is parsed whole): write the table as jsonl (one object per line) or csv, which are streamed');
    expect(served).toBeLessThanOrEqual(1064);
    // The default cap, 64 MiB, is named as such.
    async function* over(): AsyncGenerator<Uint8Array> {
      await Promise.resolve();
      yield new Uint8Array(64 * 1024 * 1024 + 1);
    }
    const dflt = await refusal(readJsonRecords(over(), { file: 'd.json', format: 'json', maxRecordChars: 1 << 20 }).next());
    expect(dflt.message).toMatch(/^csv dataset: d\.json: the file is larger than 64 MiB, /);
  });

  it('jsonl: a line longer than max_record_chars, refused after reading about that much of it', async () => {
    const source = memoryFileSource({ 'd.jsonl': `{"x": 1, "y": "a"}\n{"x": 2, "y": "${'b'.repeat(100_000)}"}\n{"x": 3, "y": "a"}\n` });
    const err = await refusal(loadDataset({ name: 'csv', path: 'd.jsonl', label: 'y', max_record_chars: 1000 }, { files: source }));
    expect(err.message).toBe('csv dataset: d.jsonl line 2: a line longer than 1000 characters (max_record_chars): a line without its end? (a jsonl file holds one object per line)');
    expect(source.bytesServed).toBeLessThan(1100);
    // A too-long line that ends inside one piece is refused too.
    const one = await refusal(records(`{"x": "${'c'.repeat(100)}"}\n`, { format: 'jsonl', maxRecordChars: 50 }, 1 << 20));
    expect(one.message).toMatch(/^csv dataset: t\.json line 1: a line longer than 50 characters/);
  });
});
