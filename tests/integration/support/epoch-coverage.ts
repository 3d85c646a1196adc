import { expect } from 'vitest';
import type { AppliedUpdate } from '../../../coordinator/run/run-session.ts';

/** The sample indices each epoch trained, over every applied update's slices. */
export function samplesPerEpoch(updates: readonly AppliedUpdate[]): Map<number, number[]> {
  const trained = new Map<number, number[]>();
  for (const u of updates) {
    const list = trained.get(u.epoch) ?? [];
    for (const s of u.slices) list.push(...s.indices);
    trained.set(u.epoch, list);
  }
  return trained;
}

/**
 * Asserts that at least `minEpochs` epochs were trained and that every epoch but the last (which
 * the run may stop inside) trained each of the `datasetSize` samples exactly once.
 */
export function expectEveryEpochCoversEachSampleOnce(updates: readonly AppliedUpdate[], datasetSize: number, minEpochs: number): void {
  const trained = samplesPerEpoch(updates);
  const epochs = [...trained.keys()].sort((a, b) => a - b);
  expect(epochs.length).toBeGreaterThanOrEqual(minEpochs);
  for (const e of epochs.slice(0, -1)) {
    const idx = trained.get(e) ?? [];
    expect(idx.length, `epoch ${e}`).toBe(datasetSize);
    expect(new Set(idx).size, `epoch ${e} distinct`).toBe(datasetSize);
  }
}
