import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDataset } from '../../../../core/data/dataset-spec.ts';
import { installDatasetFileSource } from '../../../../core/data/csv/dataset-file-source.ts';
import { installNodeDatasetFiles, nodeDatasetFileSource } from '../../../../worker-node/node-dataset-files.ts';

let dir: string | null = null;
afterEach(() => {
  installDatasetFileSource(null);
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

function tempDir(): string {
  dir = mkdtempSync(path.join(tmpdir(), 'ct-csv-'));
  return dir;
}

describe('nodeDatasetFileSource', () => {
  it('expands * and ? in the file name, sorted, relative to its base dir; refuses no match and globs in directories', async () => {
    const d = tempDir();
    mkdirSync(path.join(d, 'data'));
    for (const n of ['train_data_2.csv', 'train_data_10.csv', 'train_data_1.csv', 'other.csv']) writeFileSync(path.join(d, 'data', n), 'x\n');
    mkdirSync(path.join(d, 'data', 'train_data_dir.csv'));
    const files = nodeDatasetFileSource({ baseDir: d });
    expect(await files.list('data/train_data_*.csv')).toEqual(['data/train_data_1.csv', 'data/train_data_10.csv', 'data/train_data_2.csv']);
    expect(await files.list('data/train_data_?.csv')).toEqual(['data/train_data_1.csv', 'data/train_data_2.csv']);
    expect(await files.list('data/other.csv')).toEqual(['data/other.csv']);
    await expect(files.list('data/none_*.csv')).rejects.toThrow(/path "data\/none_\*\.csv": no file in .* matches "none_\*\.csv"/);
    await expect(files.list('data/missing.csv')).rejects.toThrow(/path "data\/missing\.csv": cannot read it \(ENOENT/);
    await expect(files.list('d*/x.csv')).rejects.toThrow(/only the file name part may contain \* or \?/);
    await expect(files.list('data/train_data_dir.csv')).rejects.toThrow(/is not a file/);
  });

  it('reads a file in pieces and hashes with node:crypto', async () => {
    const d = tempDir();
    const bytes = Buffer.alloc(200_000, 'ab');
    writeFileSync(path.join(d, 'big.csv'), bytes);
    const files = nodeDatasetFileSource({ baseDir: d });
    const pieces: Uint8Array[] = [];
    const h = files.sha256();
    for await (const p of files.read('big.csv')) {
      pieces.push(p);
      h.update(p);
    }
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.every((p) => p.byteLength <= 64 * 1024)).toBe(true);
    expect(h.digestHex()).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('once installed, loadDataset reads csv files without being handed a source; without one it says what to install', async () => {
    const d = tempDir();
    writeFileSync(path.join(d, 't.csv'), 'x,y\n1,a\n2,b\n3,a\n4,b\n5,a\n');
    const spec = { name: 'csv' as const, path: path.join(d, 't.csv'), label: 'y' };
    await expect(loadDataset(spec)).rejects.toThrow(/this process has no file reader: a Node process installs one with installNodeDatasetFiles\(\)/);
    installNodeDatasetFiles();
    const { train, test, csv } = await loadDataset(spec);
    expect([train.size, test.size, csv?.files[0]?.bytes]).toEqual([4, 1, 24]);
  });
});
