import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { zipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDataset, parseDatasetSpec } from '../../../../core/data/dataset-spec.ts';
import { classNames, describeDataset } from '../../../../core/data/dataset-profile.ts';
import { ImagesSpecSchema } from '../../../../core/data/images/images-spec.ts';
import { loadImagesDataset } from '../../../../core/data/images/load-images-dataset.ts';
import { installDatasetFileSource } from '../../../../core/data/csv/dataset-file-source.ts';
import { installImageDecoder } from '../../../../core/data/images/image-decoder.ts';
import { nodeDatasetFileSource, installNodeDatasetFiles } from '../../../../worker-node/node-dataset-files.ts';
import { nodeImageDecoder } from '../../../../worker-node/node-image-decoder.ts';
import { grayPng, jpegBytes, pngBytes, solidPng, tempTree, type TempTree } from './image-files.ts';

let tree: TempTree | null = null;
afterEach(() => {
  tree?.cleanup();
  tree = null;
  installDatasetFileSource(null);
  installImageDecoder(null);
});

function folder(files: Record<string, Uint8Array | string>): TempTree {
  tree = tempTree();
  tree.write(files);
  return tree;
}

/** Loads `spec` over the temp dir with the Node file source and decoder. */
function load(spec: Record<string, unknown>, dir = tree!.dir) {
  return loadImagesDataset(ImagesSpecSchema.parse({ name: 'images', path: '.', ...spec }), { files: nodeDatasetFileSource({ baseDir: dir }), decoder: nodeImageDecoder() });
}

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** The hash as docs/datasets.md defines it, from the files on disk: "<sha256>  <class>/<name>\n" per image, sorted by path. */
function manifestSha256(root: string, rels: string[]): string {
  return sha([...rels].sort().map((r) => `${sha(readFileSync(path.join(root, r)))}  ${r}\n`).join(''));
}

