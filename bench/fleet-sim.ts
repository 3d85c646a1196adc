/**
 * fleet-sim: how the coordinator's cost grows with the fleet. For 16, 64, 256 and 1,024 simulated
 * workers (real socket.io clients in a few child processes on 127.0.0.1, speaking protocol v3 as
 * core/worker does and replying with valid precomputed gradients of a 101,770-parameter MLP
 * 784-128-10; bench/support/fleet-sim-client.ts) a real coordinator in this process trains a DDP
 * run with a fixed global batch of 1,024 samples per update, split evenly. Over a steady-state
 * window it measures the coordinator process's CPU per update, the bytes its sockets read and
 * wrote per update, its event-loop delay p99 and the updates/s.
 *
 * `ratio` = cpu(1024) ÷ (16 × cpu(64)): 1 when the cost per worker stays the same from 64 to 1,024
 * workers (target ≤ 1.3); also targeted: event-loop p99 ≤ 100 ms at 1,024. The CPU per worker per
 * update is also given as a multiple of one Float32Array.set of the gradient measured in this
 * process (`details.cpuPerWorkerUpdateInSets`, at the largest fleet; per fleet size in
 * `cpuPerWorkerUpdateInSetsByFleet`).
 *
 * FLEET_SIM_SIZES (e.g. `16,64`) runs other fleet sizes; the ratio needs 64 and 1024.
 * FLEET_SIM_PROFILE_DIR=DIR writes a V8 CPU profile of each window, `DIR/fleet-sim-<N>.cpuprofile`
 * (the profiler's own cost then inflates the figures: profile and measure in separate runs).
 */
import { z } from 'zod';
import type { BenchResult } from './bench-result.ts';
import { validateRunConfig, type RunConfig } from '../core/config/run-config.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import type { AppliedUpdate, RunOutcome } from '../coordinator/run/run-session.ts';
import { startSimCoordinator } from './support/fleet-sim-coordinator.ts';
import { SimFleet, type SimFleetStats } from './support/fleet-sim-fleet.ts';
import { precomputeGradients, type PrecomputedGradients } from './support/fleet-sim-gradient.ts';
import os from 'node:os';
import path from 'node:path';
import { CoordinatorProbe, countEventKinds, float32SetMedianMs, WindowProfiler, type WindowMeasure } from './support/fleet-sim-probe.ts';
import { timeStoreCalls, type StoreCallTimes } from './support/store-call-timer.ts';

const DEFAULT_SIZES = [16, 64, 256, 1024];
/** Samples per update whatever the fleet size: one per worker at 1,024. */
const GLOBAL_BATCH = 1024;
/** Client processes the simulated workers are spread over (fewer for a smaller fleet). */
const CLIENT_PROCESSES = 4;
/** Distinct precomputed gradients (one per client process) and the slice each is computed on. */
const GRADIENTS = CLIENT_PROCESSES;
const GRADIENT_SLICE = 32;
/** Updates left out before the window (the first rounds send the parameters to everyone for the first time, JIT warms up). */
const WARMUP_UPDATES = 3;
/** The window lasts at least this many updates and this long, at most MAX_WINDOW_UPDATES updates. */
const MIN_WINDOW_UPDATES = 4;
const MIN_WINDOW_MS = 4000;
const MAX_WINDOW_UPDATES = 200;
/** Hellos in flight per client process while the fleet connects. */
const CONNECT_CONCURRENCY = 32;
/** Time limits of one fleet size (a stuck fleet fails the bench instead of hanging it). */
const JOIN_TIMEOUT_MS = 180_000;
const RUN_TIMEOUT_MS = 300_000;
/** Targets. */
const TARGET_RATIO = 1.3;
const TARGET_P99_MS = 100;

const SizesSchema = z
  .string()
  .transform((s) => s.split(',').map((x) => Number(x.trim())))
  .pipe(z.array(z.int().min(1).max(4096)).min(1));

