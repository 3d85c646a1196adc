import { describe, expect, it } from 'vitest';
import { FedavgRunMachine, parseFedavgSnapshot, type FedavgMachineOptions } from '../../../../core/run/fedavg/fedavg-run-machine.ts';
import type { RunEffect } from '../../../../core/run/run-machine.ts';

const base: FedavgMachineOptions = { seed: 3, datasetSize: 90, samplesPerClient: 10, totalRounds: 100, evalEvery: 100, checkpointEvery: 100, fraction: 1, minClients: 1 };

type Assign = Extract<RunEffect, { type: 'assign' }>;
const assignOf = (fx: RunEffect[]) => fx.find((e): e is Assign => e.type === 'assign');
const sampledOf = (fx: RunEffect[]) => fx.find((e) => e.type === 'record' && e.kind === 'clients_sampled') as Extract<RunEffect, { type: 'record' }> | undefined;

function started(opts: Partial<FedavgMachineOptions>, clients: number): { m: FedavgRunMachine; fx: RunEffect[] } {
  const m = new FedavgRunMachine({ ...base, ...opts });
  for (let i = 0; i < clients; i++) m.dispatch({ type: 'workerReady', workerId: `c${i}` });
  return { m, fx: m.dispatch({ type: 'start' }) };
}

/** Answers every assignment of a round; returns the next round's effects. */
function answer(m: FedavgRunMachine, a: Assign): RunEffect[] {
  let fx: RunEffect[] = [];
  for (const s of a.assignments) fx = [...fx, ...m.dispatch({ type: 'resultAccepted', workerId: s.workerId, step: a.step, sampleCount: s.indices.length, loss: 1, accuracy: 0 })];
  const apply = fx.find((e) => e.type === 'applyUpdate');
  expect(apply).toBeDefined();
  return [...fx, ...m.dispatch({ type: 'updateApplied', step: a.step })];
}

