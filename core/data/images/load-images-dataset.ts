import createDebug from 'debug';
import type { Dataset } from '../dataset.ts';
import { assertDataset } from '../dataset.ts';
import { mixSeed, shuffledIndices } from '../seeded-random.ts';
import { resolveDatasetFileSource, type DatasetFileSource } from '../csv/dataset-file-source.ts';
import { MAX_IMAGE_CLASSES, type ImagesSpec } from './images-spec.ts';
import { resolveImageDecoder, sniffImageFormat, type DecodedImage, type ImageDecoder } from './image-decoder.ts';
import { imagesInputError, zipEntryName } from './images-input-error.ts';
import { resizeImage } from './resize.ts';
import { DEFAULT_ZIP_LIMITS, ZipArchive, type ZipEntry, type ZipLimits } from './zip-archive.ts';

const debug = createDebug('crowdtrain:data:images');

/** Most feature values (train + test) an images data set may produce: 2^27 float32 = 512 MiB, as for csv and synthetic data. */
export const MAX_IMAGE_VALUES = 2 ** 27;
/** Most bytes one image file may have. */
export const MAX_IMAGE_FILE_BYTES = 64 * 2 ** 20;
/** Entries a folder or zip may hold besides `max_images` images: the class folders and ignored files. */
export const TREE_SLACK_ENTRIES = 1000;
/** The file name endings read as images (case-insensitive); the format itself is read from the bytes. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;
/** Files skipped wherever they are (compared case-insensitively), besides every name starting with `.`: what Windows leaves in folders. */
export const IGNORED_FILE_NAMES = ['thumbs.db', 'desktop.ini'] as const;

/** What an images data set was made from: what a run records about its data. */
export interface ImagesDatasetInfo {
  /**
   * SHA-256 of the UTF-8 manifest `"<file sha256>  <class>/<name>\n"`, one line per image sorted
   * by its path under the root: the data set's version. A zip and the folder it was made from
   * give the same hash.
   */
  sha256: string;
  /** Images read (train + test). */
  files: number;
  /** The class names (the folder names, sorted by code unit), by class id. */
  classes: string[];
  /** Images whose size was not `image_size`, resampled to it. */
  resized: number;
}

/** The splits of an images data set and its provenance. */
export interface LoadedImagesDataset {
  train: Dataset;
  test: Dataset;
  images: ImagesDatasetInfo;
}

/** What loadImagesDataset reads with (defaults: the installed file source and image decoder, DEFAULT_ZIP_LIMITS). */
export interface LoadImagesOptions {
  files?: DatasetFileSource;
  decoder?: ImageDecoder;
  zipLimits?: Partial<ZipLimits>;
}

/** One image of the data set: its path under the root (`<class>/<name>`) and its class id. */
interface ImageItem {
  rel: string;
  label: number;
}

/** The entries of a folder or zip, relative to its root (folders end in `/`), and how to read a file and name it in errors. */
interface ImageTree {
  entries: string[];
  read(rel: string): Promise<Uint8Array>;
  where(rel: string): string;
}

const IMAGE_NAME = /\.(png|jpe?g)$/i;
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function isHidden(rel: string): boolean {
  return rel.split('/').some((s) => s.startsWith('.'));
}

