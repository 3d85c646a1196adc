import { z } from 'zod';
import type { Dataset } from './dataset.ts';
import { datasetHead, sampleLength } from './dataset.ts';
import { MNIST_TEST_SIZE, MNIST_TRAIN_SIZE, loadMnist } from './mnist.ts';
import { makeSyntheticDataset } from './synthetic.ts';
import { CsvSpecSchema } from './csv/csv-spec.ts';
import { loadCsvDataset, type CsvDatasetInfo } from './csv/load-csv-dataset.ts';
import type { DatasetFileSource } from './csv/dataset-file-source.ts';
import { ImagesSpecSchema } from './images/images-spec.ts';
import { loadImagesDataset, type ImagesDatasetInfo } from './images/load-images-dataset.ts';
import { CrowdtrainError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/messages.ts';

/** Most feature values (train + test) a synthetic spec may ask for: 2^27 float32 = 512 MiB. */
export const MAX_SYNTHETIC_VALUES = 2 ** 27;

/** The fixed MNIST split from the `mnist` package; sizes take a prefix of each (class-interleaved) split. */
export const MnistSpecSchema = z.strictObject({
  name: z.literal('mnist'),
  train_size: z.int().min(1).max(MNIST_TRAIN_SIZE).optional(),
  test_size: z.int().min(1).max(MNIST_TEST_SIZE).optional(),
});

/** Seeded prototype-plus-noise classification data; see makeSyntheticDataset. */
export const SyntheticSpecSchema = z
  .strictObject({
    name: z.literal('synthetic'),
    shape: z.array(z.int().min(1)).min(1).max(8).default([16]),
    classes: z.int().min(2).max(256).default(4),
    train_size: z.int().min(1).default(2048),
    test_size: z.int().min(1).default(512),
    seed: z.int().default(1),
    noise: z.number().min(0).max(100).default(0.3),
  })
  .refine((s) => sampleLength(s.shape) * (s.train_size + s.test_size) <= MAX_SYNTHETIC_VALUES, {
    message: `synthetic data set too large: prod(shape) * (train_size + test_size) must be <= ${MAX_SYNTHETIC_VALUES}`,
  });

export { CsvSpecSchema, ImagesSpecSchema };

/**
 * A data set as written in a run config (snake_case keys, unknown keys rejected), discriminated on
 * `name`: `mnist`, `synthetic`, `csv` (the user's own table; core/data/csv) or `images` (a folder
 * of class folders; core/data/images). docs/datasets.md describes them.
 * @example DatasetSpecSchema.parse({ name: 'synthetic', shape: [8, 8, 1], classes: 3 })
 */
export const DatasetSpecSchema = z.discriminatedUnion('name', [MnistSpecSchema, SyntheticSpecSchema, CsvSpecSchema, ImagesSpecSchema]);

/** A validated data set spec, defaults filled in. */
export type DatasetSpec = z.infer<typeof DatasetSpecSchema>;
/** A data set spec as a user may write it (defaults optional). */
export type DatasetSpecInput = z.input<typeof DatasetSpecSchema>;

/**
 * Validates a raw spec; throws CrowdtrainError('INVALID_CONFIG') listing every problem with its path.
 * @example parseDatasetSpec(yaml.parse(text).dataset)
 */
export function parseDatasetSpec(raw: unknown): DatasetSpec {
  const r = DatasetSpecSchema.safeParse(raw);
  if (!r.success) {
    throw new CrowdtrainError('INVALID_CONFIG', `invalid dataset spec: ${describeZodError(r.error)}`, { cause: r.error });
  }
  return r.data;
}

/** The splits of a data set; a csv or images data set adds its provenance (content hash, files, fitted transform or classes). */
export interface LoadedDataset {
  train: Dataset;
  test: Dataset;
  csv?: CsvDatasetInfo;
  images?: ImagesDatasetInfo;
}

/** Where loadDataset reads files from. */
export interface LoadDatasetOptions {
  /** The file source of a csv or images data set (default: the one the process installed with installDatasetFileSource). */
  files?: DatasetFileSource;
}

/**
 * Loads the train and test splits a spec names (validating it first). Deterministic: the same spec
 * gives the same data on every machine. MNIST is memoised; synthetic data is generated each call;
 * csv files are read (streamed) and image folders read and decoded each call through the file source.
 * @example const { train, test } = await loadDataset({ name: 'mnist', train_size: 2000 });
 */
export async function loadDataset(spec: DatasetSpecInput, opts: LoadDatasetOptions = {}): Promise<LoadedDataset> {
  const s = parseDatasetSpec(spec);
  switch (s.name) {
    case 'mnist': {
      const { train, test } = await loadMnist();
      return {
        train: s.train_size === undefined ? train : datasetHead(train, s.train_size),
        test: s.test_size === undefined ? test : datasetHead(test, s.test_size),
      };
    }
    case 'synthetic':
      return makeSyntheticDataset({
        shape: s.shape,
        classes: s.classes,
        trainSize: s.train_size,
        testSize: s.test_size,
        seed: s.seed,
        noise: s.noise,
      });
    case 'csv':
      return loadCsvDataset(s, opts.files);
    case 'images':
      return loadImagesDataset(s, { files: opts.files });
    default: {
      const never: never = s;
      throw new CrowdtrainError('INVALID_CONFIG', `unknown dataset ${JSON.stringify(never)}`);
    }
  }
}