describe('FedavgRunMachine', () => {
  it('samples ceil(fraction × available) clients per round, records who, and gives each samplesPerClient disjoint indices', () => {
    const { m, fx } = started({ fraction: 0.5, minClients: 2 }, 5);
    const seen = new Set<string>();
    let a = assignOf(fx)!;
    let rec = sampledOf(fx)!;
    for (let round = 0; round < 6; round++) {
      expect(a.step).toBe(round);
      expect(a.assignments).toHaveLength(3); // ceil(0.5 × 5)
      expect(a.assignments.every((s) => s.indices.length === 10)).toBe(true);
      expect(rec.detail).toEqual({ step: round, attempt: 0, available: 5, sampled: a.assignments.map((s) => s.workerId) });
      const all = a.assignments.flatMap((s) => s.indices);
      expect(new Set(all).size).toBe(all.length);
      for (const s of a.assignments) seen.add(s.workerId);
      const next = answer(m, a);
      a = assignOf(next)!;
      rec = sampledOf(next)!;
    }
    expect(seen.size).toBe(5); // seeded sampling changes the clients between rounds
  });

  it('waits for min_clients, and `clients` fixes the count', () => {
    const { m, fx } = started({ clients: 2, minClients: 2 }, 1);
    expect(assignOf(fx)).toBeUndefined();
    expect(assignOf(m.dispatch({ type: 'workerReady', workerId: 'late' }))?.assignments).toHaveLength(2);
    const { fx: fx4 } = started({ clients: 2, minClients: 2 }, 4);
    expect(assignOf(fx4)?.assignments).toHaveLength(2);
  });

  it('trains every sample once per epoch across rounds', () => {
    const { m, fx: first } = started({ fraction: 1 }, 3);
    const trained: number[] = [];
    let a = assignOf(first)!;
    while (a.epoch === 0) {
      trained.push(...a.assignments.flatMap((s) => s.indices));
      a = assignOf(answer(m, a))!;
    }
    expect(trained.sort((x, y) => x - y)).toEqual(Array.from({ length: 90 }, (_, i) => i));
  });

  it('a client that leaves is not counted; a round with fewer than min_clients reports is retried with new clients and its samples back', () => {
    const { m, fx } = started({ clients: 3, minClients: 2 }, 4);
    const a = assignOf(fx)!;
    const [x, y, z] = a.assignments;
    expect(m.dispatch({ type: 'resultAccepted', workerId: x!.workerId, step: 0, sampleCount: 10, loss: 1, accuracy: 0 })).toEqual([]);
    const left = m.dispatch({ type: 'workerLeft', workerId: y!.workerId, reason: 'closed' });
    expect(left.find((e) => e.type === 'record' && e.kind === 'client_dropped')).toBeDefined();
    const retried = m.dispatch({ type: 'resultRejected', workerId: z!.workerId, step: 0, code: 'NON_FINITE', reason: 'NaN' });
    expect(retried.find((e) => e.type === 'applyUpdate')).toBeUndefined();
    expect(retried.find((e) => e.type === 'record' && e.kind === 'round_retried')).toMatchObject({ detail: { step: 0, reported: 1, minClients: 2 } });
    const again = assignOf(retried)!;
    expect(again.step).toBe(0);
    expect(again.assignments.map((s) => s.workerId)).not.toContain(y!.workerId);
    // The retry serves the given-back samples first: the same 30 indices as the first attempt.
    expect(again.assignments.flatMap((s) => s.indices).sort()).toEqual(a.assignments.flatMap((s) => s.indices).sort());
    const applied = answer(m, again);
    const apply = applied.find((e): e is Extract<RunEffect, { type: 'applyUpdate' }> => e.type === 'applyUpdate')!;
    expect(apply.contributions.map((c) => c.workerId)).toEqual(again.assignments.map((s) => s.workerId));
    expect(m.step).toBe(1);
  });

  it('snapshots round and sampler, and a restored machine continues the same rounds', () => {
    const { m, fx } = started({ clients: 2, checkpointEvery: 1 }, 2);
    const next = answer(m, assignOf(fx)!);
    // The checkpoint's snapshot is taken before the next round draws its samples.
    const ckpt = next.find((e): e is Extract<RunEffect, { type: 'checkpoint' }> => e.type === 'checkpoint')!;
    const snap = parseFedavgSnapshot(JSON.parse(JSON.stringify(ckpt.snapshot)) as never);
    expect(snap.step).toBe(1);
    const restored = new FedavgRunMachine({ ...base, clients: 2, checkpointEvery: 1 }, snap);
    restored.dispatch({ type: 'workerReady', workerId: 'c0' });
    restored.dispatch({ type: 'workerReady', workerId: 'c1' });
    const r = assignOf(restored.dispatch({ type: 'start' }))!;
    expect(r.step).toBe(1);
    expect(r.assignments.flatMap((s) => s.indices)).toEqual(assignOf(next)!.assignments.flatMap((s) => s.indices));
    expect(() => parseFedavgSnapshot({ step: -1 })).toThrow(/fedavg machine snapshot/);
  });
});

describe('FedavgRunMachine and min_workers', () => {
  it('waits for min_workers before its first round only', () => {
    const m = new FedavgRunMachine({ ...base, minWorkers: 3, clients: 1 });
    m.dispatch({ type: 'start' });
    expect(assignOf(m.dispatch({ type: 'workerReady', workerId: 'a' }))).toBeUndefined();
    expect(assignOf(m.dispatch({ type: 'workerReady', workerId: 'b' }))).toBeUndefined();
    const first = assignOf(m.dispatch({ type: 'workerReady', workerId: 'c' }))!;
    expect(first.assignments).toHaveLength(1);
    const [s] = first.assignments;
    expect(m.dispatch({ type: 'resultAccepted', workerId: s!.workerId, step: 0, sampleCount: s!.indices.length, loss: 1, accuracy: 0 }).some((e) => e.type === 'applyUpdate')).toBe(true);
    const others = ['a', 'b', 'c'].filter((w) => w !== 'c');
    for (const w of others) m.dispatch({ type: 'workerLeft', workerId: w, reason: 'closed' });
    // Two of three left: later rounds go on with whoever is there.
    expect(assignOf(m.dispatch({ type: 'updateApplied', step: 0 }))?.assignments.map((x) => x.workerId)).toEqual(['c']);
  });
});