async function readAll(source: DatasetFileSource, file: string, maxBytes: number, what: string): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let total = 0;
  for await (const piece of source.read(file)) {
    total += piece.byteLength;
    if (total > maxBytes) throw imagesInputError(file, `is more than ${maxBytes} bytes, the most ${what} may have`);
    pieces.push(piece);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

async function folderTree(spec: ImagesSpec, source: DatasetFileSource): Promise<ImageTree> {
  if (!source.listTree) {
    throw imagesInputError(spec.path, "this process's file source cannot list folders (DatasetFileSource.listTree): use installNodeDatasetFiles() in a Node process");
  }
  const root = spec.path.replace(/[\\/]+$/, '');
  const entries = await source.listTree(root, { maxEntries: spec.max_images + TREE_SLACK_ENTRIES });
  const where = (rel: string) => `${root}/${rel}`;
  return { entries, where, read: (rel) => readAll(source, where(rel), MAX_IMAGE_FILE_BYTES, 'an image file') };
}

/** The single folder every entry lies in, if it holds the class folders (a zip made by compressing the root folder itself). */
function commonTopFolder(names: string[]): string | null {
  const first = names[0]?.split('/')[0];
  if (first === undefined || !names.every((n) => n.startsWith(`${first}/`))) return null;
  // Only a folder of class folders: a zip of one class folder stays one class (and is refused as such).
  return names.some((n) => n.split('/').length >= 3 && !n.endsWith('/')) ? `${first}/` : null;
}

async function zipTree(spec: ImagesSpec, source: DatasetFileSource, limits: ZipLimits): Promise<ImageTree> {
  const bytes = await readAll(source, spec.path, limits.maxArchiveBytes, 'a zip file');
  const zip = new ZipArchive(bytes, spec.path, { ...limits, maxEntries: Math.min(limits.maxEntries, spec.max_images + TREE_SLACK_ENTRIES) });
  // macOS's "Compress" adds a __MACOSX/ folder of resource forks next to the data.
  const kept = zip.entries.filter((e) => !isHidden(e.name) && e.name !== '__MACOSX/' && !e.name.startsWith('__MACOSX/'));
  const top = commonTopFolder(kept.map((e) => e.name));
  const byRel = new Map<string, ZipEntry>();
  for (const e of kept) {
    const rel = top === null ? e.name : e.name.slice(top.length);
    if (rel.length > 0) byRel.set(rel, e);
  }
  const entryOf = (rel: string) => byRel.get(rel)!;
  return {
    entries: [...byRel.keys()].sort(byCodeUnit),
    where: (rel) => zipEntryName(spec.path, entryOf(rel).name),
    read: (rel) => {
      const e = entryOf(rel);
      if (e.uncompressedSize > MAX_IMAGE_FILE_BYTES) throw imagesInputError(zipEntryName(spec.path, e.name), `is more than ${MAX_IMAGE_FILE_BYTES} bytes, the most an image file may have`);
      return Promise.resolve(zip.extract(e));
    },
  };
}

/** The classes (sorted by code unit) and the images of each, from the tree's entries; refuses files outside class folders, non-image files, empty classes and too few or too many classes. */
function classify(spec: ImagesSpec, tree: ImageTree): { classes: string[]; items: ImageItem[] } {
  const folders = new Set<string>();
  const files: { rel: string; cls: string }[] = [];
  for (const rel of tree.entries) {
    if (isHidden(rel)) continue;
    const isFolder = rel.endsWith('/');
    const segments = (isFolder ? rel.slice(0, -1) : rel).split('/');
    const cls = segments[0]!;
    if (isFolder) {
      if (segments.length === 1) folders.add(cls);
      continue;
    }
    const base = segments.at(-1)!;
    if ((IGNORED_FILE_NAMES as readonly string[]).includes(base.toLowerCase())) continue;
    if (segments.length === 1) {
      throw imagesInputError(tree.where(rel), 'is a file at the root of the data set: every image must be in a class folder (<root>/<class>/<file>)');
    }
    if (!IMAGE_NAME.test(base)) {
      throw imagesInputError(
        tree.where(rel),
        `is not an image file: a class folder may hold only ${IMAGE_EXTENSIONS.join(', ')} files (names starting with "." are ignored)`,
      );
    }
    folders.add(cls);
    files.push({ rel, cls });
  }
  const classes = [...folders].sort(byCodeUnit);
  if (classes.length < 2) {
    throw imagesInputError(
      spec.path,
      `holds ${classes.length === 0 ? 'no class folder' : `one class folder (${JSON.stringify(classes[0])})`}: a classification data set needs at least 2 (<root>/<class>/<file>)`,
    );
  }
  if (classes.length > MAX_IMAGE_CLASSES) throw imagesInputError(spec.path, `holds ${classes.length} class folders, more than the ${MAX_IMAGE_CLASSES} allowed`);
  const ids = new Map(classes.map((c, i) => [c, i]));
  const counts = new Array<number>(classes.length).fill(0);
  const items = files.map(({ rel, cls }) => {
    const label = ids.get(cls)!;
    counts[label]! += 1;
    return { rel, label };
  });
  const empty = classes.findIndex((_c, i) => counts[i] === 0);
  if (empty >= 0) throw imagesInputError(tree.where(`${classes[empty]}/`), 'is a class folder with no images');
  if (items.length > spec.max_images) throw imagesInputError(spec.path, `holds ${items.length} images, more than max_images ${spec.max_images}`);
  items.sort((a, b) => byCodeUnit(a.rel, b.rel));
  return { classes, items };
}

/**
 * The split of each image: per class, a seeded shuffle of its images (in path order) sends
 * round(test x images of the class) to the test split, so both splits keep the class balance.
 * Returns, per image, its slot: k >= 0 is train sample k, -1 - k test sample k.
 */
function stratifiedSlots(spec: ImagesSpec, items: ImageItem[], numClasses: number): { slots: Int32Array; train: number; test: number } {
  const members: number[][] = Array.from({ length: numClasses }, () => []);
  items.forEach((it, i) => members[it.label]!.push(i));
  const isTest = new Uint8Array(items.length);
  members.forEach((m, c) => {
    const order = shuffledIndices(m.length, mixSeed(spec.split.seed, c));
    const nTest = Math.round(spec.split.test * m.length);
    for (let k = 0; k < nTest; k++) isTest[m[order[k]!]!] = 1;
  });
  const slots = new Int32Array(items.length);
  let train = 0;
  let test = 0;
  for (let i = 0; i < items.length; i++) slots[i] = isTest[i] ? -1 - test++ : train++;
  if (train === 0 || test === 0) {
    throw imagesInputError(spec.path, `split.test ${spec.split.test} of ${items.length} images (per class) leaves ${train} train and ${test} test images: both splits need at least one`);
  }
  return { slots, train, test };
}

/** A decoded image as [h, w, channels] bytes: RGB, or grayscale by ITU-R 601 luminance (PIL's "L": (19595 R + 38470 G + 7471 B + 2^15) >> 16). Alpha is dropped. */
function toChannels(img: DecodedImage, channels: 1 | 3): Uint8Array {
  const n = img.width * img.height;
  const { rgba } = img;
  const out = new Uint8Array(n * channels);
  if (channels === 3) {
    for (let p = 0; p < n; p++) {
      out[3 * p] = rgba[4 * p]!;
      out[3 * p + 1] = rgba[4 * p + 1]!;
      out[3 * p + 2] = rgba[4 * p + 2]!;
    }
  } else {
    for (let p = 0; p < n; p++) out[p] = (19595 * rgba[4 * p]! + 38470 * rgba[4 * p + 1]! + 7471 * rgba[4 * p + 2]! + 32768) >>> 16;
  }
  return out;
}

/** The image at `image_size`, as bytes: resampled in floating point, then rounded to 8 bits (as PIL resizes 8-bit images). */
function fitToSize(px: Uint8Array, width: number, height: number, spec: ImagesSpec): Uint8Array {
  const [h, w] = spec.image_size;
  if (width === w && height === h) return px;
  const resized = resizeImage({ width, height, channels: spec.channels, data: Float32Array.from(px) }, h, w, spec.interpolation).data;
  const out = new Uint8Array(resized.length);
  for (let i = 0; i < resized.length; i++) out[i] = Math.min(255, Math.max(0, Math.round(resized[i]!)));
  return out;
}

function decode(decoder: ImageDecoder, bytes: Uint8Array, where: string): DecodedImage {
  const format = sniffImageFormat(bytes);
  if (format === null) {
    const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw imagesInputError(where, `is not a PNG or JPEG file (it starts with ${head.length > 0 ? `bytes ${head}` : 'nothing: it is empty'})`);
  }
  let img: DecodedImage;
  try {
    img = decoder.decode(bytes, format);
  } catch (cause) {
    throw imagesInputError(where, `cannot be decoded as ${format === 'png' ? 'PNG' : 'JPEG'}: ${(cause as Error).message}`, cause);
  }
  if (!(img.width >= 1 && img.height >= 1) || img.rgba.length !== img.width * img.height * 4) {
    throw imagesInputError(where, `decoded to ${img.width} x ${img.height} pixels with ${img.rgba.length} bytes: not an image`);
  }
  return img;
}

const PIXEL_VALUES = Float32Array.from({ length: 256 }, (_v, p) => p / 255);

/**
 * Loads an images data set: lists the class folders under `spec.path` (a folder, or a `.zip` file
 * read with the defences of ZipArchive), refuses bad layouts before reading any image, splits each
 * class by a seeded shuffle, then reads, hashes, decodes and resizes every image into its split
 * (pixels k/255 in [0, 1], layout [h, w, channels]), and checks the pinned `sha256`.
 * Deterministic: the same files and spec give the same data on every machine. Every problem is a
 * CrowdtrainError('INVALID_CONFIG') naming the file, folder or zip entry; nothing is returned
 * half-built.
 * @example const { train, test, images } = await loadImagesDataset(ImagesSpecSchema.parse({ name: 'images', path: 'data/digits' }));
 */
export async function loadImagesDataset(spec: ImagesSpec, opts: LoadImagesOptions = {}): Promise<LoadedImagesDataset> {
  const source = resolveDatasetFileSource(opts.files);
  const decoder = resolveImageDecoder(opts.decoder);
  const tree = /\.zip$/i.test(spec.path) ? await zipTree(spec, source, { ...DEFAULT_ZIP_LIMITS, ...opts.zipLimits }) : await folderTree(spec, source);
  const { classes, items } = classify(spec, tree);
  const [h, w] = spec.image_size;
  const len = h * w * spec.channels;
  if (items.length * len > MAX_IMAGE_VALUES) {
    throw imagesInputError(spec.path, `${items.length} images of ${h} x ${w} x ${spec.channels} are ${items.length * len} values, more than the ${MAX_IMAGE_VALUES} one in-memory data set may hold: use a smaller image_size or fewer images`);
  }
  const split = stratifiedSlots(spec, items, classes.length);
  const train = { features: new Float32Array(split.train * len), labels: new Uint8Array(split.train) };
  const test = { features: new Float32Array(split.test * len), labels: new Uint8Array(split.test) };
  const manifest: string[] = [];
  let resized = 0;
  for (let i = 0; i < items.length; i++) {
    const { rel, label } = items[i]!;
    const bytes = await tree.read(rel);
    const hasher = source.sha256();
    hasher.update(bytes);
    manifest.push(`${hasher.digestHex()}  ${rel}\n`);
    const img = decode(decoder, bytes, tree.where(rel));
    if (img.width !== w || img.height !== h) resized++;
    const px = fitToSize(toChannels(img, spec.channels), img.width, img.height, spec);
    const slot = split.slots[i]!;
    const into = slot >= 0 ? train : test;
    const k = slot >= 0 ? slot : -1 - slot;
    for (let v = 0; v < len; v++) into.features[k * len + v] = PIXEL_VALUES[px[v]!]!;
    into.labels[k] = label;
  }
  const hasher = source.sha256();
  hasher.update(new TextEncoder().encode(manifest.join('')));
  const sha256 = hasher.digestHex();
  if (spec.sha256 !== undefined && spec.sha256 !== sha256) {
    throw imagesInputError(spec.path, `the images' sha256 is ${sha256}, but the spec pins ${spec.sha256}: the data changed since the run was configured`);
  }
  const inputShape = [h, w, spec.channels];
  const make = (name: string, s: { features: Float32Array; labels: Uint8Array }): Dataset => {
    const ds: Dataset = { name, size: s.labels.length, inputShape: [...inputShape], numClasses: classes.length, features: s.features, labels: s.labels };
    assertDataset(ds);
    return ds;
  };
  debug('images %s: %d images (%d resized), %d classes, %d train / %d test, sha256 %s', spec.path, items.length, resized, classes.length, split.train, split.test, sha256);
  return { train: make('images-train', train), test: make('images-test', test), images: { sha256, files: items.length, classes, resized } };
}
