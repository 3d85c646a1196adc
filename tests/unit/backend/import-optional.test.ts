import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeError, importOptional } from '../../../worker-node/backend/import-optional.ts';

const dir = mkdtempSync(join(tmpdir(), 'crowdtrain-import-optional-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('importOptional', () => {
  it('loads an installed package', async () => {
    const r = await importOptional<{ default: unknown }>('debug');
    expect(r.ok).toBe(true);
  });

  it('reports a package that is not installed as missing', async () => {
    const r = await importOptional('@tensorflow/tfjs-node-gpu');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.missing).toBe(true);
  });

  it('reports a module whose own dependency is missing as present but broken', async () => {
    const file = join(dir, 'needs-absent-dep.mjs');
    writeFileSync(file, "import 'crowdtrain-absent-dependency-xyz';\n");
    const r = await importOptional(pathToFileURL(file).href);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.missing).toBe(false);
    expect(!r.ok && describeError(r.error)).toMatch(/crowdtrain-absent-dependency-xyz/);
  });

  it('reports a module that throws while loading as present but broken', async () => {
    const file = join(dir, 'throws.mjs');
    writeFileSync(file, "throw new Error('libcudart.so.11.0: cannot open shared object file\\nmore detail');\n");
    const r = await importOptional(pathToFileURL(file).href);
    expect(!r.ok && r.missing).toBe(false);
    expect(!r.ok && describeError(r.error)).toBe('libcudart.so.11.0: cannot open shared object file');
  });
});
