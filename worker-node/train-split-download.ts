import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import createDebug from 'debug';
import { decodeDataset, type Dataset } from '../core/data/dataset.ts';
import { DATASET_TRAIN_PATH, datasetTrainUrl } from '../core/data/dataset-route.ts';
import type { DatasetSpec } from '../core/data/dataset-spec.ts';
import { CrowdtrainError } from '../core/protocol/errors.ts';

const debug = createDebug('crowdtrain:worker:dataset');

/** The default disk cache of downloaded train splits: `$XDG_CACHE_HOME/crowdtrain/datasets`, else `~/.cache/crowdtrain/datasets`. */
export function defaultDatasetCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME && path.isAbsolute(process.env.XDG_CACHE_HOME) ? process.env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'crowdtrain', 'datasets');
}

/** Bytes the cache keeps by default (the least recently used entries go first beyond it). */
export const DEFAULT_DATASET_CACHE_BYTES = 4 * 2 ** 30;

/** The message of the API's error body `{error: {code, message}}`, else the body's start. */
function errorMessage(body: string): string {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message.slice(0, 1000);
  } catch {
    // not JSON
  }
  return body.slice(0, 300);
}

/** How a load was answered: from the cache after the coordinator said it is current (304), or downloaded (200). */
export type TrainSplitSource = 'cache' | 'network';

/** One loaded train split and how it was obtained. */
export interface DownloadedTrainSplit {
  dataset: Dataset;
  source: TrainSplitSource;
  /** Bytes of the encoded split (downloaded or read from the cache). */
  bytes: number;
}

/** Options of {@link TrainSplitDownloader}. */
export interface TrainSplitDownloaderOptions {
  /** The coordinator's base URL (`http://host:3000`). */
  url: string;
  /** The cache directory (default {@link defaultDatasetCacheDir}). */
  cacheDir?: string;
  /** Most bytes the cache keeps (default {@link DEFAULT_DATASET_CACHE_BYTES}). */
  maxCacheBytes?: number;
}

/**
 * Loads a run's train split the way a browser tab does: from the coordinator
 * (`GET /api/v1/datasets/train?spec=...`, the binary format of core/data/dataset.ts), so a node
 * worker trains on a csv data set whose files only the coordinator has. Downloads are kept in a
 * disk cache keyed by URL with their ETag; each load revalidates with `If-None-Match`, so an
 * unchanged split costs a 304 and a changed one is downloaded again. Entries are written to a
 * temporary name and renamed, so a crash never leaves a torn entry; an entry that does not decode
 * is dropped and downloaded again.
 * @example const { dataset } = await new TrainSplitDownloader({ url }).load(spec);
 */
export class TrainSplitDownloader {
  private readonly cacheDir: string;
  private readonly maxCacheBytes: number;

  constructor(private readonly opts: TrainSplitDownloaderOptions) {
    this.cacheDir = opts.cacheDir ?? defaultDatasetCacheDir();
    this.maxCacheBytes = opts.maxCacheBytes ?? DEFAULT_DATASET_CACHE_BYTES;
  }

  /** Loads the train split of `spec`; throws CrowdtrainError naming the URL and the coordinator's answer when it cannot. */
  async load(spec: DatasetSpec): Promise<DownloadedTrainSplit> {
    const url = new URL(datasetTrainUrl(spec), this.opts.url).href;
    const key = createHash('sha256').update(url).digest('hex').slice(0, 32);
    const dataFile = path.join(this.cacheDir, `${key}.bin`);
    const etagFile = path.join(this.cacheDir, `${key}.etag`);
    const cachedEtag = await readFile(etagFile, 'utf8').catch(() => null);
    const headers: Record<string, string> = cachedEtag ? { 'if-none-match': cachedEtag } : {};
    let res: Response;
    try {
      res = await fetch(url, { headers });
    } catch (cause) {
      throw new CrowdtrainError('RUN_NOT_FOUND', `dataset download of the ${spec.name} train split from ${DATASET_TRAIN_PATH} at ${this.opts.url} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    if (res.status === 304 && cachedEtag) {
      const bytes = await readFile(dataFile).catch(() => null);
      if (bytes) {
        try {
          const dataset = decodeDataset(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          await utimes(dataFile, new Date(), new Date()).catch(() => undefined); // recently used
          debug('%s: cache hit (304), %d bytes', url, bytes.byteLength);
          return { dataset, source: 'cache', bytes: bytes.byteLength };
        } catch (err) {
          debug('%s: cached entry does not decode (%O): downloading again', url, err);
        }
      }
      await rm(etagFile, { force: true });
      return this.load(spec);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new CrowdtrainError('RUN_NOT_FOUND', `dataset download of the ${spec.name} train split from ${DATASET_TRAIN_PATH} at ${this.opts.url} failed with HTTP ${res.status}: ${errorMessage(text)}`);
    }
    const body = new Uint8Array(await res.arrayBuffer());
    const dataset = decodeDataset(body);
    const etag = res.headers.get('etag');
    if (etag) await this.store(dataFile, etagFile, body, etag).catch((err: unknown) => debug('could not cache %s: %O', url, err));
    debug('%s: downloaded %d bytes', url, body.byteLength);
    return { dataset, source: 'network', bytes: body.byteLength };
  }

  private async store(dataFile: string, etagFile: string, body: Uint8Array, etag: string): Promise<void> {
    await mkdir(this.cacheDir, { recursive: true });
    const tmp = `${dataFile}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, dataFile);
    await writeFile(`${etagFile}.tmp`, etag);
    await rename(`${etagFile}.tmp`, etagFile);
    await this.evict(path.basename(dataFile));
  }

  /** Deletes the least recently used entries until the cache holds at most maxCacheBytes (never the one just written). */
  private async evict(keep: string): Promise<void> {
    const names = (await readdir(this.cacheDir)).filter((n) => n.endsWith('.bin'));
    const entries = await Promise.all(names.map(async (n) => ({ n, s: await stat(path.join(this.cacheDir, n)).catch(() => null) })));
    const live = entries.filter((e): e is { n: string; s: NonNullable<typeof e.s> } => e.s !== null).sort((a, b) => b.s.mtimeMs - a.s.mtimeMs);
    let total = 0;
    for (const e of live) {
      total += e.s.size;
      if (total > this.maxCacheBytes && e.n !== keep) {
        const stem = path.join(this.cacheDir, e.n.slice(0, -'.bin'.length));
        await rm(`${stem}.bin`, { force: true });
        await rm(`${stem}.etag`, { force: true });
        debug('evicted %s (%d bytes)', e.n, e.s.size);
      }
    }
  }
}
