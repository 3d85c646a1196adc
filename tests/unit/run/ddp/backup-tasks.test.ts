import { describe, expect, it } from 'vitest';
import { DdpRunMachine, type RunEffect, type RunMachineOptions } from '../../../../core/run/ddp/ddp-run-machine.ts';
import type { Assignment } from '../../../../core/run/run-machine.ts';

const base: RunMachineOptions = {
  seed: 3,
  datasetSize: 60,
  batchSizePerWorker: 4,
  globalBatchSize: 12,
  totalUpdates: 1000,
  minWorkers: 3,
  evalEvery: 1000,
  checkpointEvery: 1000,
  sliceBalance: 'equal',
};

type Assign = Extract<RunEffect, { type: 'assign' }>;
type Apply = Extract<RunEffect, { type: 'applyUpdate' }>;
const assignOf = (fx: RunEffect[]) => fx.find((e): e is Assign => e.type === 'assign');
const applyOf = (fx: RunEffect[]) => fx.find((e): e is Apply => e.type === 'applyUpdate');
const records = (fx: RunEffect[], kind: string) => fx.filter((e) => e.type === 'record' && e.kind === kind);

function started(opts: Partial<RunMachineOptions> = {}): { m: DdpRunMachine; first: Assign } {
  const m = new DdpRunMachine({ ...base, ...opts });
  m.dispatch({ type: 'start' });
  m.dispatch({ type: 'workerReady', workerId: 'a' });
  m.dispatch({ type: 'workerReady', workerId: 'b' });
  const first = assignOf(m.dispatch({ type: 'workerReady', workerId: 'slow' }));
  if (!first) throw new Error('no first round');
  return { m, first };
}

function sliceOf(a: Assign, workerId: string): number[] {
  const s = a.assignments.find((x) => x.workerId === workerId);
  if (!s) throw new Error(`${workerId} has no slice`);
  return s.indices;
}

function answer(m: DdpRunMachine, step: number, workerId: string, indices: readonly number[], elapsedMs: number, loss = 1): RunEffect[] {
  return m.dispatch({ type: 'resultAccepted', workerId, step, sampleCount: indices.length, loss, accuracy: 0.5, elapsedMs });
}

/** The samples each applied update trained (by the slices the machine reports, else the round's assignments). */
function trained(apply: Apply, round: Assignment[]): number[] {
  const ids = new Set(apply.contributions.map((c) => c.workerId));
  return (apply.slices ?? round.filter((a) => ids.has(a.workerId))).flatMap((s) => s.indices);
}

