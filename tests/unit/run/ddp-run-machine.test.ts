import { describe, expect, it } from 'vitest';
import { DdpRunMachine, parseDdpSnapshot, type RunEffect, type RunMachineOptions } from '../../../core/run/ddp/ddp-run-machine.ts';

const base: RunMachineOptions = {
  seed: 7,
  datasetSize: 100,
  batchSizePerWorker: 8,
  totalUpdates: 1000,
  minWorkers: 1,
  evalEvery: 1000,
  checkpointEvery: 1000,
};

function assigns(fx: RunEffect[]) {
  return fx.filter((e): e is Extract<RunEffect, { type: 'assign' }> => e.type === 'assign');
}

/** Drives a machine: answers every assignment except for workers in `fail`, returns trained indices per epoch. */
function answerAll(m: DdpRunMachine, fx: RunEffect[], trained: Map<number, number[]>): RunEffect[] {
  const out: RunEffect[] = [];
  for (const a of assigns(fx)) {
    for (const s of a.assignments) {
      const more = m.dispatch({ type: 'resultAccepted', workerId: s.workerId, step: a.step, sampleCount: s.indices.length, loss: 1, accuracy: 0 });
      out.push(...more);
      const apply = more.find((e) => e.type === 'applyUpdate');
      if (apply && apply.type === 'applyUpdate') {
        out.push(...m.dispatch({ type: 'updateApplied', step: apply.step }));
      }
      const list = trained.get(a.epoch) ?? [];
      list.push(...s.indices);
      trained.set(a.epoch, list);
    }
  }
  return out;
}

