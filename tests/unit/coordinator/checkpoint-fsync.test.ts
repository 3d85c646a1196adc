import { existsSync, fstatSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readCheckpointFile, writeCheckpointFile } from '../../../coordinator/run/checkpoint-file.ts';

const dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('a checkpoint write is durable (issue 15, item 9)', () => {
  it('fsyncs the written file before the rename, then the directory after it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-fsync-'));
    dirs.push(dir);
    const final = path.join(dir, 'step-3.ckpt');
    // Node's FileHandle class is not exported: its prototype is that of any open handle.
    const probe = await open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const syncs: { directory: boolean; finalExists: boolean; size: number }[] = [];
    const real = proto.sync;
    vi.spyOn(proto, 'sync').mockImplementation(function (this: { fd: number }) {
      const st = fstatSync(this.fd);
      syncs.push({ directory: st.isDirectory(), finalExists: existsSync(final), size: st.size });
      return real.call(this);
    });
    const written = await writeCheckpointFile(
      dir,
      {
        runId: 'r',
        mode: 'ddp',
        step: 3,
        params: new Float32Array([1, 2, 3, 4]),
        optimizer: { name: 'sgd', step: 3, slots: {} },
        machine: { step: 3 },
        bestMetric: null,
        createdAt: '2026-01-01T00:00:00.000Z',
      },
      'step-3',
    );
    expect(syncs).toEqual([
      // The temp file, complete, before it is renamed into place ...
      { directory: false, finalExists: false, size: written.sizeBytes },
      // ... then the directory, once the rename happened.
      { directory: true, finalExists: true, size: expect.any(Number) as number },
    ]);
    expect((await readCheckpointFile(written.path, written.sha256)).step).toBe(3);
  });
});
