import { decodeDataset, type Dataset } from '../../core/data/dataset.ts';
import type { DatasetSpec } from '../../core/data/dataset-spec.ts';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { datasetTrainUrl } from '../../core/data/dataset-route.ts';

/** Name of the Cache API cache that holds data sets downloaded by /contribute tabs. */
export const DATASET_CACHE_NAME = 'crowdtrain-datasets-v1';

/** Where a data set came from on this load. */
export type DatasetSource = 'memory' | 'cache' | 'network';

/** A loaded train split and how it was obtained. */
export interface LoadedDataset {
  dataset: Dataset;
  source: DatasetSource;
  bytes: number;
}

/**
 * Loads train splits for a tab: fetched once from the coordinator in the binary format of
 * core/data/dataset.ts, kept in the Cache API (when the page is a secure context, e.g. localhost
 * or https) so a reload or a second run on the same data costs no download, and memoised in memory.
 */
export class BrowserDatasetLoader {
  private readonly memory = new Map<string, Promise<LoadedDataset>>();

  constructor(private readonly baseUrl: string) {}

  /** The URL of the binary train split of `spec`. */
  urlFor(spec: DatasetSpec): string {
    return new URL(datasetTrainUrl(spec), this.baseUrl).href;
  }

  /** Loads (and caches) the train split of `spec`; the second call for the same spec is a memory hit. */
  load(spec: DatasetSpec): Promise<LoadedDataset> {
    const url = this.urlFor(spec);
    const hit = this.memory.get(url);
    if (hit) return hit.then((d) => ({ ...d, source: 'memory' as const }));
    const p = this.fetchOrCache(url);
    p.catch(() => this.memory.delete(url));
    this.memory.set(url, p);
    return p;
  }

  private async fetchOrCache(url: string): Promise<LoadedDataset> {
    const cache = await openCache();
    const cached = cache ? await cache.match(url) : undefined;
    if (cached) {
      const bytes = new Uint8Array(await cached.arrayBuffer());
      try {
        return { dataset: decodeDataset(bytes), source: 'cache', bytes: bytes.byteLength };
      } catch {
        await cache?.delete(url); // corrupt entry: download again
      }
    }
    const res = await fetch(url);
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new CrowdtrainError('RUN_NOT_FOUND', `dataset download ${url} failed with HTTP ${res.status}: ${text.slice(0, 300)}`);
    }
    const body = await res.arrayBuffer();
    const bytes = new Uint8Array(body);
    const dataset = decodeDataset(bytes);
    if (cache) {
      await cache
        .put(url, new Response(body, { headers: { 'content-type': 'application/octet-stream' } }))
        .catch(() => undefined); // quota exceeded: keep training from memory
    }
    return { dataset, source: 'network', bytes: bytes.byteLength };
  }
}

async function openCache(): Promise<Cache | null> {
  if (typeof caches === 'undefined') return null; // not a secure context
  try {
    return await caches.open(DATASET_CACHE_NAME);
  } catch {
    return null;
  }
}