describe('DdpRunMachine', () => {
  it('waits for min_workers before the first assignment', () => {
    const m = new DdpRunMachine({ ...base, minWorkers: 2 });
    expect(m.dispatch({ type: 'start' })).toEqual([]);
    const fx1 = m.dispatch({ type: 'workerReady', workerId: 'a' });
    expect(assigns(fx1)).toHaveLength(0);
    const fx2 = m.dispatch({ type: 'workerReady', workerId: 'b' });
    const [a] = assigns(fx2);
    expect(a?.assignments.map((s) => s.workerId)).toEqual(['a', 'b']);
    expect(a?.assignments.map((s) => s.indices.length)).toEqual([8, 8]);
    expect(fx2.some((e) => e.type === 'armDeadline')).toBe(true);
  });

  it('splits the global batch into disjoint slices and applies after every gradient arrived', () => {
    const m = new DdpRunMachine(base);
    m.dispatch({ type: 'start' });
    m.dispatch({ type: 'workerReady', workerId: 'a' });
    // b joins mid-round: it takes part from the next round on.
    m.dispatch({ type: 'workerReady', workerId: 'b' });
    const fx = m.dispatch({ type: 'resultAccepted', workerId: 'a', step: 0, sampleCount: 8, loss: 2, accuracy: 0.5 });
    expect(fx).toEqual([
      { type: 'applyUpdate', step: 0, epoch: 0, contributions: [{ workerId: 'a', sampleCount: 8, loss: 2, accuracy: 0.5 }] },
    ]);
    const next = m.dispatch({ type: 'updateApplied', step: 0 });
    const [a] = assigns(next);
    expect(m.step).toBe(1);
    expect(a?.assignments).toHaveLength(2);
    const [s1, s2] = a?.assignments ?? [];
    expect(new Set([...(s1?.indices ?? []), ...(s2?.indices ?? [])]).size).toBe(16);
  });

  it('gives a leaving worker\'s slice back so every sample is trained exactly once per epoch', () => {
    const m = new DdpRunMachine({ ...base, datasetSize: 64, totalUpdates: 40 });
    const trained = new Map<number, number[]>();
    m.dispatch({ type: 'start' });
    let pending = m.dispatch({ type: 'workerReady', workerId: 'a' });
    m.dispatch({ type: 'workerReady', workerId: 'b' });
    m.dispatch({ type: 'workerReady', workerId: 'c' });
    let killed = false;
    for (let round = 0; round < 40 && m.currentPhase !== 'finished'; round++) {
      const a = assigns(pending)[0];
      if (!a) break;
      if (!killed && a.assignments.some((s) => s.workerId === 'c')) {
        // c dies holding its slice: the others answer, c's samples go back to the sampler.
        killed = true;
        const left = m.dispatch({ type: 'workerLeft', workerId: 'c', reason: 'killed' });
        expect(left.some((e) => e.type === 'record' && e.kind === 'slice_reassigned')).toBe(true);
        pending = answerAll(m, [{ ...a, assignments: a.assignments.filter((s) => s.workerId !== 'c') }], trained);
        continue;
      }
      pending = answerAll(m, [a], trained);
    }
    expect(killed).toBe(true);
    const epochs = [...trained.keys()].sort((x, y) => x - y);
    expect(epochs.length).toBeGreaterThan(2);
    // Every completed epoch covers each index exactly once.
    for (const e of epochs.slice(0, -1)) {
      const idx = trained.get(e) ?? [];
      expect(idx.length).toBe(64);
      expect(new Set(idx).size).toBe(64);
    }
  });

  it('evicts workers that miss the deadline and reassigns their slices', () => {
    const m = new DdpRunMachine(base);
    m.dispatch({ type: 'start' });
    m.dispatch({ type: 'workerReady', workerId: 'a' });
    m.dispatch({ type: 'resultAccepted', workerId: 'a', step: 0, sampleCount: 8, loss: 1, accuracy: 0 });
    m.dispatch({ type: 'workerReady', workerId: 'b' });
    const fx = m.dispatch({ type: 'updateApplied', step: 0 });
    const round = assigns(fx)[0];
    const bSlice = round?.assignments.find((s) => s.workerId === 'b')?.indices ?? [];
    m.dispatch({ type: 'resultAccepted', workerId: 'a', step: 1, sampleCount: 8, loss: 1, accuracy: 0 });
    const dl = m.dispatch({ type: 'deadline', step: 1 });
    expect(dl.find((e) => e.type === 'evict')).toMatchObject({ workerId: 'b' });
    expect(dl.find((e) => e.type === 'applyUpdate')).toMatchObject({ step: 1, contributions: [{ workerId: 'a' }] });
    expect(m.activeWorkers).toEqual(['a']);
    const next = m.dispatch({ type: 'updateApplied', step: 1 });
    // b's slice is served first in the next round.
    expect(assigns(next)[0]?.assignments[0]?.indices).toEqual(bSlice);
  });

  it('ignores stale, duplicate and unassigned gradients', () => {
    const m = new DdpRunMachine(base);
    m.dispatch({ type: 'start' });
    m.dispatch({ type: 'workerReady', workerId: 'a' });
    m.dispatch({ type: 'workerReady', workerId: 'b' });
    expect(m.dispatch({ type: 'resultAccepted', workerId: 'b', step: 0, sampleCount: 8, loss: 1, accuracy: 0 })).toEqual([]);
    expect(m.dispatch({ type: 'resultAccepted', workerId: 'a', step: 5, sampleCount: 8, loss: 1, accuracy: 0 })).toEqual([]);
    expect(m.currentPhase).toBe('collecting');
  });

  it('a round whose every slice failed is retried with the same samples', () => {
    const m = new DdpRunMachine(base);
    m.dispatch({ type: 'start' });
    const fx = m.dispatch({ type: 'workerReady', workerId: 'a' });
    const first = assigns(fx)[0]?.assignments[0]?.indices;
    const retry = m.dispatch({ type: 'resultRejected', workerId: 'a', step: 0, code: 'NON_FINITE', reason: 'NaN at 3' });
    expect(retry.some((e) => e.type === 'record' && e.kind === 'slice_reassigned')).toBe(true);
    expect(assigns(retry)[0]?.assignments[0]?.indices).toEqual(first);
    expect(m.step).toBe(0);
  });

  it('evaluates, checkpoints periodically and finishes at total_updates', () => {
    const m = new DdpRunMachine({ ...base, totalUpdates: 4, evalEvery: 2, checkpointEvery: 3 });
    m.dispatch({ type: 'start' });
    let fx = m.dispatch({ type: 'workerReady', workerId: 'a' });
    const all: RunEffect[] = [];
    for (let i = 0; i < 4; i++) {
      const a = assigns(fx)[0];
      expect(a?.step).toBe(i);
      m.dispatch({ type: 'resultAccepted', workerId: 'a', step: i, sampleCount: 8, loss: 1, accuracy: 0 });
      fx = m.dispatch({ type: 'updateApplied', step: i });
      all.push(...fx);
    }
    expect(all.filter((e) => e.type === 'evaluate').map((e) => (e as { step: number }).step)).toEqual([2, 4]);
    const ckpts = all.filter((e): e is Extract<RunEffect, { type: 'checkpoint' }> => e.type === 'checkpoint');
    // The snapshot is taken before the next round draws its batch: step 3 and an epoch cursor of 3 batches.
    expect(ckpts[0]?.snapshot.step).toBe(3);
    expect(parseDdpSnapshot(ckpts[0]!.snapshot).sampler.cursor).toBe(24);
    expect(ckpts.map((e) => [e.step, e.reason])).toEqual([
      [3, 'periodic'],
      [4, 'final'],
    ]);
    expect(all.at(-1)).toMatchObject({ type: 'finished', status: 'finished', step: 4 });
    expect(m.currentPhase).toBe('finished');
  });

  it('stop abandons the round, gives its samples back, checkpoints and resumes identically from a snapshot', () => {
    const m = new DdpRunMachine(base);
    m.dispatch({ type: 'start' });
    const fx = m.dispatch({ type: 'workerReady', workerId: 'a' });
    const slice = assigns(fx)[0]?.assignments[0]?.indices;
    const stop = m.dispatch({ type: 'stop', reason: 'signal' });
    expect(stop).toMatchObject([
      { type: 'checkpoint', step: 0, reason: 'signal', snapshot: { step: 0 } },
      { type: 'finished', status: 'stopped', step: 0, reason: 'signal' },
    ]);
    const snap = JSON.parse(JSON.stringify(m.snapshot())) as ReturnType<DdpRunMachine['snapshot']>;
    const resumed = new DdpRunMachine(base, snap);
    resumed.dispatch({ type: 'start' });
    const again = resumed.dispatch({ type: 'workerReady', workerId: 'z' });
    expect(assigns(again)[0]?.assignments[0]?.indices).toEqual(slice);
  });
});

