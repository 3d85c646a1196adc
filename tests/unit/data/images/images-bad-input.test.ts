import { afterEach, describe, expect, it } from 'vitest';
import { CrowdtrainError } from '../../../../core/protocol/errors.ts';
import { ImagesSpecSchema } from '../../../../core/data/images/images-spec.ts';
import { loadImagesDataset } from '../../../../core/data/images/load-images-dataset.ts';
import type { DatasetFileSource } from '../../../../core/data/csv/dataset-file-source.ts';
import { nodeDatasetFileSource } from '../../../../worker-node/node-dataset-files.ts';
import { nodeImageDecoder } from '../../../../worker-node/node-image-decoder.ts';
import { jpegBytes, solidPng, tempTree, type TempTree } from './image-files.ts';

let tree: TempTree | null = null;
afterEach(() => {
  tree?.cleanup();
  tree = null;
});

function folder(files: Record<string, Uint8Array | string>): TempTree {
  tree = tempTree();
  tree.write(files);
  return tree;
}

const spec = (extra: Record<string, unknown> = {}) => ImagesSpecSchema.parse({ name: 'images', path: 'digits', image_size: [4, 4], ...extra });

function load(extra: Record<string, unknown> = {}, files: DatasetFileSource = nodeDatasetFileSource({ baseDir: tree!.dir })) {
  return loadImagesDataset(spec(extra), { files, decoder: nodeImageDecoder() });
}

/** Expects loading to fail with CrowdtrainError('INVALID_CONFIG') whose message matches. */
async function refused(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrowdtrainError);
  expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
  expect((err as Error).message).toMatch(message);
}

const twoClasses = {
  'digits/0/a.png': solidPng(0),
  'digits/0/b.png': solidPng(1),
  'digits/0/c.png': solidPng(2),
  'digits/1/a.png': solidPng(3),
  'digits/1/b.png': solidPng(4),
  'digits/1/c.png': solidPng(5),
};

describe('an images data set refuses bad input, naming the file', () => {
  it('loads the good layout these tests break', async () => {
    folder(twoClasses);
    expect((await load()).images.files).toBe(6);
  });

  it('a file without an image extension in a class folder', async () => {
    folder({ ...twoClasses, 'digits/1/notes.txt': 'hello' });
    await refused(load(), /^images dataset: digits\/1\/notes\.txt: is not an image file: a class folder may hold only \.png, \.jpg, \.jpeg files/);
  });

  it('an empty class folder (or one holding only ignored files)', async () => {
    folder({ ...twoClasses, 'digits/2/': '' });
    await refused(load(), /^images dataset: digits\/2\/: is a class folder with no images/);
    tree!.write({ 'digits/2/.DS_Store': 'junk', 'digits/2/sub/': '' });
    await refused(load(), /^images dataset: digits\/2\/: is a class folder with no images/);
  });

  it('only one class, or none', async () => {
    folder({ 'digits/0/a.png': solidPng(0), 'digits/0/b.png': solidPng(1) });
    await refused(load(), /^images dataset: digits: holds one class folder \("0"\): a classification data set needs at least 2/);
    folder({ 'digits/.keep': '' });
    await refused(load(), /^images dataset: digits: holds no class folder/);
  });

  it('more than 256 classes', async () => {
    const files: Record<string, Uint8Array> = {};
    const png = solidPng(9, 1);
    for (let c = 0; c < 257; c++) files[`digits/c${c}/a.png`] = png;
    folder(files);
    await refused(load(), /^images dataset: digits: holds 257 class folders, more than the 256 allowed/);
  });

  it('a file at the root, not in a class folder', async () => {
    folder({ ...twoClasses, 'digits/stray.png': solidPng(5) });
    await refused(load(), /^images dataset: digits\/stray\.png: is a file at the root of the data set: every image must be in a class folder/);
  });

  it('an image file that is no image, an empty one, a truncated PNG, a damaged JPEG', async () => {
    folder({ ...twoClasses, 'digits/1/c.png': 'GIF89a this is not a png' });
    await refused(load(), /^images dataset: digits\/1\/c\.png: is not a PNG or JPEG file \(it starts with bytes 47 49 46 38 39 61 20 74\)/);
    tree!.write({ 'digits/1/c.png': '' });
    await refused(load(), /^images dataset: digits\/1\/c\.png: is not a PNG or JPEG file \(it starts with nothing: it is empty\)/);
    const png = solidPng(7, 16);
    tree!.write({ 'digits/1/c.png': png.subarray(0, png.length - 20) });
    await refused(load(), /^images dataset: digits\/1\/c\.png: cannot be decoded as PNG: /);
    const bad = Buffer.from(png);
    bad[40] = bad[40]! ^ 0xff; // inside IDAT: the chunk CRC no longer matches
    tree!.write({ 'digits/1/c.png': bad });
    await refused(load(), /^images dataset: digits\/1\/c\.png: cannot be decoded as PNG: /);
    const jpeg = jpegBytes(16, 16, (x, y) => [x * 16, y * 16, 0, 255]);
    tree!.write({ 'digits/1/c.png': solidPng(1), 'digits/1/d.jpg': jpeg.subarray(0, Math.floor(jpeg.length / 2)) });
    await refused(load(), /^images dataset: digits\/1\/d\.jpg: cannot be decoded as JPEG: /);
  });

  it('a PNG declaring a huge image, before its pixels are allocated', async () => {
    const png = Buffer.from(solidPng(7, 16));
    png.writeUInt32BE(50_000, 16); // IHDR width
    png.writeUInt32BE(50_000, 20); // IHDR height
    folder({ ...twoClasses, 'digits/1/huge.png': png });
    await refused(load(), /^images dataset: digits\/1\/huge\.png: cannot be decoded as PNG: the PNG declares 50000 x 50000 pixels, more than the 33554432/);
  });

  it('more images than max_images, before any is decoded', async () => {
    folder({ ...twoClasses, 'digits/1/d.png': 'not even an image' });
    await refused(load({ max_images: 6 }), /^images dataset: digits: holds 7 images, more than max_images 6/);
  });

  it('more input values than one in-memory data set may hold', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 44; i++) files[`digits/${i % 2}/${i}.png`] = solidPng(i, 1);
    folder(files);
    await refused(load({ image_size: [1024, 1024], channels: 3 }), /^images dataset: digits: 44 images of 1024 x 1024 x 3 are 138412032 values, more than the 134217728/);
  });

  it('a split that leaves the test side empty', async () => {
    folder(twoClasses);
    await refused(load({ split: { test: 0.1, seed: 1 } }), /^images dataset: digits: split\.test 0\.1 of 6 images \(per class\) leaves 6 train and 0 test images/);
  });

  it('a missing folder, a file given as the folder, a source that cannot list folders', async () => {
    folder(twoClasses);
    await refused(load({ path: 'nowhere' }), /^dataset folder "nowhere": cannot list it \(ENOENT/);
    await refused(load({ path: 'digits/0/a.png' }), /^dataset folder "digits\/0\/a\.png": is not a folder/);
    const noTree: DatasetFileSource = { ...nodeDatasetFileSource({ baseDir: tree!.dir }), listTree: undefined };
    await refused(load({}, noTree), /^images dataset: digits: this process's file source cannot list folders/);
    await refused(load({ path: 'missing.zip' }), /^dataset file "missing\.zip": cannot read it \(ENOENT/);
  });
});
