import { createHash } from 'node:crypto';

/** One encoded train split as the cache holds it: its bytes and their ETag. */
export interface EncodedSplit {
  bytes: Uint8Array;
  etag: string;
}

/** What a {@link TrainSplitCache} holds and how often it had to encode. */
export interface TrainSplitCacheStats {
  /** Entries held (in flight ones included). */
  entries: number;
  /** Bytes of the finished entries. */
  bytes: number;
  /** Encodings started: one per miss. */
  encodings: number;
}

/** The ETag of a body: the first 128 bits of its sha256, quoted. */
export function etagOf(bytes: Uint8Array | string): string {
  return `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
}

/** Default bounds of the process's cache: a few data sets, at most 512 MiB of them. */
export const TRAIN_SPLIT_CACHE_ENTRIES = 8;
/** Default byte bound of the process's cache (the newest entry is kept even when larger). */
export const TRAIN_SPLIT_CACHE_BYTES = 512 * 2 ** 20;

interface Entry {
  value: Promise<EncodedSplit>;
  bytes: number;
}

/**
 * Encoded train splits by key, least recently used first out: at most `maxEntries` entries and
 * `maxBytes` bytes, except that the entry just added is always kept (a data set larger than the
 * bound is still served, and encoded once while it is the newest). A concurrent miss on the same key
 * shares one encoding; a failed one is dropped so a later request retries.
 * @example const split = await cache.get(key, async () => encodeDataset((await loadDataset(spec)).train));
 */
export class TrainSplitCache {
  private readonly entries = new Map<string, Entry>();
  private encodings = 0;

  constructor(
    readonly maxEntries = TRAIN_SPLIT_CACHE_ENTRIES,
    readonly maxBytes = TRAIN_SPLIT_CACHE_BYTES,
  ) {}

  /** The split under `key`, encoding it with `encode` on a miss. */
  get(key: string, encode: () => Promise<Uint8Array>): Promise<EncodedSplit> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit); // most recently used last
      return hit.value;
    }
    this.encodings++;
    const entry: Entry = { value: Promise.resolve().then(encode).then((bytes) => ({ bytes, etag: etagOf(bytes) })), bytes: 0 };
    this.entries.set(key, entry);
    entry.value.then(
      (split) => {
        if (this.entries.get(key) !== entry) return;
        entry.bytes = split.bytes.byteLength;
        this.evict(key);
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    this.evict(key);
    return entry.value;
  }

  /** Entries, bytes and encodings so far. */
  stats(): TrainSplitCacheStats {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.bytes;
    return { entries: this.entries.size, bytes, encodings: this.encodings };
  }

  private evict(keep: string): void {
    let bytes = this.stats().bytes;
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && bytes <= this.maxBytes) return;
      if (key === keep) continue;
      this.entries.delete(key);
      bytes -= e.bytes;
    }
  }
}

/** The cache the coordinator's dataset route uses (one per process: a split is a pure function of its key). */
export const trainSplitCache = new TrainSplitCache();
