import { CrowdtrainError } from '../../protocol/errors.ts';

/** Most pixels one image may have (about 33.5 megapixels, 128 MiB as RGBA): larger ones are refused before they are decoded. */
export const MAX_IMAGE_PIXELS = 2 ** 25;

/** The file formats an images data set reads. */
export type ImageFormat = 'png' | 'jpeg';

/** A decoded image: 8-bit RGBA, row-major. */
export interface DecodedImage {
  width: number;
  height: number;
  /** width * height * 4 bytes: R, G, B, A of pixel (y, x) at (y * width + x) * 4. */
  rgba: Uint8Array;
}

/**
 * Turns PNG and JPEG bytes into pixels. core/ does not decode images itself (the decoders are
 * Node code); a Node process installs one (worker-node/node-image-decoder.ts, pngjs and jpeg-js)
 * with installNodeDatasetFiles(), and a browser tab never needs one: it downloads the encoded
 * train split.
 */
export interface ImageDecoder {
  /** Decodes one image of the given format; throws (any error, its message naming the problem) when the bytes are no valid image of it. */
  decode(bytes: Uint8Array, format: ImageFormat): DecodedImage;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * The format a file's first bytes name (the PNG signature, or a JPEG's start-of-image marker
 * FF D8 FF), whatever its extension; null for anything else.
 * @example sniffImageFormat(bytes) // 'png'
 */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/**
 * A PNG's width and height from its IHDR chunk (bytes 16..23), read before decoding so that a
 * small file declaring a huge image is refused without allocating it; null when the header is cut.
 * @example pngDimensions(bytes) // { width: 28, height: 28 }
 */
export function pngDimensions(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 24) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16, false), height: view.getUint32(20, false) };
}

let installed: ImageDecoder | null = null;

/**
 * Sets the decoder images data sets use when their caller passes none; installNodeDatasetFiles()
 * installs the Node one. `null` removes it.
 * @example installImageDecoder(nodeImageDecoder());
 */
export function installImageDecoder(decoder: ImageDecoder | null): void {
  installed = decoder;
}

/** The decoder to use: the given one, else the installed one; throws naming what to do when there is none. */
export function resolveImageDecoder(given?: ImageDecoder): ImageDecoder {
  const decoder = given ?? installed;
  if (!decoder) {
    throw new CrowdtrainError(
      'INVALID_CONFIG',
      'images datasets are decoded from PNG and JPEG files and this process has no image decoder: a Node process installs one with installNodeDatasetFiles() (worker-node/node-dataset-files.ts); a browser tab downloads the encoded train split from the coordinator (GET /api/v1/datasets/train)',
    );
  }
  return decoder;
}
