import { z } from 'zod';

/**
 * One content version of a data set: its number, digest, origin and, parsed from JSON where they
 * are JSON, its source, schema and profile (rows and class counts per split for our own runs).
 */
export const DatasetVersionViewSchema = z.object({
  id: z.string(),
  datasetId: z.string(),
  name: z.string(),
  version: z.number().int(),
  digest: z.string(),
  sourceType: z.string(),
  source: z.unknown(),
  schema: z.unknown().nullable(),
  profile: z.unknown().nullable(),
  createdAt: z.string(),
});
/** A data set version as the API shows it. */
export type DatasetVersionView = z.infer<typeof DatasetVersionViewSchema>;

/** A data set version a run used, with what for (`training`, `evaluation`, ...). */
export const RunInputViewSchema = z.object({ context: z.string(), dataset: DatasetVersionViewSchema });
/** A run input as the API shows it. */
export type RunInputView = z.infer<typeof RunInputViewSchema>;

/** Body of `GET /api/v1/runs/:id/inputs`. */
export const RunInputsSchema = z.object({ runId: z.string(), inputs: z.array(RunInputViewSchema) });
/** A run's inputs. */
export type RunInputs = z.infer<typeof RunInputsSchema>;

/** A data set in the list: its newest version and how many versions and runs it has. */
export const DatasetSummaryViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  versionCount: z.number().int(),
  runCount: z.number().int(),
  latest: DatasetVersionViewSchema.nullable(),
});
/** A data set summary. */
export type DatasetSummaryView = z.infer<typeof DatasetSummaryViewSchema>;

/** Body of `GET /api/v1/datasets`: every data set, by name. */
export const DatasetListSchema = z.object({ datasets: z.array(DatasetSummaryViewSchema) });
/** The data set list. */
export type DatasetList = z.infer<typeof DatasetListSchema>;

/** A run that used a data set version. */
export const DatasetRunViewSchema = z.object({ runId: z.string(), runName: z.string(), status: z.string(), context: z.string() });

/** Body of `GET /api/v1/datasets/:id`: the data set and every version (newest first) with the runs that used it. */
export const DatasetDetailSchema = z.object({
  dataset: z.object({ id: z.string(), name: z.string(), createdAt: z.string() }),
  versions: z.array(DatasetVersionViewSchema.extend({ runs: z.array(DatasetRunViewSchema) })),
});
/** A data set with its versions. */
export type DatasetDetail = z.infer<typeof DatasetDetailSchema>;

/** A column of an uploaded table, as inference would read it. */
export const UploadedColumnSchema = z.object({
  name: z.string(),
  kind: z.enum(['numeric', 'categorical', 'mixed', 'empty']),
  missing: z.number().int(),
  distinct: z.number().int(),
});

/** Body of `PUT /api/v1/datasets/uploads/:folder/:file` (201): the stored table and a dataset spec that trains on it. */
export const UploadedTableSchema = z.object({
  folder: z.string(),
  file: z.string(),
  path: z.string(),
  format: z.enum(['csv', 'json', 'jsonl']),
  bytes: z.number().int(),
  sha256: z.string(),
  rows: z.number().int(),
  columns: z.array(UploadedColumnSchema),
  /** A `dataset:` section for a run config on this file (choose the label: the first categorical column is suggested). */
  spec: z.record(z.string(), z.unknown()),
});
/** An uploaded table. */
export type UploadedTable = z.infer<typeof UploadedTableSchema>;

/** Body of `GET /api/v1/datasets/uploads`: the uploaded files, by folder then name. */
export const UploadListSchema = z.object({
  uploads: z.array(z.object({ folder: z.string(), file: z.string(), path: z.string(), bytes: z.number().int(), modifiedAt: z.string() })),
});
/** The uploaded files. */
export type UploadList = z.infer<typeof UploadListSchema>;
