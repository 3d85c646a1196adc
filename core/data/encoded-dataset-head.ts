import { CrowdtrainError } from '../protocol/errors.ts';

// The layout written by encodeDataset (core/data/dataset.ts), format version 1: a 20-byte fixed
// header (magic, version, feature encoding, rank, size, classes, name length), the input dims
// (uint32 each), the name, padding to 4 bytes, then every sample's features, then every label.
const MAGIC = 0x53445443;
const FORMAT_VERSION = 1;
const ENCODING_FLOAT32 = 0;
const ENCODING_UINT8 = 1;
const FIXED_HEADER_BYTES = 20;
const SIZE_OFFSET = 8;

/** Where the parts of one encoded data set lie in its bytes. */
interface EncodedLayout {
  header: number;
  size: number;
  bytesPerSample: number;
}

function layoutOf(encoded: Uint8Array): EncodedLayout {
  const fail = (msg: string): never => {
    throw new CrowdtrainError('INVALID_MESSAGE', `encoded dataset: ${msg}`);
  };
  if (encoded.byteLength < FIXED_HEADER_BYTES) fail(`${encoded.byteLength} bytes is shorter than the ${FIXED_HEADER_BYTES}-byte header`);
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  if (view.getUint32(0, true) !== MAGIC) fail('magic is not "CTDS"');
  if (view.getUint8(4) !== FORMAT_VERSION) fail(`format version ${view.getUint8(4)}, expected ${FORMAT_VERSION}`);
  const encoding = view.getUint8(5);
  if (encoding !== ENCODING_FLOAT32 && encoding !== ENCODING_UINT8) fail(`unknown feature encoding ${encoding}`);
  const rank = view.getUint8(6);
  const size = view.getUint32(SIZE_OFFSET, true);
  const nameLength = view.getUint32(16, true);
  const headerRaw = FIXED_HEADER_BYTES + 4 * rank + nameLength;
  if (encoded.byteLength < headerRaw) fail(`${encoded.byteLength} bytes is shorter than the ${headerRaw}-byte header`);
  let values = 1;
  for (let k = 0; k < rank; k++) values *= view.getUint32(FIXED_HEADER_BYTES + 4 * k, true);
  const header = Math.ceil(headerRaw / 4) * 4;
  const bytesPerSample = values * (encoding === ENCODING_UINT8 ? 1 : 4);
  if (encoded.byteLength !== header + size * (bytesPerSample + 1)) fail(`${encoded.byteLength} bytes do not hold ${size} samples of ${bytesPerSample} bytes`);
  return { header, size, bytesPerSample };
}

/**
 * The encoding of the first `count` samples of a data set, cut from the encoding of the whole set
 * (bytes written by encodeDataset) without decoding or re-encoding anything: a fresh header with
 * the new size, then views of the first `count` samples' features and of their labels. Costs the
 * header's bytes whatever `count` is; the chunks, sent in order, decode to
 * `datasetHead(decodeDataset(encoded), count)`. They are byte for byte
 * `encodeDataset(datasetHead(ds, count))` when `encoded` stores one byte per value (a set of exact
 * k/255 pixels, such as MNIST: any head of it is pixels too); a float32 encoding stays float32 even
 * where a head alone would qualify for one byte per value. Throws CrowdtrainError('INVALID_CONFIG')
 * when `count` is not an integer in [0, size], 'INVALID_MESSAGE' when `encoded` is not such bytes.
 * @example const chunks = encodedDatasetHead(encodeDataset(mnistTrain), 2000); for (const c of chunks) res.write(c);
 */
export function encodedDatasetHead(encoded: Uint8Array, count: number): Uint8Array[] {
  const { header, size, bytesPerSample } = layoutOf(encoded);
  if (!Number.isSafeInteger(count) || count < 0 || count > size) {
    throw new CrowdtrainError('INVALID_CONFIG', `cannot take ${count} samples of an encoded dataset of size ${size}`);
  }
  if (count === size) return [encoded];
  const head = encoded.slice(0, header);
  new DataView(head.buffer).setUint32(SIZE_OFFSET, count, true);
  const labels = header + size * bytesPerSample;
  return [head, encoded.subarray(header, header + count * bytesPerSample), encoded.subarray(labels, labels + count)];
}
