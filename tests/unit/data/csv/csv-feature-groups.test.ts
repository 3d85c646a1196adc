import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../../../core/config/run-config.ts';
import { loadDataset } from '../../../../core/data/dataset-spec.ts';
import { installDatasetFileSource } from '../../../../core/data/csv/dataset-file-source.ts';
import { csvFeatureGroups } from '../../../../core/data/csv/csv-feature-groups.ts';
import { csvTransformWidth } from '../../../../core/data/csv/csv-transform.ts';
import { installNodeDatasetFiles } from '../../../../worker-node/node-dataset-files.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

beforeAll(() => installNodeDatasetFiles({ baseDir: ROOT }));
afterAll(() => installDatasetFileSource(null));

describe('csvFeatureGroups', () => {
  it('names the input indices each source column of the loans transform produced, covering the input vector once', async () => {
    const config = parseRunConfig(readFileSync(path.join(ROOT, 'configs/loans-csv.yaml'), 'utf8'), 'configs/loans-csv.yaml');
    const { csv } = await loadDataset(config.dataset);
    const transform = csv!.transform;
    const groups = csvFeatureGroups(transform);
    expect(groups.map((g) => g.column)).toEqual(transform.features.map((f) => f.column));
    expect(groups.map((g) => g.column)).toEqual(['age', 'income', 'region', 'employment', 'debt_ratio', 'late_payments']);
    expect(groups.flatMap((g) => g.inputs)).toEqual(Array.from({ length: csvTransformWidth(transform) }, (_, i) => i));
    for (const g of groups) for (const i of g.inputs) expect(transform.outputs[i]!.startsWith(g.column)).toBe(true);
    const region = groups.find((g) => g.column === 'region')!;
    expect(region.inputs.map((i) => transform.outputs[i])).toEqual(transform.outputs.filter((o) => o.startsWith('region=') || o.startsWith('region:')));
    expect(region.inputs.length).toBeGreaterThan(1);
  });
});