describe('loadImagesDataset: decoding', () => {
  it('reads 8-bit grayscale PNGs exactly (k/255), layout [h, w, 1], classes sorted by code unit', async () => {
    // 3 wide, 2 tall: the layout check; classes "B" < "a" < "b" by code unit.
    const values = (base: number) => [base, base + 1, base + 2, base + 10, base + 11, base + 12];
    folder({ 'a/x.png': grayPng(3, 2, values(0)), 'B/x.png': grayPng(3, 2, values(100)), 'b/x.png': grayPng(3, 2, values(200)), 'b/y.png': grayPng(3, 2, values(240)) });
    const { train, test, images } = await load({ image_size: [2, 3], split: { test: 0.3, seed: 1 } });
    expect(images.classes).toEqual(['B', 'a', 'b']);
    expect(images.files).toBe(4);
    expect(images.resized).toBe(0);
    expect(train.inputShape).toEqual([2, 3, 1]);
    const all = [train, test].flatMap((ds) => Array.from({ length: ds.size }, (_, i) => ({ label: ds.labels[i]!, px: Array.from(ds.features.subarray(i * 6, (i + 1) * 6)) })));
    const byFirst = new Map(all.map((s) => [Math.round(s.px[0]! * 255), s]));
    expect(byFirst.get(100)!.label).toBe(0);
    expect(byFirst.get(0)!.label).toBe(1);
    expect(byFirst.get(240)!.label).toBe(2);
    expect(byFirst.get(200)!.px).toEqual(values(200).map((v) => v / 255).map((v) => Math.fround(v)));
  });

  it('reads RGB, RGBA (alpha dropped) and 16-bit PNGs; channels 1 is luminance (ITU-R 601, as PIL), channels 3 is RGB', async () => {
    // The second pixel of the RGBA file is fully transparent: its colour is kept, the alpha dropped (as PIL's convert('RGB')).
    const colour = (alpha: number) => (x: number): [number, number, number, number] => (x === 0 ? [255, 0, 0, 255] : [10, 200, 30, alpha]);
    folder({
      'rgb/a.png': pngBytes(2, 1, colour(255), { colorType: 2 }),
      'rgba/a.png': pngBytes(2, 1, colour(0), { colorType: 6 }),
      'sixteen/a.png': pngBytes(2, 1, colour(255), { colorType: 2, bitDepth: 16 }),
    });
    expect(readFileSync(path.join(tree!.dir, 'sixteen/a.png'))[24]).toBe(16); // IHDR bit depth
    const spec = { image_size: [1, 2], split: { test: 0.5, seed: 1 } };
    // One image per class and test 0.5: round(0.5) = 1 of each class goes to test, none to train.
    await expect(load(spec)).rejects.toThrow(/leaves 0 train and 3 test images/);
    tree!.write({ 'rgb/b.png': pngBytes(2, 1, colour(255)), 'rgba/b.png': pngBytes(2, 1, colour(0)), 'sixteen/b.png': pngBytes(2, 1, colour(255), { bitDepth: 16 }) });
    const rgb = await load({ ...spec, channels: 3 });
    const everything = (ds: typeof rgb.train) => Array.from(ds.features, (v) => Math.round(v * 255));
    const expectedRgb = [255, 0, 0, 10, 200, 30];
    for (const ds of [rgb.train, rgb.test]) {
      expect(ds.inputShape).toEqual([1, 2, 3]);
      for (let i = 0; i < ds.size; i++) expect(everything(ds).slice(i * 6, i * 6 + 6)).toEqual(expectedRgb);
    }
    const gray = await load(spec);
    // (19595 R + 38470 G + 7471 B + 2^15) >> 16: red 255 -> 76, (10, 200, 30) -> 124.
    for (const ds of [gray.train, gray.test]) for (let i = 0; i < ds.size; i++) expect(everything(ds).slice(i * 2, i * 2 + 2)).toEqual([76, 124]);
  });

  it('reads JPEGs (baseline, by content whatever the extension says) close to their colours', async () => {
    const mid = (): [number, number, number, number] => [128, 64, 200, 255];
    folder({ 'c/a.jpg': jpegBytes(8, 8, mid), 'c/b.JPEG': jpegBytes(8, 8, mid), 'd/a.jpeg': jpegBytes(8, 8, () => [0, 0, 0, 255]), 'd/png-named.jpg': solidPng(0, 8) });
    const { train, test } = await load({ image_size: [8, 8], channels: 3, split: { test: 0.5, seed: 2 } });
    for (const ds of [train, test]) {
      for (let i = 0; i < ds.size; i++) {
        const px = Array.from(ds.features.subarray(i * 192, i * 192 + 3), (v) => v * 255);
        const want = ds.labels[i] === 0 ? [128, 64, 200] : [0, 0, 0];
        px.forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThanOrEqual(4));
      }
    }
  });

  it('resizes images of other sizes to image_size (counted in resized), keeping solid colours, and stays 8-bit (k/255)', async () => {
    folder({ 'a/big.png': solidPng(200, 9), 'a/exact.png': solidPng(100, 4), 'b/small.png': solidPng(50, 2), 'b/exact.png': solidPng(10, 4) });
    for (const interpolation of ['bilinear', 'area'] as const) {
      const { train, test, images } = await load({ image_size: [4, 4], interpolation, split: { test: 0.5, seed: 1 } });
      expect(images.resized).toBe(2);
      const values = new Set([...train.features, ...test.features].map((v) => Math.round(v * 255)));
      expect([...values].sort((x, y) => x - y)).toEqual([10, 50, 100, 200]);
      for (const v of [...train.features, ...test.features]) expect(Math.fround(Math.round(v * 255) / 255)).toBe(v);
    }
  });

  it('looks into nested folders of a class; ignores dotfiles, dot-folders, Thumbs.db and desktop.ini', async () => {
    folder({
      'a/1.png': solidPng(1),
      'a/deeper/2.png': solidPng(2),
      'a/.DS_Store': 'junk',
      'a/Thumbs.db': 'junk',
      'b/1.png': solidPng(3),
      'b/desktop.ini': 'junk',
      '.git/objects/x': 'junk',
      '.DS_Store': 'junk',
      '.hidden-class/1.png': solidPng(4),
    });
    const { images, train, test } = await load({ image_size: [4, 4], split: { test: 0.4, seed: 1 } });
    expect(images.classes).toEqual(['a', 'b']);
    expect(images.files).toBe(3);
    expect(train.size + test.size).toBe(3);
  });
});