/** The fleet sizes to run: FLEET_SIM_SIZES or the default four. */
function fleetSizes(): number[] {
  const raw = process.env.FLEET_SIM_SIZES;
  if (raw === undefined || raw === '') return DEFAULT_SIZES;
  const parsed = SizesSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`FLEET_SIM_SIZES=${JSON.stringify(raw)} must be a comma-separated list of fleet sizes in [1, 4096], e.g. 16,64`);
  for (const n of parsed.data) if (GLOBAL_BATCH % n !== 0) throw new Error(`fleet size ${n} does not divide the global batch of ${GLOBAL_BATCH}`);
  return parsed.data;
}

/** The run every fleet trains: an MLP 784-128-10 (101,770 parameters) on synthetic MNIST-shaped data. */
function simRunConfig(workers: number): RunConfig {
  return validateRunConfig({
    name: `fleet-sim-${workers}`,
    experiment: 'bench',
    seed: 7,
    model: { type: 'mlp', hidden: [128] },
    dataset: { name: 'synthetic', shape: [784], classes: 10, train_size: 8192, test_size: 64, seed: 3 },
    optimizer: { name: 'adam', lr: 0.001 },
    batch_size: GLOBAL_BATCH / workers,
    global_batch_size: GLOBAL_BATCH,
    // Even slices: every worker contributes to every update (throughput balance would make spares of
    // the slower half at one sample per worker).
    slice_balance: 'equal',
    total_updates: 100_000,
    eval_every: 100_000,
    checkpoint_every: 100_000,
    min_workers: workers,
    step_timeout: '600s',
  });
}

/** What one fleet size showed. */
export interface FleetMeasure {
  workers: number;
  windowUpdates: number;
  window: WindowMeasure;
  updatesPerSec: number;
  cpuMsPerUpdate: number;
  cpuMsPerWorkerUpdate: number;
  bytesInPerUpdate: number;
  bytesOutPerUpdate: number;
  /** Gradient / parameter payload per update if every worker gets the params and sends one result (no framing). */
  payloadBytesPerUpdateEachWay: number;
  joinMs: number;
  firstUpdateMs: number;
  workerLeavesInWindow: number;
  /** Samples of the smallest update in the window (the global batch unless a slice went back to the sampler). */
  minSamplesPerUpdate: number;
  /** Tracking-store calls per update in the window (each a database round trip), by method. */
  storeCallsPerUpdate: Record<string, number>;
  /** Events the run recorded in the window, by kind (backup_answered, slice_reassigned, ...). */
  eventsInWindow: Record<string, number>;
  /** Contributors of the smallest and largest update in the window (all workers unless some are benched, gone or rejoining). */
  contributorsPerUpdate: { min: number; max: number };
  /** Workers that left from the run's start to the window's end, by the coordinator's reason. */
  leavesByReason: Record<string, number>;
  /** The first errors the client processes reported (connect errors, refused hellos). */
  clientErrors: string[];
  /** Commits refused in the window as late answers (lost backup races), and after it (the round the stop abandoned). */
  lateCommitsInWindow: number;
  refusedAfterWindow: number;
  clients: SimFleetStats;
}

