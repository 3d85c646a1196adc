import { Inflate } from 'fflate';
import { imagesInputError, zipEntryName } from './images-input-error.ts';

/** What a zip file may hold: every limit is checked on the sizes the archive declares before anything is inflated, and inflation stops as soon as an entry passes its declared size. */
export interface ZipLimits {
  /** Most bytes the zip file itself may have (it is held in memory while it is read). */
  maxArchiveBytes: number;
  /** Most entries (files and folders). */
  maxEntries: number;
  /** Most bytes all entries may inflate to together. */
  maxTotalBytes: number;
  /** Most bytes one entry may inflate to. */
  maxEntryBytes: number;
  /** Highest uncompressed / compressed ratio of an entry of more than {@link ZIP_RATIO_FLOOR_BYTES}. */
  maxRatio: number;
}

/** Entries up to this size are not judged by their compression ratio (they are too small to be a bomb). */
export const ZIP_RATIO_FLOOR_BYTES = 1 << 20;

/** The limits of a zip file unless a caller sets others: 1 GiB in all, 64 MiB an entry, 200:1. */
export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxArchiveBytes: 2 ** 30,
  maxEntries: 200_000,
  maxTotalBytes: 2 ** 30,
  maxEntryBytes: 64 * 2 ** 20,
  maxRatio: 200,
};

/** Compressed bytes handed to the inflater at a time, so that an entry overshoots its declared size by at most about 1,032 times this before it is stopped. */
const INFLATE_CHUNK_BYTES = 4096;

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_BYTES = 22;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

