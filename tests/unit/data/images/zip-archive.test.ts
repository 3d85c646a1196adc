import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync, zipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import { CrowdtrainError } from '../../../../core/protocol/errors.ts';
import { crc32, DEFAULT_ZIP_LIMITS, unsafeEntryName, ZipArchive, type ZipLimits } from '../../../../core/data/images/zip-archive.ts';
import { ImagesSpecSchema } from '../../../../core/data/images/images-spec.ts';
import { loadImagesDataset } from '../../../../core/data/images/load-images-dataset.ts';
import { nodeDatasetFileSource } from '../../../../worker-node/node-dataset-files.ts';
import { nodeImageDecoder } from '../../../../worker-node/node-image-decoder.ts';
import { solidPng, tempTree, type TempTree } from './image-files.ts';

/** One entry of a hand-built zip: stored or deflated, its sizes and CRC written truthfully unless overridden. */
interface RawEntry {
  name: string;
  data: Uint8Array;
  method?: 0 | 8;
  /** The uncompressed size the headers declare (default: the real one). */
  declaredSize?: number;
}

const u16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

function localHeader(name: Uint8Array, method: number, crc: number, csize: number, usize: number): number[] {
  return [...u32(0x04034b50), ...u16(20), ...u16(0x800), ...u16(method), ...u16(0), ...u16(0), ...u32(crc), ...u32(csize), ...u32(usize), ...u16(name.length), ...u16(0), ...name];
}

function centralHeader(name: Uint8Array, method: number, crc: number, csize: number, usize: number, offset: number): number[] {
  return [
    ...u32(0x02014b50), ...u16(20), ...u16(20), ...u16(0x800), ...u16(method), ...u16(0), ...u16(0),
    ...u32(crc), ...u32(csize), ...u32(usize), ...u16(name.length), ...u16(0), ...u16(0), ...u16(0), ...u16(0), ...u32(0), ...u32(offset), ...name,
  ];
}

function endRecord(count: number, cdSize: number, cdOffset: number): number[] {
  return [...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(count), ...u16(count), ...u32(cdSize), ...u32(cdOffset), ...u16(0)];
}

/** A zip written byte by byte (so that names and sizes can be whatever a hostile archive holds). */
function buildZip(entries: RawEntry[]): Uint8Array {
  const body: number[] = [];
  const central: number[] = [];
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const method = e.method ?? 8;
    const stored = method === 8 ? deflateSync(e.data) : e.data;
    const usize = e.declaredSize ?? e.data.length;
    const offset = body.length;
    body.push(...localHeader(name, method, crc32(e.data), stored.length, usize), ...stored);
    central.push(...centralHeader(name, method, crc32(e.data), stored.length, usize, offset));
  }
  return Uint8Array.from([...body, ...central, ...endRecord(entries.length, central.length, body.length)]);
}

const png = solidPng(9);
const fine = (names: string[]) => names.map((name) => ({ name, data: png }));

function refusal(fn: () => unknown): CrowdtrainError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
    return err as CrowdtrainError;
  }
  throw new Error('expected a refusal');
}

const open = (bytes: Uint8Array, limits: Partial<ZipLimits> = {}) => new ZipArchive(bytes, 'd.zip', { ...DEFAULT_ZIP_LIMITS, ...limits });

describe('crc32', () => {
  it('is the zip (zlib) CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
  });
});

