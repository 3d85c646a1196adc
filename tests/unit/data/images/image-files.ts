/** Image files for the images data set tests: PNGs written with pngjs, JPEGs with jpeg-js, folder trees in a temp dir. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG, type PackerOptions } from 'pngjs';

/** An RGBA colour, each 0..255. */
export type Rgba = [number, number, number, number];

function rgbaOf(width: number, height: number, pixel: (x: number, y: number) => Rgba): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 4);
  }
  return data;
}

/** A PNG of `pixel(x, y)`; `opts` picks the stored colour type and bit depth (default: 8-bit RGBA; 16-bit stores each value v as v * 257). */
export function pngBytes(width: number, height: number, pixel: (x: number, y: number) => Rgba, opts: PackerOptions = {}): Buffer {
  const png = new PNG({ width, height });
  const rgba = rgbaOf(width, height, pixel);
  // pngjs packs 16-bit PNGs from 16-bit input values.
  png.data = opts.bitDepth === 16 ? Buffer.from(Uint16Array.from(rgba, (v) => v * 257).buffer) : rgba;
  return PNG.sync.write(png, opts);
}

/** An 8-bit grayscale PNG of row-major values 0..255. */
export function grayPng(width: number, height: number, values: ArrayLike<number>): Buffer {
  return pngBytes(width, height, (x, y) => {
    const v = values[y * width + x]!;
    return [v, v, v, 255];
  }, { colorType: 0 });
}

/** A baseline JPEG of `pixel(x, y)` (alpha ignored). */
export function jpegBytes(width: number, height: number, pixel: (x: number, y: number) => Rgba, quality = 95): Buffer {
  return encodeJpeg({ width, height, data: rgbaOf(width, height, pixel) }, quality).data;
}

/** A temp dir for one test; `cleanup` removes it. */
export interface TempTree {
  dir: string;
  /** Writes files at paths relative to `dir` (parent folders made); a name ending in `/` makes an empty folder. */
  write(files: Record<string, Uint8Array | string>): void;
  cleanup(): void;
}

/** Makes a temp dir for a test. */
export function tempTree(prefix = 'ct-images-'): TempTree {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    dir,
    write(files) {
      for (const [rel, content] of Object.entries(files)) {
        const abs = path.join(dir, rel);
        if (rel.endsWith('/')) {
          mkdirSync(abs, { recursive: true });
          continue;
        }
        mkdirSync(path.dirname(abs), { recursive: true });
        writeFileSync(abs, content);
      }
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A solid-colour gray square PNG (value v), for layout tests. */
export function solidPng(v: number, side = 4): Buffer {
  return grayPng(side, side, new Array<number>(side * side).fill(v));
}