/** One entry of a zip file's central directory. */
export interface ZipEntry {
  /** The entry's path inside the archive, `/`-separated; folders end in `/`. */
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * The CRC-32 of zip files (IEEE 802.3, reflected, as zlib's crc32).
 * @example crc32(new TextEncoder().encode('123456789')) // 0xcbf43926
 */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Why an entry name may not be extracted, or null when it is a plain relative path: absolute
 * names (`/x`, `C:x`), backslashes, `.` / `..` or empty segments and control characters would
 * let an archive name files outside the folder it stands for.
 * @example unsafeEntryName('../x.png') // 'has a ".." segment: ...'
 */
export function unsafeEntryName(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (name.includes('\\')) return 'holds a backslash: zip entry names use "/" only, and a "\\" could name a path outside the archive on Windows';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'is an absolute path: entries must be relative to the archive';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'holds a control character';
  const segments = (name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  if (segments.includes('..')) return 'has a ".." segment: it would name a path outside the archive';
  if (segments.some((s) => s === '' || s === '.')) return 'has an empty or "." segment';
  return null;
}

/**
 * A zip file held in memory, read through its central directory with the defences of
 * {@link ZipLimits}: entry names that could leave the archive, encrypted, ZIP64, multi-disk and
 * overlapping entries, compression methods other than stored and deflate, and archives whose
 * declared sizes pass the limits are refused when it is opened, naming the archive or entry;
 * {@link ZipArchive.extract} refuses an entry as soon as it inflates past its declared size and
 * checks its CRC-32. Every error is CrowdtrainError('INVALID_CONFIG').
 * @example const zip = new ZipArchive(bytes, 'data/digits.zip'); for (const e of zip.entries) use(zip.extract(e));
 */
export class ZipArchive {
  /** The entries in central-directory order. */
  readonly entries: readonly ZipEntry[];
  private readonly view: DataView;
  private cdOffset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    /** The archive's path, for error messages. */
    private readonly where: string,
    private readonly limits: ZipLimits = DEFAULT_ZIP_LIMITS,
  ) {
    if (bytes.length > limits.maxArchiveBytes) throw this.fail(`is ${bytes.length} bytes, more than the ${limits.maxArchiveBytes} a zip file may have`);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.entries = this.readCentralDirectory();
  }

  private fail(problem: string, entry?: string): Error {
    return imagesInputError(entry === undefined ? this.where : zipEntryName(this.where, entry), problem);
  }

  private u16(at: number): number {
    return this.view.getUint16(at, true);
  }

  private u32(at: number): number {
    return this.view.getUint32(at, true);
  }

  private findEndOfCentralDirectory(): number {
    const lowest = Math.max(0, this.bytes.length - EOCD_BYTES - 0xffff);
    for (let at = this.bytes.length - EOCD_BYTES; at >= lowest; at--) {
      if (this.u32(at) === EOCD_SIGNATURE) return at;
    }
    throw this.fail('is not a zip file (no end-of-central-directory record)');
  }

  private readCentralDirectory(): ZipEntry[] {
    const eocd = this.findEndOfCentralDirectory();
    const count = this.u16(eocd + 10);
    const cdSize = this.u32(eocd + 12);
    const cdOffset = this.u32(eocd + 16);
    if (this.u16(eocd + 4) !== 0 || this.u16(eocd + 6) !== 0 || this.u16(eocd + 8) !== count) throw this.fail('spans several disks, which is not read');
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff || (eocd >= 20 && this.u32(eocd - 20) === ZIP64_LOCATOR_SIGNATURE)) {
      throw this.fail('is a ZIP64 archive (over 65,535 entries or 4 GiB), which is not read: write a smaller zip or use the folder');
    }
    if (count > this.limits.maxEntries) throw this.fail(`has ${count} entries, more than the ${this.limits.maxEntries} allowed`);
    if (cdOffset + cdSize > eocd) throw this.fail('is damaged: its central directory runs past the end of the file');
    this.cdOffset = cdOffset;
    const entries: ZipEntry[] = [];
    const names = new Set<string>();
    let at = cdOffset;
    let declaredTotal = 0;
    for (let i = 0; i < count; i++) {
      if (at + CENTRAL_BYTES > cdOffset + cdSize || this.u32(at) !== CENTRAL_SIGNATURE) throw this.fail(`is damaged: central directory entry ${i} is cut or has a bad signature`);
      const flags = this.u16(at + 8);
      const nameLength = this.u16(at + 28);
      const end = at + CENTRAL_BYTES + nameLength + this.u16(at + 30) + this.u16(at + 32);
      if (end > cdOffset + cdSize) throw this.fail(`is damaged: central directory entry ${i} runs past the directory`);
      let name: string;
      try {
        name = utf8.decode(this.bytes.subarray(at + CENTRAL_BYTES, at + CENTRAL_BYTES + nameLength));
      } catch (cause) {
        throw imagesInputError(this.where, `entry ${i}'s name is not UTF-8`, cause);
      }
      const entry: ZipEntry = {
        name,
        method: this.u16(at + 10),
        crc32: this.u32(at + 16),
        compressedSize: this.u32(at + 20),
        uncompressedSize: this.u32(at + 24),
        localHeaderOffset: this.u32(at + 42),
      };
      const unsafe = unsafeEntryName(name);
      if (unsafe) throw this.fail(`the name ${unsafe}`, name);
      if (names.has(name)) throw this.fail('appears twice in the archive', name);
      names.add(name);
      if (flags & 1) throw this.fail('is encrypted, which is not read', name);
      if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) throw this.fail(`uses compression method ${entry.method}: only stored (0) and deflate (8) are read`, name);
      this.checkDeclaredSize(entry);
      declaredTotal += entry.uncompressedSize;
      if (declaredTotal > this.limits.maxTotalBytes) {
        throw this.fail(`the entries up to this one declare ${declaredTotal} uncompressed bytes, more than the ${this.limits.maxTotalBytes} a zip file may inflate to`, name);
      }
      entries.push(entry);
      at = end;
    }
    this.checkNoOverlap(entries, cdOffset);
    return entries;
  }