describe('DdpRunMachine min_workers', () => {
  it('gates only the first round: after a worker leaves, the run goes on with fewer', () => {
    const m = new DdpRunMachine({ ...base, minWorkers: 2 });
    m.dispatch({ type: 'start' });
    m.dispatch({ type: 'workerReady', workerId: 'a' });
    const fx = m.dispatch({ type: 'workerReady', workerId: 'b' });
    expect(assigns(fx)).toHaveLength(1);
    const bSlice = assigns(fx)[0]!.assignments.find((s) => s.workerId === 'b')!.indices;
    m.dispatch({ type: 'workerLeft', workerId: 'b', reason: 'gone' });
    // a, done with its own slice, takes b's over in the same round; then the update is applied.
    const takeOver = m.dispatch({ type: 'resultAccepted', workerId: 'a', step: 0, sampleCount: 8, loss: 1, accuracy: 0 });
    expect(assigns(takeOver)[0]?.assignments).toEqual([{ workerId: 'a', indices: bSlice }]);
    const applied = m.dispatch({ type: 'resultAccepted', workerId: 'a', step: 0, sampleCount: 8, loss: 1, accuracy: 0 });
    expect(applied.map((e) => e.type)).toEqual(['record', 'applyUpdate']);
    const next = m.dispatch({ type: 'updateApplied', step: 0 });
    expect(assigns(next)[0]?.assignments.map((s) => s.workerId)).toEqual(['a']);
  });
});