describe('loadImagesDataset: split and hash', () => {
  const tenPerClass = () => {
    const files: Record<string, Uint8Array> = {};
    for (const c of ['cat', 'dog', 'eel']) for (let i = 0; i < 10; i++) files[`${c}/${String(i).padStart(2, '0')}.png`] = solidPng(i * 20 + c.length);
    return files;
  };

  it('splits each class by a seeded shuffle (round(test x class size) per class), the same on every load', async () => {
    folder(tenPerClass());
    const a = await load({ image_size: [4, 4], split: { test: 0.2, seed: 1 } });
    const b = await load({ image_size: [4, 4], split: { test: 0.2, seed: 1 } });
    const c = await load({ image_size: [4, 4], split: { test: 0.2, seed: 2 } });
    expect([a.train.size, a.test.size]).toEqual([24, 6]);
    const perClass = (labels: Uint8Array) => [0, 1, 2].map((k) => labels.filter((l) => l === k).length);
    expect(perClass(a.test.labels)).toEqual([2, 2, 2]);
    expect(perClass(a.train.labels)).toEqual([8, 8, 8]);
    expect(b.test.features).toEqual(a.test.features);
    expect(b.train.labels).toEqual(a.train.labels);
    expect(c.test.features).not.toEqual(a.test.features);
  });

  it('hashes the sorted "<file sha256>  <class>/<name>" manifest; a changed byte or name changes it; sha256 pins it', async () => {
    const t = folder(tenPerClass());
    const rels = Object.keys(tenPerClass());
    const first = await load({ image_size: [4, 4] });
    expect(first.images.sha256).toBe(manifestSha256(t.dir, rels));
    expect((await load({ image_size: [4, 4], sha256: first.images.sha256 })).images.sha256).toBe(first.images.sha256);
    // Another image size or split changes the features but not the files' hash.
    expect((await load({ image_size: [2, 2], split: { test: 0.5, seed: 9 } })).images.sha256).toBe(first.images.sha256);

    renameSync(path.join(t.dir, 'cat/00.png'), path.join(t.dir, 'cat/99.png'));
    const renamed = await load({ image_size: [4, 4] });
    expect(renamed.images.sha256).not.toBe(first.images.sha256);
    writeFileSync(path.join(t.dir, 'cat/99.png'), solidPng(7));
    const changed = await load({ image_size: [4, 4] });
    expect(changed.images.sha256).not.toBe(renamed.images.sha256);
    await expect(load({ image_size: [4, 4], sha256: first.images.sha256 })).rejects.toThrow(
      new RegExp(`^images dataset: \\.: the images' sha256 is ${changed.images.sha256}, but the spec pins ${first.images.sha256}: the data changed`),
    );
  });

  it('a zip of the folder (with or without one top-level folder, __MACOSX ignored) gives the same data and hash', async () => {
    const files = tenPerClass();
    const t = folder(files);
    const fromFolder = await load({ path: '.', image_size: [4, 4] });
    const nest = (prefix: string) => Object.fromEntries(Object.entries(files).map(([k, v]) => [`${prefix}${k}`, v]));
    writeFileSync(path.join(t.dir, 'flat.zip'), zipSync(files));
    writeFileSync(path.join(t.dir, 'nested.zip'), zipSync({ ...nest('pets/'), '__MACOSX/pets/._cat': new Uint8Array(3) }));
    for (const zip of ['flat.zip', 'nested.zip']) {
      const fromZip = await load({ path: zip, image_size: [4, 4] });
      expect(fromZip.images).toEqual(fromFolder.images);
      expect(fromZip.train.features).toEqual(fromFolder.train.features);
      expect(fromZip.test.labels).toEqual(fromFolder.test.labels);
    }
  });
});

describe('loadDataset({ name: "images" })', () => {
  it('loads through the installed Node file source and decoder; classNames and describeDataset name the folders', async () => {
    const t = folder({ 'no/1.png': solidPng(0), 'no/2.png': solidPng(1), 'yes/1.png': solidPng(255), 'yes/2.png': solidPng(254), 'yes/3.png': solidPng(253) });
    installNodeDatasetFiles({ baseDir: t.dir });
    const spec = parseDatasetSpec({ name: 'images', path: '.', image_size: [4, 4], split: { test: 0.4 } });
    expect(spec).toMatchObject({ channels: 1, interpolation: 'bilinear', max_images: 100000, split: { test: 0.4, seed: 1 } });
    const loaded = await loadDataset(spec);
    expect(classNames(loaded)).toEqual(['no', 'yes']);
    const d = describeDataset(spec, loaded);
    expect(d.sourceType).toBe('local');
    expect(d.source).toEqual({ path: '.', files: 5 });
    expect(d.profile.classes).toEqual([
      { name: 'no', train: 1, test: 1 },
      { name: 'yes', train: 2, test: 1 },
    ]);
    expect(d.schema).toEqual({ input_shape: [4, 4, 1], num_classes: 2 });
  });

  it('validates the spec strictly', () => {
    expect(() => parseDatasetSpec({ name: 'images', path: 'x', channels: 2 })).toThrow(/channels/);
    expect(() => parseDatasetSpec({ name: 'images', path: 'x', image_size: [28] })).toThrow(/image_size/);
    expect(() => parseDatasetSpec({ name: 'images', path: 'x', labels: 'y' })).toThrow(/labels/);
    expect(() => parseDatasetSpec({ name: 'images', path: 'x', sha256: 'ABC' })).toThrow(/64 lowercase hex/);
    expect(ImagesSpecSchema.parse({ name: 'images', path: 'x' }).image_size).toEqual([28, 28]);
  });
});
