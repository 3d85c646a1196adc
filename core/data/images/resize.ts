import { CrowdtrainError } from '../../protocol/errors.ts';

/** An image as row-major float values, layout [height, width, channels]. */
export interface PixelGrid {
  width: number;
  height: number;
  channels: number;
  /** height * width * channels values; pixel (y, x) channel c at (y * width + x) * channels + c. */
  data: Float32Array;
}

/** How {@link resizeImage} resamples. */
export type ResizeMethod = 'bilinear' | 'area';

function checkGrid(img: PixelGrid): void {
  const { width, height, channels, data } = img;
  if (![width, height, channels].every((d) => Number.isSafeInteger(d) && d >= 1) || data.length !== width * height * channels) {
    throw new CrowdtrainError('INVALID_MESSAGE', `image of ${width} x ${height} x ${channels} has ${data.length} values`);
  }
}

/**
 * Source sample positions of bilinear resampling along one axis, with half-pixel centres (output
 * pixel i samples the input at (i + 0.5) * in / out - 0.5, clamped to the edge pixels): the
 * convention of tf.image.resize (`half_pixel_centers`), PIL and OpenCV.
 */
function bilinearTaps(inSize: number, outSize: number): { lo: Uint32Array; hi: Uint32Array; frac: Float64Array } {
  const lo = new Uint32Array(outSize);
  const hi = new Uint32Array(outSize);
  const frac = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const s = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), inSize - 1);
    const l = Math.floor(s);
    lo[i] = l;
    hi[i] = Math.min(l + 1, inSize - 1);
    frac[i] = s - l;
  }
  return { lo, hi, frac };
}

function resizeBilinear(img: PixelGrid, outH: number, outW: number): Float32Array {
  const { width, channels: c, data } = img;
  const ys = bilinearTaps(img.height, outH);
  const xs = bilinearTaps(width, outW);
  const out = new Float32Array(outH * outW * c);
  for (let y = 0; y < outH; y++) {
    const r0 = ys.lo[y]! * width;
    const r1 = ys.hi[y]! * width;
    const fy = ys.frac[y]!;
    for (let x = 0; x < outW; x++) {
      const x0 = xs.lo[x]!;
      const x1 = xs.hi[x]!;
      const fx = xs.frac[x]!;
      for (let k = 0; k < c; k++) {
        const top = data[(r0 + x0) * c + k]! * (1 - fx) + data[(r0 + x1) * c + k]! * fx;
        const bottom = data[(r1 + x0) * c + k]! * (1 - fx) + data[(r1 + x1) * c + k]! * fx;
        out[(y * outW + x) * c + k] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

/** Per output pixel along one axis: the input pixels its box [i * in / out, (i + 1) * in / out) covers, with the covered fraction of each. */
function areaWeights(inSize: number, outSize: number): { start: Uint32Array; weights: Float64Array[] } {
  const start = new Uint32Array(outSize);
  const weights: Float64Array[] = [];
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    const a = i * scale;
    const b = (i + 1) * scale;
    const first = Math.floor(a);
    const last = Math.min(Math.ceil(b), inSize);
    const w = new Float64Array(last - first);
    for (let p = first; p < last; p++) w[p - first] = (Math.min(b, p + 1) - Math.max(a, p)) / scale;
    start[i] = first;
    weights.push(w);
  }
  return { start, weights };
}

function resizeArea(img: PixelGrid, outH: number, outW: number): Float32Array {
  const { width, channels: c, data } = img;
  const ys = areaWeights(img.height, outH);
  const xs = areaWeights(width, outW);
  const out = new Float32Array(outH * outW * c);
  const acc = new Float64Array(c);
  for (let y = 0; y < outH; y++) {
    const wy = ys.weights[y]!;
    for (let x = 0; x < outW; x++) {
      const wx = xs.weights[x]!;
      acc.fill(0);
      for (let j = 0; j < wy.length; j++) {
        const row = (ys.start[y]! + j) * width;
        for (let i = 0; i < wx.length; i++) {
          const w = wy[j]! * wx[i]!;
          const base = (row + xs.start[x]! + i) * c;
          for (let k = 0; k < c; k++) acc[k]! += w * data[base + k]!;
        }
      }
      for (let k = 0; k < c; k++) out[(y * outW + x) * c + k] = acc[k]!;
    }
  }
  return out;
}

/**
 * Resamples an image to `outH` x `outW` (channels kept). `bilinear`: each output pixel
 * interpolates the 4 nearest input pixels at its half-pixel-centred position, as
 * `tf.image.resize(method='bilinear')` (no antialiasing, so strong downscaling aliases);
 * `area`: each output pixel is the mean of the input area it covers (fractional pixels weighted),
 * as OpenCV's INTER_AREA, the better choice for shrinking. The same size returns a copy.
 * @example resizeImage({ width: 2, height: 1, channels: 1, data: Float32Array.of(0, 1) }, 1, 4, 'bilinear').data // [0, 0.25, 0.75, 1]
 */
export function resizeImage(img: PixelGrid, outH: number, outW: number, method: ResizeMethod): PixelGrid {
  checkGrid(img);
  if (![outH, outW].every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw new CrowdtrainError('INVALID_CONFIG', `cannot resize to ${outH} x ${outW}: need positive integer sides`);
  }
  const data =
    outH === img.height && outW === img.width
      ? img.data.slice()
      : method === 'area'
        ? resizeArea(img, outH, outW)
        : resizeBilinear(img, outH, outW);
  return { width: outW, height: outH, channels: img.channels, data };
}