describe('DdpRunMachine backup tasks', () => {
  it('waits max(3 x median, floor) for a late slice, then gives it to the earliest finisher; the backup answer counts once', () => {
    const { m, first } = started();
    expect(answer(m, 0, 'a', sliceOf(first, 'a'), 100)).toEqual([]);
    // All other slices are in: the slice of `slow` is due for a backup at max(3 x 110, 200) = 330 ms.
    const fx = answer(m, 0, 'b', sliceOf(first, 'b'), 120);
    expect(fx).toEqual([{ type: 'armWake', step: 0, afterMs: 210 }]);
    const woke = m.dispatch({ type: 'wake', step: 0 });
    const backup = assignOf(woke);
    expect(backup).toEqual({ type: 'assign', step: 0, epoch: 0, paramsVersion: 0, backup: true, assignments: [{ workerId: 'a', indices: sliceOf(first, 'slow') }] });
    expect(records(woke, 'backup_assigned')[0]).toMatchObject({ workerId: 'a', detail: { slowWorker: 'slow', thresholdMs: 330 } });
    // The backup worker now holds the slow worker's slice; the slow worker still holds its own.
    expect(m.sliceOf('a')).toEqual(sliceOf(first, 'slow'));
    expect(m.sliceOf('slow')).toEqual(sliceOf(first, 'slow'));

    const done = answer(m, 0, 'a', sliceOf(first, 'slow'), 460, 3);
    const apply = applyOf(done);
    expect(apply?.contributions).toEqual([
      { workerId: 'a', sampleCount: 8, loss: 2, accuracy: 0.5 },
      { workerId: 'b', sampleCount: 4, loss: 1, accuracy: 0.5 },
    ]);
    expect(apply?.slices).toEqual([
      { workerId: 'a', indices: sliceOf(first, 'a') },
      { workerId: 'b', indices: sliceOf(first, 'b') },
      { workerId: 'a', indices: sliceOf(first, 'slow') },
    ]);
    expect(trained(apply!, first.assignments).sort((x, y) => x - y)).toEqual(first.assignments.flatMap((s) => s.indices).sort((x, y) => x - y));
    // The slow worker lost the race: a strike, benched for the next round; its late answer is ignored.
    expect(records(done, 'worker_penalised')[0]).toMatchObject({ workerId: 'slow', detail: { strikes: 1, benchedRounds: 1, sliceScale: 1, spare: false } });
    expect(m.sliceOf('slow')).toBeUndefined();
    expect(answer(m, 0, 'slow', sliceOf(first, 'slow'), 900)).toEqual([]);
    const next = assignOf(m.dispatch({ type: 'updateApplied', step: 0 }));
    expect(next?.assignments.map((s) => s.workerId)).toEqual(['a', 'b']);
    expect(next?.assignments.flatMap((s) => s.indices)).toHaveLength(12);
  });

  it('lets the first holder win the race: the backup is dropped and nobody is penalised', () => {
    const { m, first } = started();
    answer(m, 0, 'a', sliceOf(first, 'a'), 100);
    answer(m, 0, 'b', sliceOf(first, 'b'), 100);
    m.dispatch({ type: 'wake', step: 0 });
    expect(m.sliceOf('a')).toEqual(sliceOf(first, 'slow'));
    const done = answer(m, 0, 'slow', sliceOf(first, 'slow'), 350);
    const apply = applyOf(done);
    expect(apply?.contributions.map((c) => [c.workerId, c.sampleCount])).toEqual([
      ['a', 4],
      ['b', 4],
      ['slow', 4],
    ]);
    expect(trained(apply!, [...first.assignments, { workerId: 'a', indices: sliceOf(first, 'slow') }])).toHaveLength(12);
    expect(records(done, 'worker_penalised')).toEqual([]);
    // The backup's answer would now be a second answer of one slice: the inbox refuses it; the machine ignores it.
    expect(m.sliceOf('a')).toEqual(sliceOf(first, 'a'));
    expect(m.strikesOf('slow')).toBe(0);
  });

  it('uses the floor when slices are fast, and backs up a worker with strikes as soon as the other slices are in', () => {
    const { m, first } = started();
    answer(m, 0, 'a', sliceOf(first, 'a'), 10);
    expect(answer(m, 0, 'b', sliceOf(first, 'b'), 12)).toEqual([{ type: 'armWake', step: 0, afterMs: 188 }]);
    m.dispatch({ type: 'wake', step: 0 });
    answer(m, 0, 'a', sliceOf(first, 'slow'), 220);
    // Round 1: slow is benched. Round 2: it takes part again, and is backed up without waiting.
    let r = assignOf(m.dispatch({ type: 'updateApplied', step: 0 }))!;
    for (const s of r.assignments) answer(m, 1, s.workerId, s.indices, 10);
    r = assignOf(m.dispatch({ type: 'updateApplied', step: 1 }))!;
    expect(r.assignments.map((s) => s.workerId)).toEqual(['a', 'b', 'slow']);
    answer(m, 2, 'a', sliceOf(r, 'a'), 10);
    const fx = answer(m, 2, 'b', sliceOf(r, 'b'), 11);
    expect(assignOf(fx)?.assignments).toEqual([{ workerId: 'a', indices: sliceOf(r, 'slow') }]);
  });

  it('prefers an idle member (no slice this round) as the backup', () => {
    const m = new DdpRunMachine({ ...base, globalBatchSize: 3, minWorkers: 4 });
    m.dispatch({ type: 'start' });
    for (const w of ['a', 'b', 'slow']) m.dispatch({ type: 'workerReady', workerId: w });
    const r = assignOf(m.dispatch({ type: 'workerReady', workerId: 'idle' }))!;
    expect(r.assignments.map((s) => s.workerId)).toEqual(['a', 'b', 'slow']);
    answer(m, 0, 'a', sliceOf(r, 'a'), 100);
    answer(m, 0, 'b', sliceOf(r, 'b'), 100);
    expect(assignOf(m.dispatch({ type: 'wake', step: 0 }))?.assignments.map((s) => s.workerId)).toEqual(['idle']);
  });

  it('does not back up while more than a quarter of the slices (at least one) are out, and ignores a stale wake-up', () => {
    const { m, first } = started();
    expect(m.dispatch({ type: 'wake', step: 0 })).toEqual([]);
    answer(m, 0, 'a', sliceOf(first, 'a'), 100);
    expect(m.dispatch({ type: 'wake', step: 0 })).toEqual([]);
    expect(m.sliceOf('a')).toEqual(sliceOf(first, 'a'));
    answer(m, 0, 'b', sliceOf(first, 'b'), 100);
    answer(m, 0, 'slow', sliceOf(first, 'slow'), 150);
    m.dispatch({ type: 'updateApplied', step: 0 });
    expect(m.dispatch({ type: 'wake', step: 0 })).toEqual([]);
  });

  it('when the slow worker and then its backup leave, the last member takes the slice over in the round; each sample once', () => {
    const { m, first } = started();
    answer(m, 0, 'a', sliceOf(first, 'a'), 100);
    answer(m, 0, 'b', sliceOf(first, 'b'), 100);
    m.dispatch({ type: 'wake', step: 0 });
    // The slow worker leaves: its backup alone can answer the slice now, so it is not given back
    // yet; the Event says the slice is the backup's.
    const gone = records(m.dispatch({ type: 'workerLeft', workerId: 'slow', reason: 'gone' }), 'slice_reassigned');
    expect(gone).toHaveLength(1);
    expect(gone[0]).toMatchObject({ workerId: 'slow', detail: { toBackup: 'a' } });
    // Its backup leaves too: b (done with its own slice) takes the slice over in the same round.
    const left = m.dispatch({ type: 'workerLeft', workerId: 'a', reason: 'gone too' });
    expect(records(left, 'slice_reassigned')[0]).toMatchObject({ workerId: 'slow', detail: { inRound: true, reassignedSamples: 4 } });
    expect(records(left, 'slice_taken_over')[0]).toMatchObject({ workerId: 'b', detail: { from: 'slow', samples: 4 } });
    expect(assignOf(left)).toEqual({ type: 'assign', step: 0, epoch: 0, paramsVersion: 0, backup: true, assignments: [{ workerId: 'b', indices: sliceOf(first, 'slow') }] });
    expect(applyOf(left)).toBeUndefined();
    expect(m.sliceOf('b')).toEqual(sliceOf(first, 'slow'));
    const apply = applyOf(answer(m, 0, 'b', sliceOf(first, 'slow'), 100));
    // The whole batch went in: a's delivered result, b's own slice and the slow slice by b.
    expect(apply?.contributions).toMatchObject([
      { workerId: 'a', sampleCount: 4 },
      { workerId: 'b', sampleCount: 8 },
    ]);
    expect(apply?.slices?.map((s) => s.workerId)).toEqual(['a', 'b', 'b']);
    expect(trained(apply!, first.assignments).sort((x, y) => x - y)).toEqual(first.assignments.flatMap((s) => s.indices).sort((x, y) => x - y));
    // Nothing went back to the sampler: the next round draws fresh samples.
    const next = assignOf(m.dispatch({ type: 'updateApplied', step: 0 }))!;
    const seen = new Set(first.assignments.flatMap((s) => s.indices));
    expect(next.assignments.flatMap((s) => s.indices).filter((i) => seen.has(i))).toEqual([]);
  });

  it('a left slice waits for the first member to finish, and goes back to the sampler when nobody is left', () => {
    const { m, first } = started();
    // Nobody is free when slow leaves: its slice waits in the round (no update yet).
    const left = m.dispatch({ type: 'workerLeft', workerId: 'slow', reason: 'gone' });
    expect(records(left, 'slice_reassigned')[0]).toMatchObject({ workerId: 'slow', detail: { inRound: true } });
    expect(assignOf(left)).toBeUndefined();
    // a finishes first and takes it over.
    const fx = answer(m, 0, 'a', sliceOf(first, 'a'), 100);
    expect(assignOf(fx)?.assignments).toEqual([{ workerId: 'a', indices: sliceOf(first, 'slow') }]);
    // a and b leave: the slice a took over, and b's own, go back to the sampler; a's delivered result is applied.
    m.dispatch({ type: 'workerLeft', workerId: 'a', reason: 'gone' });
    const last = m.dispatch({ type: 'workerLeft', workerId: 'b', reason: 'gone' });
    const apply = applyOf(last);
    expect(apply?.contributions.map((c) => c.workerId)).toEqual(['a']);
    expect(trained(apply!, first.assignments)).toEqual(sliceOf(first, 'a'));
    m.dispatch({ type: 'updateApplied', step: 0 });
    const back = assignOf(m.dispatch({ type: 'workerReady', workerId: 'c' }))!;
    expect(back.assignments.flatMap((s) => s.indices).slice(0, 8).sort((x, y) => x - y)).toEqual([...sliceOf(first, 'slow'), ...sliceOf(first, 'b')].sort((x, y) => x - y));
  });

  it('a mode without backups gives a left slice back to the sampler at once', () => {
    const { m, first } = started({ backup: false });
    const left = m.dispatch({ type: 'workerLeft', workerId: 'slow', reason: 'gone' });
    expect(records(left, 'slice_reassigned')[0]).toMatchObject({ workerId: 'slow', detail: { reassignedSamples: 4 } });
    answer(m, 0, 'a', sliceOf(first, 'a'), 100);
    const apply = applyOf(answer(m, 0, 'b', sliceOf(first, 'b'), 100));
    expect(apply?.contributions.map((c) => c.workerId)).toEqual(['a', 'b']);
    const next = assignOf(m.dispatch({ type: 'updateApplied', step: 0 }))!;
    expect(next.assignments.flatMap((s) => s.indices).slice(0, 4)).toEqual(sliceOf(first, 'slow'));
  });

  it('at the deadline drops the backup, evicts and penalises the slow worker, and gives its slice back', () => {
    const { m, first } = started();
    answer(m, 0, 'a', sliceOf(first, 'a'), 100);
    answer(m, 0, 'b', sliceOf(first, 'b'), 100);
    m.dispatch({ type: 'wake', step: 0 });
    const dl = m.dispatch({ type: 'deadline', step: 0 });
    expect(dl.filter((e) => e.type === 'evict').map((e) => e.type === 'evict' && e.workerId)).toEqual(['slow']);
    expect(records(dl, 'worker_penalised')[0]).toMatchObject({ workerId: 'slow', detail: { strikes: 1 } });
    expect(applyOf(dl)?.contributions.map((c) => c.workerId)).toEqual(['a', 'b']);
    expect(m.sliceOf('a')).toEqual(sliceOf(first, 'a'));
  });
});

