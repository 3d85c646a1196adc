import type { DatasetSpec } from './dataset-spec.ts';

/**
 * Path of the binary train split: `GET /api/v1/datasets/train?spec=<JSON dataset spec>` (served by
 * coordinator/http/routes/datasets.ts: MNIST under any spec, other data sets only for active runs;
 * each data set encoded once, every MNIST train_size cut from one encoding of the whole split).
 */
export const DATASET_TRAIN_PATH = '/api/v1/datasets/train';
/** Path prefix under which the tfjs wasm backend's binaries are served to browser tabs. */
export const TFJS_WASM_PATH = '/api/v1/tfjs-wasm/';

/** Canonical JSON of a spec (keys sorted), so equal specs share one cache key. */
export function canonicalSpecJson(spec: DatasetSpec): string {
  const sorted = Object.fromEntries(Object.entries(spec).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify(sorted);
}

/**
 * The URL path (with query) of the binary train split of `spec`; tabs fetch it and cache it under this key.
 * @example fetch(datasetTrainUrl({ name: 'mnist', train_size: 2000 }))
 */
export function datasetTrainUrl(spec: DatasetSpec): string {
  return `${DATASET_TRAIN_PATH}?spec=${encodeURIComponent(canonicalSpecJson(spec))}`;
}