/** Calls `at(k, update)` synchronously at the k-th applied update of `runId` (before the next round is sent) and resolves once it returns true; rejects when the run ends first, `at` throws, or RUN_TIMEOUT_MS passes. */
function watchUpdates(c: Coordinator, runId: string, at: (k: number, u: AppliedUpdate) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let k = 0;
    const done = (err?: Error) => {
      clearTimeout(timer);
      c.events.off('update', onUpdate);
      c.events.off('run-ended', onEnded);
      if (err) reject(err);
      else resolve();
    };
    const onUpdate = (u: AppliedUpdate) => {
      if (u.runId !== runId) return;
      k += 1;
      try {
        if (at(k, u)) done();
      } catch (err) {
        done(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const onEnded = (id: string, o: RunOutcome) => {
      if (id === runId) done(new Error(`run ${runId} ended (${o.status}: ${o.reason}) after ${k} updates`));
    };
    const timer = setTimeout(() => done(new Error(`run ${runId}: only ${k} updates within ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
    c.events.on('update', onUpdate);
    c.events.on('run-ended', onEnded);
  });
}

/** Starts a coordinator and a simulated fleet of `workers`, trains until the window is measured, tears everything down. */
async function measureFleet(workers: number, grads: PrecomputedGradients): Promise<FleetMeasure> {
  const sim = await startSimCoordinator(workers);
  const c = sim.coordinator;
  const probe = new CoordinatorProbe(c);
  const storeTimer = timeStoreCalls(c.store);
  const eventKinds = countEventKinds(c.store);
  let fleet: SimFleet | null = null;
  try {
    const joinStart = performance.now();
    fleet = await SimFleet.start({
      url: c.url,
      token: sim.token,
      workers,
      processes: Math.min(CLIENT_PROCESSES, workers),
      gradients: grads.gradients,
      paramCount: grads.paramCount,
      datasetSize: grads.datasetSize,
      connectConcurrency: CONNECT_CONCURRENCY,
      joinTimeoutMs: JOIN_TIMEOUT_MS,
    });
    if (c.workers().length < workers) throw new Error(`${c.workers().length} of ${workers} simulated workers are connected after every hello was acked`);
    const joinMs = performance.now() - joinStart;

    let leaves = 0;
    let inWindow = false;
    let measuring = true;
    const leavesByReason: Record<string, number> = {};
    const onLeft = (_id: string, reason: string) => {
      if (inWindow) leaves += 1;
      if (measuring) leavesByReason[reason] = (leavesByReason[reason] ?? 0) + 1;
    };
    c.events.on('worker-left', onLeft);
    const runStart = performance.now();
    const session = await c.startRun(simRunConfig(workers));
    let firstUpdateMs = Number.NaN;
    let windowUpdates = 0;
    let window: WindowMeasure | null = null;
    let minSamples = Infinity;
    const contributors = { min: Infinity, max: 0 };
    let storeCalls: StoreCallTimes = {};
    let events: Record<string, number> = {};
    const profileDir = process.env.FLEET_SIM_PROFILE_DIR;
    const profiling: { run: Promise<WindowProfiler> | null } = { run: null };
    try {
      await watchUpdates(c, session.runId, (k, u) => {
        if (k === 1) firstUpdateMs = performance.now() - runStart;
        if (k > WARMUP_UPDATES) {
          minSamples = Math.min(minSamples, u.slices.reduce((a, sl) => a + sl.indices.length, 0));
          const n = new Set(u.slices.map((sl) => sl.workerId)).size;
          contributors.min = Math.min(contributors.min, n);
          contributors.max = Math.max(contributors.max, n);
        }
        if (k === WARMUP_UPDATES) {
          if (profileDir) profiling.run = WindowProfiler.start();
          storeTimer.start();
          eventKinds.start();
          probe.begin();
          inWindow = true;
          return false;
        }
        if (k < WARMUP_UPDATES) return false;
        const n = k - WARMUP_UPDATES;
        const enough = n >= MAX_WINDOW_UPDATES || (n >= MIN_WINDOW_UPDATES && probe.openWindowMs >= MIN_WINDOW_MS);
        if (!enough) return false;
        window = probe.end();
        storeCalls = storeTimer.stop();
        events = eventKinds.stop();
        if (profiling.run && profileDir) {
          const file = path.join(profileDir, `fleet-sim-${workers}.cpuprofile`);
          profiling.run = profiling.run.then(async (p) => {
            await p.stopTo(file);
            console.log(`fleet-sim: CPU profile of the ${workers}-worker window written to ${file}`);
            return p;
          });
        }
        windowUpdates = n;
        inWindow = false;
        measuring = false;
        return true;
      });
    } finally {
      c.events.off('worker-left', onLeft);
      await session.stop('stopped', 'fleet-sim bench done');
    }
    await profiling.run;
    const w = window as WindowMeasure | null;
    if (!w) throw new Error('the window was not measured');
    const clients = await fleet.stats();
    if (fleet.exitedEarly) throw new Error(fleet.exitedEarly);
    // Update k applies step k-1: the window's rounds are steps WARMUP_UPDATES .. WARMUP_UPDATES+windowUpdates-1.
    // A late answer to a slice a backup task already answered (a lost backup race, when the loaded
    // machine delays one client) is refused by timing, not content: counted, not an error.
    const refusals = { lostRaces: 0, content: 0, afterWindow: 0 };
    for (const [key, count] of Object.entries(clients.refusedSteps)) {
      const [step, code] = key.split(' ');
      const s = Number(step);
      if (s >= WARMUP_UPDATES + windowUpdates) refusals.afterWindow += count;
      else if (s < WARMUP_UPDATES && s >= 0) continue;
      else if (code === 'DUPLICATE_UPDATE' || code === 'STALE_UPDATE' || code === 'NOT_ASSIGNED') refusals.lostRaces += count;
      else refusals.content += count;
    }
    if (refusals.content > 0) throw new Error(`${refusals.content} commits of the window were refused for their content (first refusal: ${clients.firstRefusal})`);
    const cpuMsPerUpdate = w.cpuMs / windowUpdates;
    const cpuMsPerWorkerUpdate = cpuMsPerUpdate / workers;
    const m: FleetMeasure = {
      workers,
      windowUpdates,
      window: w,
      updatesPerSec: windowUpdates / (w.wallMs / 1000),
      cpuMsPerUpdate,
      cpuMsPerWorkerUpdate,
      bytesInPerUpdate: w.bytesIn / windowUpdates,
      bytesOutPerUpdate: w.bytesOut / windowUpdates,
      payloadBytesPerUpdateEachWay: workers * grads.paramCount * 4,
      joinMs,
      firstUpdateMs,
      workerLeavesInWindow: leaves,
      lateCommitsInWindow: refusals.lostRaces,
      refusedAfterWindow: refusals.afterWindow,
      minSamplesPerUpdate: minSamples,
      storeCallsPerUpdate: Object.fromEntries(Object.entries(storeCalls).map(([name, t]) => [name, t.calls / windowUpdates])),
      eventsInWindow: events,
      contributorsPerUpdate: contributors,
      leavesByReason,
      clientErrors: fleet.reportedErrors.slice(0, 5),
      clients,
    };
    console.log(
      `fleet-sim ${String(workers).padStart(4)} workers: ${m.updatesPerSec.toFixed(2)} updates/s, cpu ${cpuMsPerUpdate.toFixed(1)} ms/update ` +
        `(${(cpuMsPerWorkerUpdate * 1000).toFixed(1)} µs/worker), ` +
        `in ${(m.bytesInPerUpdate / 1e6).toFixed(2)} MB, out ${(m.bytesOutPerUpdate / 1e6).toFixed(2)} MB per update, ` +
        `event loop p99 ${w.eventLoopP99Ms.toFixed(1)} ms (max ${w.eventLoopMaxMs.toFixed(1)}), window ${windowUpdates} updates / ${(w.wallMs / 1000).toFixed(1)} s` +
        (contributors.min < workers ? `; only ${contributors.min}-${contributors.max} contributors per update` : '') +
        (Object.keys(leavesByReason).length > 0 ? `; workers left ${JSON.stringify(leavesByReason)}` : '') +
        (clients.declined > 0 ? `; ${clients.declined} steps declined` : '') +
        (refusals.lostRaces > 0 ? `; ${refusals.lostRaces} late commits (lost backup races)` : '') +
        (minSamples < GLOBAL_BATCH ? `; smallest update ${minSamples} samples` : '') +
        (Object.keys(events).length > 0 ? `; events ${JSON.stringify(events)}` : ''),
    );
    return m;
  } finally {
    probe.detach();
    eventKinds.restore();
    storeTimer.restore();
    // The coordinator first (it ends the run and disconnects the fleet), then the client processes.
    try {
      await sim.cleanup();
    } finally {
      await fleet?.close();
    }
  }
}

/** Least-squares line cpu = fixedMs + perWorkerMs × workers through the fleets' CPU per update (null with fewer than two sizes). */
export function fitCpuLine(points: readonly { workers: number; cpuMsPerUpdate: number }[]): { fixedMs: number; perWorkerMs: number } | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.workers, 0) / n;
  const my = points.reduce((a, p) => a + p.cpuMsPerUpdate, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.workers - mx) ** 2, 0);
  if (sxx === 0) return null;
  const perWorkerMs = points.reduce((a, p) => a + (p.workers - mx) * (p.cpuMsPerUpdate - my), 0) / sxx;
  return { fixedMs: my - perWorkerMs * mx, perWorkerMs };
}

/** Runs the bench. */
export default async function fleetSim(): Promise<BenchResult> {
  const sizes = fleetSizes();
  const loadBefore = os.loadavg()[0]!;
  const grads = await precomputeGradients(simRunConfig(sizes[0]!), GRADIENTS, GRADIENT_SLICE);
  const setMsBefore = float32SetMedianMs(grads.paramCount);
  const fleets: FleetMeasure[] = [];
  for (const n of sizes) fleets.push(await measureFleet(n, grads));
  const setMsAfter = float32SetMedianMs(grads.paramCount);
  // The yardstick moves with the machine's state (clock, cache, other load): the mean of the medians before and after the fleets.
  const setMs = (setMsBefore + setMsAfter) / 2;

  const at = (n: number) => fleets.find((f) => f.workers === n);
  const f64 = at(64);
  const f1024 = at(1024);
  const largest = fleets.reduce((a, f) => (f.workers > a.workers ? f : a));
  const value = f1024?.cpuMsPerUpdate ?? Number.NaN;
  const baseline = f64 ? 16 * f64.cpuMsPerUpdate : Number.NaN;
  const ratio = value / baseline;
  const p99At1024 = f1024?.window.eventLoopP99Ms ?? Number.NaN;
  console.log(
    `fleet-sim: one Float32Array.set of ${grads.paramCount} values ${(setMs * 1000).toFixed(2)} µs; CPU per worker per update at ${largest.workers} workers = ` +
      `${(largest.cpuMsPerWorkerUpdate / setMs).toFixed(0)} sets`,
  );
  const byFleet = <T>(f: (m: FleetMeasure) => T) => Object.fromEntries(fleets.map((m) => [String(m.workers), f(m)]));
  return {
    name: 'fleet-sim',
    value,
    baseline,
    ratio,
    unit: 'ms CPU/update',
    target: `ratio <= ${TARGET_RATIO} and event-loop p99 <= ${TARGET_P99_MS} ms at 1024 workers`,
    pass: ratio <= TARGET_RATIO && p99At1024 <= TARGET_P99_MS,
    details: {
      loadAverage1mBeforeAfter: [loadBefore, os.loadavg()[0]!],
      model: 'mlp 784-128-10',
      paramCount: grads.paramCount,
      globalBatch: GLOBAL_BATCH,
      sliceBalance: 'equal',
      optimizer: 'adam',
      clientProcesses: CLIENT_PROCESSES,
      precomputedGradients: grads.gradients.map((g) => ({ slice: GRADIENT_SLICE, loss: g.loss, norm: g.norm })),
      warmupUpdates: WARMUP_UPDATES,
      window: { minUpdates: MIN_WINDOW_UPDATES, minMs: MIN_WINDOW_MS, maxUpdates: MAX_WINDOW_UPDATES },
      connectionLimitsRaisedForBench:
        'CoordinatorOptions.connectionLimits perAddress and total = fleet size + 64 (defaults 64 per address, 1024 in all); per-socket message budgets unchanged (not configurable, and one commit per worker per update is far under them)',
      float32SetMs: setMs,
      float32SetMsBeforeAfter: [setMsBefore, setMsAfter],
      cpuPerWorkerUpdateInSets: largest.cpuMsPerWorkerUpdate / setMs,
      cpuPerWorkerUpdateInSetsFleet: largest.workers,
      cpuPerWorkerUpdateInSetsByFleet: byFleet((m) => m.cpuMsPerWorkerUpdate / setMs),
      cpuMsPerUpdate: byFleet((m) => m.cpuMsPerUpdate),
      cpuMsPerWorkerUpdate: byFleet((m) => m.cpuMsPerWorkerUpdate),
      bytesInPerUpdate: byFleet((m) => m.bytesInPerUpdate),
      bytesOutPerUpdate: byFleet((m) => m.bytesOutPerUpdate),
      eventLoopP99Ms: byFleet((m) => m.window.eventLoopP99Ms),
      updatesPerSec: byFleet((m) => m.updatesPerSec),
      eventLoopP99MsAt1024: p99At1024,
      // The ratio compares 1,024 workers with 16 × 64; a large fixed cost per update flatters it, so the fit says what each worker costs at the margin.
      cpuLineFit: fitCpuLine(fleets),
      fleets,
    },
  };
}