describe('ZipArchive', () => {
  it('reads what fflate writes and what we build: stored and deflated entries, folders', () => {
    const zip = open(zipSync({ a: { 'x.png': png, 'y.png': [png, { level: 0 }] }, b: {} }));
    expect(zip.entries.map((e) => e.name).sort()).toEqual(['a/', 'a/x.png', 'a/y.png', 'b/']);
    for (const e of zip.entries.filter((x) => !x.name.endsWith('/'))) expect(zip.extract(e)).toEqual(new Uint8Array(png));
    const built = open(buildZip([{ name: 's.png', data: png, method: 0 }, { name: 'd.png', data: png }]));
    expect(built.entries.map((e) => [e.name, e.method])).toEqual([['s.png', 0], ['d.png', 8]]);
    for (const e of built.entries) expect(built.extract(e)).toEqual(new Uint8Array(png));
  });

  it('refuses path-traversal names, naming the entry: "..", absolute, drive letters, backslashes, empty segments', () => {
    const cases: [string, RegExp][] = [
      ['../x.png', /^images dataset: d\.zip entry "\.\.\/x\.png": the name has a "\.\." segment: it would name a path outside the archive/],
      ['a/../../x.png', /entry "a\/\.\.\/\.\.\/x\.png": the name has a "\.\." segment/],
      ['/etc/x.png', /entry "\/etc\/x\.png": the name is an absolute path/],
      ['C:/x.png', /entry "C:\/x\.png": the name is an absolute path/],
      ['a\\..\\x.png', /entry "a\\\\\.\.\\\\x\.png": the name holds a backslash/],
      ['a//x.png', /entry "a\/\/x\.png": the name has an empty or "\." segment/],
      ['a/./x.png', /entry "a\/\.\/x\.png": the name has an empty or "\." segment/],
    ];
    for (const [name, message] of cases) {
      expect(refusal(() => open(buildZip(fine(['a/ok.png', name])))).message).toMatch(message);
    }
    expect(unsafeEntryName('cat/1.png')).toBeNull();
    expect(unsafeEntryName('cat/')).toBeNull();
  });

  it('refuses a zip bomb by its declared sizes before inflating anything: ratio, entry size, total, entry count', () => {
    const zeros = new Uint8Array(20 << 20); // 20 MiB of zeros deflate to about 20 KiB: 1,000:1
    const bomb = buildZip([{ name: 'a/ok.png', data: png }, { name: 'a/bomb.png', data: zeros }]);
    expect(refusal(() => open(bomb)).message).toMatch(
      /^images dataset: d\.zip entry "a\/bomb\.png": declares 20971520 uncompressed bytes from \d+ compressed \(a ratio of \d+:1, more than the 200:1 allowed\): a zip bomb\?/,
    );
    expect(refusal(() => open(bomb, { maxRatio: 2000, maxEntryBytes: 1 << 20 })).message).toMatch(/entry "a\/bomb\.png": declares 20971520 uncompressed bytes, more than the 1048576 one entry may have/);
    const many = buildZip(fine(['a/1.png', 'a/2.png', 'a/3.png']));
    expect(refusal(() => open(many, { maxTotalBytes: 2 * png.length + 1 })).message).toMatch(
      new RegExp(`entry "a/3\\.png": the entries up to this one declare ${3 * png.length} uncompressed bytes, more than the ${2 * png.length + 1} a zip file may inflate to`),
    );
    expect(refusal(() => open(many, { maxEntries: 2 })).message).toMatch(/^images dataset: d\.zip: has 3 entries, more than the 2 allowed/);
    expect(refusal(() => open(many, { maxArchiveBytes: 100 })).message).toMatch(/^images dataset: d\.zip: is \d+ bytes, more than the 100 a zip file may have/);
  });

  it('stops inflating an entry as soon as it passes its declared size (a header that lies)', () => {
    const zeros = new Uint8Array(16 << 20);
    const zip = open(buildZip([{ name: 'a/liar.png', data: zeros, declaredSize: 1000 }]));
    const err = refusal(() => zip.extract(zip.entries[0]!));
    const m = /^images dataset: d\.zip entry "a\/liar\.png": inflates past the 1000 bytes its header declares \(stopped after (\d+)\): a zip bomb/.exec(err.message);
    expect(m).not.toBeNull();
    // At most one 4 KiB piece of input was inflated past the limit: about 4 MiB, not the 16 MiB the entry holds.
    expect(Number(m![1])).toBeLessThan(5 << 20);
  });

  it('refuses entries that share bytes, duplicate names, encryption, other methods, bad CRCs, non-zips', () => {
    // Entry b's local header lies inside entry a's stored data (the overlapping-file bomb).
    const bName = new TextEncoder().encode('b.png');
    const bLocal = [...localHeader(bName, 0, crc32(png), png.length, png.length), ...png];
    const aName = new TextEncoder().encode('a.png');
    const aData = Uint8Array.from(bLocal);
    const body = [...localHeader(aName, 0, crc32(aData), aData.length, aData.length), ...aData];
    const central = [
      ...centralHeader(aName, 0, crc32(aData), aData.length, aData.length, 0),
      ...centralHeader(bName, 0, crc32(png), png.length, png.length, 30 + aName.length),
    ];
    const overlapping = Uint8Array.from([...body, ...central, ...endRecord(2, central.length, body.length)]);
    expect(refusal(() => open(overlapping)).message).toMatch(/entry "b\.png": overlaps entry "a\.png": entries sharing data is a zip-bomb technique/);

    expect(refusal(() => open(buildZip(fine(['a.png', 'a.png'])))).message).toMatch(/entry "a\.png": appears twice in the archive/);
    const encrypted = buildZip(fine(['a.png']));
    encrypted[encrypted.length - 22 - 46 - 5 + 8] = 0x01; // central directory flags: bit 0
    expect(refusal(() => open(encrypted)).message).toMatch(/entry "a\.png": is encrypted/);
    const bzip = buildZip(fine(['a.png']));
    bzip[bzip.length - 22 - 46 - 5 + 10] = 12; // central directory method: bzip2
    expect(refusal(() => open(bzip)).message).toMatch(/entry "a\.png": uses compression method 12: only stored \(0\) and deflate \(8\)/);
    const damaged = buildZip([{ name: 'a.png', data: png, method: 0 }]);
    damaged[30 + 5 + 10] = damaged[30 + 5 + 10]! ^ 0xff; // a byte of the stored data
    const z = open(damaged);
    expect(refusal(() => z.extract(z.entries[0]!)).message).toMatch(/entry "a\.png": is damaged: its CRC-32 is/);
    expect(refusal(() => open(new TextEncoder().encode('not a zip at all'))).message).toMatch(/^images dataset: d\.zip: is not a zip file/);
  });

  it('refuses a local name that differs from the central one, a name that is not UTF-8, ZIP64 and multi-disk archives', () => {
    const renamed = buildZip(fine(['a.png']));
    renamed[30] = 'b'.charCodeAt(0); // the local header's name
    expect(refusal(() => open(renamed)).message).toMatch(/entry "a\.png": has another name in its local header than in the central directory/);
    const latin1 = buildZip(fine(['a.png']));
    latin1[latin1.length - 22 - 5] = 0xe9; // the central directory's name: "\xe9.png" is no UTF-8
    expect(refusal(() => open(latin1)).message).toMatch(/^images dataset: d\.zip: entry 0's name is not UTF-8/);
    const zip64 = buildZip(fine(['a.png']));
    zip64.set([0xff, 0xff, 0xff, 0xff], zip64.length - 22 + 8); // both entry counts 0xffff
    expect(refusal(() => open(zip64)).message).toMatch(/^images dataset: d\.zip: is a ZIP64 archive/);
    const disks = buildZip(fine(['a.png']));
    disks[disks.length - 22 + 4] = 1;
    expect(refusal(() => open(disks)).message).toMatch(/^images dataset: d\.zip: spans several disks/);
  });
});

describe('an images data set in a zip', () => {
  let tree: TempTree | null = null;
  afterEach(() => {
    tree?.cleanup();
    tree = null;
  });

  const load = (file: string, bytes: Uint8Array) => {
    tree = tempTree();
    writeFileSync(path.join(tree.dir, file), bytes);
    return loadImagesDataset(ImagesSpecSchema.parse({ name: 'images', path: file, image_size: [4, 4], split: { test: 0.5 } }), {
      files: nodeDatasetFileSource({ baseDir: tree.dir }),
      decoder: nodeImageDecoder(),
    });
  };

  it('loads, and refuses a traversal name and a bomb through loadDataset too, naming the entry', async () => {
    const good = buildZip(fine(['cat/1.png', 'cat/2.png', 'dog/1.png', 'dog/2.png']));
    expect((await load('pets.zip', good)).images).toMatchObject({ files: 4, classes: ['cat', 'dog'] });
    await expect(load('evil.zip', buildZip(fine(['cat/1.png', 'dog/1.png', '../../etc/x.png'])))).rejects.toThrow(/^images dataset: evil\.zip entry "\.\.\/\.\.\/etc\/x\.png": the name has a "\.\." segment/);
    await expect(load('bomb.ZIP', buildZip([...fine(['cat/1.png', 'dog/1.png']), { name: 'dog/2.png', data: new Uint8Array(8 << 20) }]))).rejects.toThrow(
      /^images dataset: bomb\.ZIP entry "dog\/2\.png": declares 8388608 uncompressed bytes from \d+ compressed .*a zip bomb\?/,
    );
    await expect(load('bad.zip', buildZip([...fine(['cat/1.png', 'dog/1.png']), { name: 'dog/2.png', data: new TextEncoder().encode('nope') }]))).rejects.toThrow(
      /^images dataset: bad\.zip entry "dog\/2\.png": is not a PNG or JPEG file/,
    );
    await expect(load('root.zip', buildZip(fine(['cat/1.png', 'dog/1.png', 'top.png'])))).rejects.toThrow(/^images dataset: root\.zip entry "top\.png": is a file at the root/);
  });
});
