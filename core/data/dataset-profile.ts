import type { Dataset } from './dataset.ts';
import type { DatasetSpec, LoadedDataset } from './dataset-spec.ts';

/** Per class: its name and how many samples of it each split holds. */
export interface ClassCount {
  name: string;
  train: number;
  test: number;
}

/** What a run records about the data it trained on (besides the digest): name, origin, schema and profile. */
export interface DatasetDescription {
  /** The data set's name in the tracking store: `mnist`, `synthetic`, or a csv file's stem (`train_data` for `data/train_data_*.csv`). */
  name: string;
  /** `builtin` (generated or shipped data) or `local` (files on the coordinator's machine: csv and images). */
  sourceType: 'builtin' | 'local';
  /** Where the data came from (JSON-serialisable). */
  source: Record<string, unknown>;
  /** The inputs: csv columns and their kinds, or the input shape. */
  schema: Record<string, unknown>;
  /** Rows per split and the class counts. */
  profile: { rows: { train: number; test: number }; input_shape: number[]; classes: ClassCount[] };
}

/**
 * The data set's name in the tracking store: `mnist`, `synthetic`, or for a csv or images data
 * set the stem of its path's last part (file, folder or zip) with glob characters and a trailing
 * `_`/`-` removed.
 * @example datasetName({ name: 'csv', path: 'data/train_data_*.csv', ... }) // 'train_data'
 */
export function datasetName(spec: DatasetSpec): string {
  if (spec.name !== 'csv' && spec.name !== 'images') return spec.name;
  const file = spec.path.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? spec.path;
  const stem = file.replace(/\.[^.*?]*$/, '').replace(/[*?]/g, '').replace(/[_\-. ]+$/, '');
  return stem.length > 0 ? stem : spec.name;
}

/**
 * The name of each class, by class id: a csv data set's label values, an images data set's class
 * folder names, otherwise the ids as text (`"0"` … `"9"` for MNIST's digits).
 * @example classNames(loaded) // ['Adelie', 'Chinstrap', 'Gentoo']
 */
export function classNames(loaded: LoadedDataset): string[] {
  if (loaded.csv) return [...loaded.csv.transform.label.classes];
  if (loaded.images) return [...loaded.images.classes];
  return Array.from({ length: loaded.train.numClasses }, (_, i) => String(i));
}

function countLabels(ds: Dataset, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < ds.size; i++) counts[ds.labels[i]!]! += 1;
  return counts;
}

/**
 * Describes a loaded data set for the tracking store: its name, where it came from, its schema
 * (csv columns with their kinds and the label, or the input shape) and its profile (rows and
 * class counts per split). Pure: the same spec and data give the same description.
 * @example const d = describeDataset(spec, await loadDataset(spec));
 */
export function describeDataset(spec: DatasetSpec, loaded: LoadedDataset): DatasetDescription {
  const names = classNames(loaded);
  const train = countLabels(loaded.train, names.length);
  const test = countLabels(loaded.test, names.length);
  const profile = {
    rows: { train: loaded.train.size, test: loaded.test.size },
    input_shape: [...loaded.train.inputShape],
    classes: names.map((name, i) => ({ name, train: train[i]!, test: test[i]! })),
  };
  if (spec.name === 'csv' && loaded.csv) {
    const t = loaded.csv.transform;
    return {
      name: datasetName(spec),
      sourceType: 'local',
      source: { path: spec.path, files: loaded.csv.files.map((f) => ({ path: f.path, bytes: f.bytes, rows: f.rows, sha256: f.sha256 })) },
      schema: { label: t.label.column, columns: t.features.map((f) => ({ name: f.column, kind: f.kind })), inputs: t.outputs.length },
      profile,
    };
  }
  if (spec.name === 'images' && loaded.images) {
    return {
      name: datasetName(spec),
      sourceType: 'local',
      source: { path: spec.path, files: loaded.images.files },
      schema: { input_shape: [...loaded.train.inputShape], num_classes: loaded.train.numClasses },
      profile,
    };
  }
  const { name, ...rest } = spec;
  return {
    name: datasetName(spec),
    sourceType: 'builtin',
    source: { builtin: name, ...rest },
    schema: { input_shape: [...loaded.train.inputShape], num_classes: loaded.train.numClasses },
    profile,
  };
}
