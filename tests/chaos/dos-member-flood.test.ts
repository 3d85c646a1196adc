import { describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { syntheticConfig, waitForWorkers, type TestCoordinator } from '../integration/support/harness.ts';
import { chaosFixture } from './support/chaos-fixture.ts';

const chaos = chaosFixture();

/** The flood of issue 15, item 2: 4,000 schema-valid step:decline in 2 s. */
const FLOOD_MESSAGES = 4000;
const FLOOD_MS = 2000;
const TICK_MS = 20;
/** How long each rate is measured over. */
const WINDOW_MS = 2000;
const WARMUP_UPDATES = 50;

/** Updates the coordinator applies during the next `ms`, per second. */
function updatesPerSec(t: TestCoordinator, ms: number): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const on = () => (n += 1);
    t.coordinator.events.on('update', on);
    setTimeout(() => {
      t.coordinator.events.off('update', on);
      resolve((n * 1000) / ms);
    }, ms);
  });
}

async function eventRows(t: TestCoordinator, runId: string, workerId: string): Promise<{ all: number; declined: number; mine: number; kinds: string[] }> {
  const events = await t.coordinator.store.listEvents(runId, { take: 100_000 });
  return {
    all: events.length,
    declined: events.filter((e) => e.kind === 'step_declined').length,
    mine: events.filter((e) => e.workerId === workerId).length,
    kinds: events.map((e) => e.kind),
  };
}

/** How many rows of each kind `after` has beyond `before` (what the flood wrote). */
function newKinds(before: { kinds: string[] }, after: { kinds: string[] }): Record<string, number> {
  const count = (ks: string[]) => ks.reduce<Record<string, number>>((m, k) => ({ ...m, [k]: (m[k] ?? 0) + 1 }), {});
  const [b, a] = [count(before.kinds), count(after.kinds)];
  return Object.fromEntries(Object.entries(a).filter(([k, n]) => n > (b[k] ?? 0)).map(([k, n]) => [k, n - (b[k] ?? 0)]));
}

describe('a flood from a member (issue 15, item 2)', () => {
  it('4,000 step:decline in 2 s: training keeps >= 80% of its quiet rate, Event rows stay bounded, the flooder is disconnected', async () => {
    const t = await chaos.start();
    await t.joinWorkers(2);
    // The flooder is a member of the run like the others (it trains until it floods).
    const flooder = await chaos.join({ name: 'flooder' });
    await waitForWorkers(t.coordinator, 3);
    const session = await t.coordinator.startRun(
      // Equal slices: the in-process workers share one thread, so with throughput weighting the first
      // to answer looks fastest and may end up with the whole batch (the others spares), and the
      // quiet rate would be that of a one-worker fleet in some runs and of three in others.
      validateRunConfig(syntheticConfig({ total_updates: 1_000_000, eval_every: 1_000_000, checkpoint_every: 1_000_000, min_workers: 3, slice_balance: 'equal', optimizer: { name: 'sgd', lr: 0.01 } })),
    );
    // The quiet rate of this fleet, after a warm-up.
    await new Promise<void>((r) => {
      const on = (u: { step: number }) => {
        if (u.step < WARMUP_UPDATES) return;
        t.coordinator.events.off('update', on);
        r();
      };
      t.coordinator.events.on('update', on);
    });
    const quiet = await updatesPerSec(t, WINDOW_MS);
    const before = await eventRows(t, session.runId, flooder.workerId);

    const disconnected = flooder.nextEvent('disconnected');
    const errors: string[] = [];
    flooder.socket.on('crowdtrain:error', (e) => errors.push(e.message));
    const during = updatesPerSec(t, WINDOW_MS);
    let sent = 0;
    const perTick = (FLOOD_MESSAGES * TICK_MS) / FLOOD_MS;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (let i = 0; i < perTick && sent < FLOOD_MESSAGES; i++, sent++) {
          flooder.socket.emit('step:decline', { runId: session.runId, step: session.status().step, code: 'BACKEND_UNAVAILABLE', reason: `flood ${sent}` });
        }
        if (sent >= FLOOD_MESSAGES) {
          clearInterval(timer);
          resolve();
        }
      }, TICK_MS);
    });
    const flooded = await during;
    const gone = await disconnected;
    const after = await eventRows(t, session.runId, flooder.workerId);
    console.log(
      `member flood: quiet ${quiet.toFixed(1)} updates/s, during flood ${flooded.toFixed(1)} updates/s (${((100 * flooded) / quiet).toFixed(0)}%); ` +
        `Event rows +${after.all - before.all} ${JSON.stringify(newKinds(before, after))}; flooder: ${gone.type} ${JSON.stringify(gone)}; notices ${errors.length}`,
    );
    // The 80% (with equal slices measured 147-148% of quiet on SQLite and 144-173% on
    // PostgreSQL, 2-core machine: the flooder is cut off early in the window, and two workers share
    // one thread better than three).
    expect(flooded).toBeGreaterThanOrEqual(0.8 * quiet);
    // Coalesced: at most two step_declined rows per window from the flooder, plus a few about its
    // slices and its leaving; the run's other rows (its slice taken over, the honest workers'
    // spare changes) stay a handful too, whatever the 4,000 messages.
    const written = JSON.stringify(newKinds(before, after));
    expect(after.declined - before.declined, written).toBeLessThanOrEqual(2);
    expect(after.mine - before.mine, written).toBeLessThanOrEqual(10);
    expect(after.all - before.all, written).toBeLessThanOrEqual(16);
    expect(errors.some((m) => /rate limit/.test(m))).toBe(true);
    expect(t.coordinator.workers().map((w) => w.name)).not.toContain('flooder');
    expect(session.isEnded).toBe(false);
  });
});
