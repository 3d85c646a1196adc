import { decode as decodeJpegBytes } from 'jpeg-js';
import { PNG } from 'pngjs';
import { MAX_IMAGE_PIXELS, pngDimensions, type DecodedImage, type ImageDecoder, type ImageFormat } from '../core/data/images/image-decoder.ts';

/** Memory jpeg-js may use for one image's decoding buffers. */
const JPEG_MAX_MEMORY_MB = 512;

function asRgba(width: number, height: number, data: Uint8Array): DecodedImage {
  if (data.length !== width * height * 4) throw new Error(`decoded to ${data.length} bytes, expected ${width} x ${height} x 4`);
  return { width, height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function decodePng(bytes: Uint8Array): DecodedImage {
  const dims = pngDimensions(bytes);
  if (dims && dims.width * dims.height > MAX_IMAGE_PIXELS) {
    throw new Error(`the PNG declares ${dims.width} x ${dims.height} pixels, more than the ${MAX_IMAGE_PIXELS} one image may have`);
  }
  // pngjs reads every colour type, bit depth and interlacing, checks the chunk CRCs and returns 8-bit RGBA.
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return asRgba(png.width, png.height, png.data);
}

function decodeJpeg(bytes: Uint8Array): DecodedImage {
  // Not tolerant: a truncated or damaged scan is refused (as PIL does by default), not filled in.
  const img = decodeJpegBytes(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    tolerantDecoding: false,
    maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
    maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB,
  });
  return asRgba(img.width, img.height, img.data);
}

/**
 * The Node image decoder: PNG through pngjs, JPEG (baseline and progressive) through jpeg-js,
 * both pure JavaScript; images of more than MAX_IMAGE_PIXELS pixels are refused before their
 * pixels are allocated.
 * @example const { width, height, rgba } = nodeImageDecoder().decode(bytes, 'png');
 */
export function nodeImageDecoder(): ImageDecoder {
  return {
    decode(bytes: Uint8Array, format: ImageFormat): DecodedImage {
      return format === 'png' ? decodePng(bytes) : decodeJpeg(bytes);
    },
  };
}
