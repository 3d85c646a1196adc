import { describe, expect, it } from 'vitest';
import { classNames, datasetName, describeDataset } from '../../../core/data/dataset-profile.ts';
import { parseDatasetSpec, loadDataset } from '../../../core/data/dataset-spec.ts';
import type { Dataset } from '../../../core/data/dataset.ts';

const csvSpec = (path: string) => parseDatasetSpec({ name: 'csv', path, label: 'y' });

describe('datasetName', () => {
  it('names built-in data by kind and a csv data set by its file stem without glob characters', () => {
    expect(datasetName(parseDatasetSpec({ name: 'mnist' }))).toBe('mnist');
    expect(datasetName(parseDatasetSpec({ name: 'synthetic' }))).toBe('synthetic');
    expect(datasetName(csvSpec('data/train_data_*.csv'))).toBe('train_data');
    expect(datasetName(csvSpec('node_modules/vega-datasets/data/penguins.json'))).toBe('penguins');
    expect(datasetName(csvSpec('C:\\data\\loans.v2.csv'))).toBe('loans.v2');
    expect(datasetName(csvSpec('shards/part-?.csv'))).toBe('part');
    expect(datasetName(csvSpec('*.csv'))).toBe('csv');
    expect(datasetName(parseDatasetSpec({ name: 'images', path: 'data/mnist-images/' }))).toBe('mnist-images');
    expect(datasetName(parseDatasetSpec({ name: 'images', path: 'uploads/food-11.zip' }))).toBe('food-11');
  });
});

describe('describeDataset', () => {
  it('counts each class per split (hand-made two-class data) and names classes by id for built-in data', () => {
    const ds = (labels: number[]): Dataset => ({ name: 't', size: labels.length, inputShape: [1], numClasses: 2, features: new Float32Array(labels.length), labels: Uint8Array.from(labels) });
    const loaded = { train: ds([0, 1, 1, 1]), test: ds([0, 0, 1]) };
    const spec = parseDatasetSpec({ name: 'synthetic', shape: [1], classes: 2, train_size: 4, test_size: 3 });
    expect(classNames(loaded)).toEqual(['0', '1']);
    const d = describeDataset(spec, loaded);
    expect(d.profile).toEqual({
      rows: { train: 4, test: 3 },
      input_shape: [1],
      classes: [
        { name: '0', train: 1, test: 2 },
        { name: '1', train: 3, test: 1 },
      ],
    });
    expect(d).toMatchObject({ name: 'synthetic', sourceType: 'builtin', source: { builtin: 'synthetic', train_size: 4 }, schema: { input_shape: [1], num_classes: 2 } });
  });

  it('profiles MNIST: ten digit classes whose counts add up to the split sizes', async () => {
    const spec = parseDatasetSpec({ name: 'mnist', train_size: 500, test_size: 100 });
    const d = describeDataset(spec, await loadDataset(spec));
    expect(d.profile.classes.map((c) => c.name)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(d.profile.classes.reduce((n, c) => n + c.train, 0)).toBe(500);
    expect(d.profile.classes.reduce((n, c) => n + c.test, 0)).toBe(100);
    expect(d.profile.input_shape).toEqual([28, 28, 1]);
  });
});