describe('DdpRunMachine pause', () => {
  it('pause abandons the round (samples go back), ignores late gradients, and unpause serves the same samples first', () => {
    const m = new DdpRunMachine(base);
    m.dispatch({ type: 'start' });
    const fx = m.dispatch({ type: 'workerReady', workerId: 'a' });
    const slice = assigns(fx)[0]?.assignments[0]?.indices;
    const paused = m.dispatch({ type: 'pause' });
    expect(paused).toEqual([{ type: 'record', kind: 'paused', detail: { step: 0 } }]);
    expect(m.currentPhase).toBe('paused');
    expect(m.dispatch({ type: 'resultAccepted', workerId: 'a', step: 0, sampleCount: 8, loss: 1, accuracy: 0 })).toEqual([]);
    expect(m.dispatch({ type: 'workerReady', workerId: 'b' }).filter((e) => e.type === 'assign')).toEqual([]);
    const resumed = m.dispatch({ type: 'unpause' });
    const a = assigns(resumed)[0];
    expect(a?.step).toBe(0);
    expect([...(a?.assignments[0]?.indices ?? []), ...(a?.assignments[1]?.indices ?? [])].slice(0, 8)).toEqual(slice);
  });

  it('a pause during apply takes effect after the update; stop while paused checkpoints and ends', () => {
    const m = new DdpRunMachine(base);
    m.dispatch({ type: 'start' });
    m.dispatch({ type: 'workerReady', workerId: 'a' });
    m.dispatch({ type: 'resultAccepted', workerId: 'a', step: 0, sampleCount: 8, loss: 1, accuracy: 0 });
    expect(m.currentPhase).toBe('applying');
    expect(m.dispatch({ type: 'pause' })).toEqual([]);
    const after = m.dispatch({ type: 'updateApplied', step: 0 });
    expect(after.map((e) => e.type)).toEqual(['record']);
    expect(m.currentPhase).toBe('paused');
    expect(m.step).toBe(1);
    const stop = m.dispatch({ type: 'stop', reason: 'stopped' });
    expect(stop.map((e) => e.type)).toEqual(['checkpoint', 'finished']);
  });
});