  private checkDeclaredSize(e: ZipEntry): void {
    const { maxEntryBytes, maxRatio } = this.limits;
    if (e.uncompressedSize > maxEntryBytes) throw this.fail(`declares ${e.uncompressedSize} uncompressed bytes, more than the ${maxEntryBytes} one entry may have`, e.name);
    if (e.method === METHOD_STORED && e.compressedSize !== e.uncompressedSize) throw this.fail(`is stored but declares ${e.compressedSize} stored and ${e.uncompressedSize} uncompressed bytes`, e.name);
    if (e.uncompressedSize > ZIP_RATIO_FLOOR_BYTES && e.uncompressedSize > maxRatio * e.compressedSize) {
      throw this.fail(
        `declares ${e.uncompressedSize} uncompressed bytes from ${e.compressedSize} compressed (a ratio of ${Math.round(e.uncompressedSize / Math.max(e.compressedSize, 1))}:1, more than the ${maxRatio}:1 allowed): a zip bomb?`,
        e.name,
      );
    }
  }

  /** Where an entry's data lies: after its local header, before the central directory. */
  private dataRange(e: ZipEntry, cdOffset: number): { start: number; end: number } {
    const at = e.localHeaderOffset;
    if (at + LOCAL_BYTES > cdOffset || this.u32(at) !== LOCAL_SIGNATURE) throw this.fail('is damaged: its local header is missing', e.name);
    const nameLength = this.u16(at + 26);
    const start = at + LOCAL_BYTES + nameLength + this.u16(at + 28);
    const end = start + e.compressedSize;
    if (end > cdOffset) throw this.fail('is damaged: its data runs past the central directory', e.name);
    const localName = this.bytes.subarray(at + LOCAL_BYTES, at + LOCAL_BYTES + nameLength);
    const centralName = new TextEncoder().encode(e.name);
    if (localName.length !== centralName.length || localName.some((b, i) => b !== centralName[i])) throw this.fail('has another name in its local header than in the central directory', e.name);
    return { start, end };
  }

  /** Refuses entries whose headers and data share bytes (the overlapping-file zip bomb). */
  private checkNoOverlap(entries: ZipEntry[], cdOffset: number): void {
    const spans = entries.map((e) => ({ name: e.name, from: e.localHeaderOffset, to: this.dataRange(e, cdOffset).end }));
    spans.sort((a, b) => a.from - b.from);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i]!.from < spans[i - 1]!.to) throw this.fail(`overlaps entry ${JSON.stringify(spans[i - 1]!.name)}: entries sharing data is a zip-bomb technique`, spans[i]!.name);
    }
  }

  /**
   * The uncompressed bytes of one entry: stored data as is, deflate data inflated 4 KiB of input
   * at a time, stopping as soon as the output passes the declared size; a CRC-32 or size mismatch
   * is refused.
   */
  extract(e: ZipEntry): Uint8Array {
    const { start, end } = this.dataRange(e, this.cdOffset);
    const data = this.bytes.subarray(start, end);
    let out: Uint8Array;
    if (e.method === METHOD_STORED) {
      out = data;
    } else {
      out = new Uint8Array(e.uncompressedSize);
      let written = 0;
      let overflow = false;
      const inflater = new Inflate((chunk) => {
        if (written + chunk.length > out.length) {
          overflow = true;
          written += chunk.length;
          return;
        }
        out.set(chunk, written);
        written += chunk.length;
      });
      try {
        for (let k = 0; k < data.length && !overflow; k += INFLATE_CHUNK_BYTES) {
          inflater.push(data.subarray(k, k + INFLATE_CHUNK_BYTES), k + INFLATE_CHUNK_BYTES >= data.length);
        }
      } catch (cause) {
        throw imagesInputError(zipEntryName(this.where, e.name), `is damaged: its deflate data does not inflate (${(cause as Error).message})`, cause);
      }
      if (overflow) {
        throw this.fail(`inflates past the ${e.uncompressedSize} bytes its header declares (stopped after ${written}): a zip bomb or a damaged archive`, e.name);
      }
      if (written !== e.uncompressedSize) throw this.fail(`inflates to ${written} bytes, but its header declares ${e.uncompressedSize}`, e.name);
    }
    const crc = crc32(out);
    if (crc !== e.crc32) throw this.fail(`is damaged: its CRC-32 is ${crc.toString(16)}, the archive declares ${e.crc32.toString(16)}`, e.name);
    return out;
  }
}
