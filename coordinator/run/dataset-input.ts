import { createHash } from 'node:crypto';
import { encodeDataset } from '../../core/data/dataset.ts';
import { describeDataset } from '../../core/data/dataset-profile.ts';
import type { DatasetSpec, LoadedDataset } from '../../core/data/dataset-spec.ts';
import type { DatasetInputInput } from '../../prisma/queries/tracking-store.ts';

/**
 * The content hash of a loaded data set: a csv data set's or image folder's file hash (the raw
 * bytes, whatever the preprocessing or image size), otherwise the SHA-256 of the train and test splits in
 * the binary encoding of core/data/dataset.ts, so two built-in specs share a version exactly when
 * they give the same samples.
 */
export function datasetDigest(loaded: LoadedDataset): string {
  if (loaded.csv) return loaded.csv.sha256;
  if (loaded.images) return loaded.images.sha256;
  const hash = createHash('sha256');
  hash.update(encodeDataset(loaded.train));
  hash.update(encodeDataset(loaded.test));
  return hash.digest('hex');
}

/**
 * What a run logs as its training input (MLflow's `log_input` with context `training`): the data
 * set's name, digest, source, schema and profile.
 * @example await store.logRunInputs(runId, [runDatasetInput(config.dataset, loaded)]);
 */
export function runDatasetInput(spec: DatasetSpec, loaded: LoadedDataset): DatasetInputInput {
  const d = describeDataset(spec, loaded);
  return {
    name: d.name,
    digest: datasetDigest(loaded),
    sourceType: d.sourceType,
    source: JSON.stringify(d.source),
    schema: JSON.stringify(d.schema),
    profile: JSON.stringify(d.profile),
    context: 'training',
  };
}