describe('DdpRunMachine: slices by throughput, a fixed global batch, and a run that cannot progress', () => {
  /** Answers every slice of the round in `fx`, each worker taking `msPerSample[w]` per sample; returns the next effects. */
  function answerTimed(m: DdpRunMachine, fx: RunEffect[], msPerSample: Record<string, number>): { next: RunEffect[]; sizes: Record<string, number> } {
    const next: RunEffect[] = [];
    const sizes: Record<string, number> = {};
    for (const a of assigns(fx)) {
      for (const s of a.assignments) {
        sizes[s.workerId] = s.indices.length;
        const more = m.dispatch({ type: 'resultAccepted', workerId: s.workerId, step: a.step, sampleCount: s.indices.length, loss: 1, accuracy: 0, elapsedMs: s.indices.length * (msPerSample[s.workerId] ?? 1) });
        const apply = more.find((e) => e.type === 'applyUpdate');
        next.push(...more.filter((e) => e.type !== 'applyUpdate'));
        if (apply) next.push(...m.dispatch({ type: 'updateApplied', step: apply.step }));
      }
    }
    return { next, sizes };
  }

  it('sizes slices by measured samples/s so fast and slow finish together; the global batch stays fixed', () => {
    const m = new DdpRunMachine({ ...base, datasetSize: 6000, globalBatchSize: 60 });
    m.dispatch({ type: 'start' });
    let fx = m.dispatch({ type: 'workerReady', workerId: 'fast' });
    fx.push(...m.dispatch({ type: 'workerReady', workerId: 'slow' }));
    // Round 0 started with 'fast' alone (it was ready first): the whole global batch.
    let round = answerTimed(m, fx, { fast: 1, slow: 4 });
    expect(round.sizes).toEqual({ fast: 60 });
    // Round 1: both, unmeasured 'slow' counts as the mean: even split.
    round = answerTimed(m, round.next, { fast: 1, slow: 4 });
    expect(round.sizes).toEqual({ fast: 30, slow: 30 });
    // From then on the slices follow the speeds (4:1), converging as the estimate smooths.
    for (let i = 0; i < 12; i++) round = answerTimed(m, round.next, { fast: 1, slow: 4 });
    expect(round.sizes.fast! + round.sizes.slow!).toBe(60);
    expect(round.sizes.fast).toBeGreaterThanOrEqual(46);
    expect(round.sizes.fast).toBeLessThanOrEqual(50);
    fx = round.next;
    expect(assigns(fx)[0]?.assignments.reduce((a, s) => a + s.indices.length, 0)).toBe(60);
  });

  it('a worker far slower than the rest becomes a spare (an Event), never pacing the round; equal balance ignores speed', () => {
    const m = new DdpRunMachine({ ...base, datasetSize: 6000, globalBatchSize: 16 });
    m.dispatch({ type: 'start' });
    const fx = m.dispatch({ type: 'workerReady', workerId: 'gpu' });
    fx.push(...m.dispatch({ type: 'workerReady', workerId: 'tab' }));
    let round = answerTimed(m, fx, { gpu: 1, tab: 400 });
    let spareEvent: RunEffect | undefined;
    for (let i = 0; i < 10 && !spareEvent; i++) {
      round = answerTimed(m, round.next, { gpu: 1, tab: 400 });
      spareEvent = round.next.find((e) => e.type === 'record' && e.kind === 'worker_spare');
    }
    expect(spareEvent).toMatchObject({ workerId: 'tab' });
    expect(m.spareWorkers).toEqual(['tab']);
    expect(assigns(round.next)[0]?.assignments.map((a) => a.workerId)).toEqual(['gpu']);

    const eq = new DdpRunMachine({ ...base, datasetSize: 6000, sliceBalance: 'equal' });
    eq.dispatch({ type: 'start' });
    const efx = eq.dispatch({ type: 'workerReady', workerId: 'gpu' });
    efx.push(...eq.dispatch({ type: 'workerReady', workerId: 'tab' }));
    let er = answerTimed(eq, efx, { gpu: 1, tab: 400 });
    for (let i = 0; i < 5; i++) er = answerTimed(eq, er.next, { gpu: 1, tab: 400 });
    expect(er.sizes).toEqual({ gpu: 8, tab: 8 });
  });

  it('fails the run after max_failed_rounds rounds in which nothing was accepted, naming the last rejection', () => {
    const m = new DdpRunMachine({ ...base, maxFailedRounds: 3 });
    m.dispatch({ type: 'start' });
    let fx = m.dispatch({ type: 'workerReady', workerId: 'a' });
    const all: RunEffect[] = [];
    for (let i = 0; i < 5; i++) {
      const a = assigns(fx)[0];
      if (!a) break;
      fx = m.dispatch({ type: 'resultRejected', workerId: 'a', step: a.step, code: 'NORM_TOO_LARGE', reason: 'update norm 3e9 exceeds max_norm 1000000' });
      all.push(...fx);
    }
    const end = all.find((e) => e.type === 'finished');
    expect(end).toMatchObject({ status: 'failed', step: 0 });
    expect(end && end.type === 'finished' ? end.reason : '').toMatch(/no update accepted in 3 consecutive rounds at step 0; the last rejection: NORM_TOO_LARGE: update norm 3e9/);
    expect(m.currentPhase).toBe('finished');
  });
});