describe('DdpRunMachine penalties for a silent worker that rejoins', () => {
  /** Plays rounds in which `slow` never answers (backed up by the others); it rejoins whenever it is evicted. */
  function playSilentRejoiner(rounds: number) {
    const { m, first } = started();
    let round: Assign | undefined = first;
    const slowSlices: number[] = [];
    const events: RunEffect[] = [];
    const epochs = new Map<number, number[]>();
    for (let step = 0; step < rounds; step++) {
      if (!round) throw new Error(`no round at step ${step}`);
      const sizes = new Map(round.assignments.map((s) => [s.workerId, s.indices.length]));
      slowSlices.push(sizes.get('slow') ?? 0);
      const all: Assignment[] = [...round.assignments];
      const fx: RunEffect[] = [];
      for (const s of round.assignments) if (s.workerId !== 'slow') fx.push(...answer(m, step, s.workerId, s.indices, 100));
      if (!applyOf(fx)) {
        fx.push(...m.dispatch({ type: 'wake', step }));
        const b = assignOf(fx.filter((e) => e.type === 'assign' && e.backup));
        if (!b) throw new Error(`no backup at step ${step}`);
        all.push(...b.assignments);
        for (const s of b.assignments) fx.push(...answer(m, step, s.workerId, s.indices, 400));
      }
      const apply = applyOf(fx);
      if (!apply) throw new Error(`no update at step ${step}`);
      const list = epochs.get(apply.epoch) ?? [];
      list.push(...trained(apply, all));
      epochs.set(apply.epoch, list);
      events.push(...fx);
      // The silent worker rejoins after each eviction (none here: backups answer first) and also drops and rejoins now and then.
      if (step % 3 === 2) {
        m.dispatch({ type: 'workerLeft', workerId: 'slow', reason: 'reconnect' });
        m.dispatch({ type: 'workerReady', workerId: 'slow' });
      }
      round = assignOf(m.dispatch({ type: 'updateApplied', step }));
    }
    return { m, slowSlices, events, epochs };
  }

  it('benches it for a doubling number of rounds, shrinks its slices, then makes it a spare, remembered across rejoins', () => {
    const { m, slowSlices, events } = playSilentRejoiner(40);
    const penalties = events.filter((e) => e.type === 'record' && (e.kind === 'worker_penalised' || e.kind === 'worker_spare'));
    expect(penalties.map((e) => e.type === 'record' && [e.kind, e.detail.strikes, e.detail.benchedRounds, e.detail.sliceScale])).toEqual([
      ['worker_penalised', 1, 1, 1],
      ['worker_penalised', 2, 2, 0.5],
      ['worker_penalised', 3, 4, 0.25],
      ['worker_spare', 4, 8, 0.125],
    ]);
    // Rounds it got a slice in: 0, benched 1, 2, benched 2, 5, benched 4, 10, then none (a spare). Its share:
    // full (4 of 12) after one strike, half a share after two (12 x 0.5/2.5 = 2.4), a quarter after three
    // (12 x 0.25/2.25 = 1.33, which the largest remainder rounds up to 2).
    const taken = slowSlices.map((n, i) => [i, n]).filter(([, n]) => n! > 0);
    expect(taken.map(([i]) => i)).toEqual([0, 2, 5, 10]);
    expect(taken.map(([, n]) => n)).toEqual([4, 4, 2, 2]);
    expect(slowSlices.slice(11).every((n) => n === 0)).toBe(true);
    expect(m.strikesOf('slow')).toBe(4);
    expect(m.activeWorkers).toContain('slow');
  });

  it('keeps every epoch covering each sample exactly once', () => {
    const { epochs } = playSilentRejoiner(30);
    const complete = [...epochs.keys()].sort((a, b) => a - b).slice(0, -1);
    expect(complete.length).toBeGreaterThanOrEqual(4);
    for (const e of complete) {
      const idx = epochs.get(e)!;
      expect(idx).toHaveLength(60);
      expect(new Set(idx).size).toBe(60);
    }
  });

  it('forgives a strike after 10 results in time in a row', () => {
    const { m, first } = started();
    answer(m, 0, 'a', sliceOf(first, 'a'), 100);
    answer(m, 0, 'b', sliceOf(first, 'b'), 100);
    m.dispatch({ type: 'wake', step: 0 });
    answer(m, 0, 'a', sliceOf(first, 'slow'), 400);
    expect(m.strikesOf('slow')).toBe(1);
    let round = assignOf(m.dispatch({ type: 'updateApplied', step: 0 }));
    const eased: RunEffect[] = [];
    for (let step = 1; step < 14 && round; step++) {
      for (const s of round.assignments) eased.push(...records(answer(m, step, s.workerId, s.indices, 100), 'worker_penalised'));
      round = assignOf(m.dispatch({ type: 'updateApplied', step }));
    }
    expect(m.strikesOf('slow')).toBe(0);
    expect(eased).toHaveLength(1);
    expect(eased[0]).toMatchObject({ workerId: 'slow', detail: { strikes: 0 } });
  });
});
