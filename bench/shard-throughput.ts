/**
 * shard-throughput: the update time of `mode: sharded` (ZeRO stage 1) with N = 1, 2 and 4 shard
 * owners against `ddp`, on the same MNIST MLP ([256, 128], about 235k parameters, Adam) and the
 * same 2 in-process test workers, with a real coordinator and database and real loopback sockets
 * (the owners are `startShardOwner` clients on the coordinator's /shard namespace, as
 * `npm run shard-server`), and where the extra time of a sharded update goes. A report: no target.
 *
 * Runs, in order: ddp, sharded N = 1, 2, 4, ddp again (the two ddp runs bracket the sharded ones,
 * so a drift of the machine over the bench shows as a gap between them). Per run:
 * - `step_time_ms` (the coordinator's update time, logged by RunRecorder.recordUpdate: from the
 *   round's assignment to the applied update) of every update after the first (the first also
 *   loads the ranges onto the owners and warms up); its median, and updates/s over the run's wall
 *   time (startRun to done: model build, the updates and the final checkpoint).
 * - per update, from what the coordinator sends and receives (bench/support/coordinator-traffic-tap.ts,
 *   bench/support/step-breakdown.ts) plus the `shard:step` messages it sends on /shard (socket.io's
 *   onAnyOutgoing, listening only) and the owners' handling of them (the owners' sockets are made by
 *   a `connect` factory of this bench that times each `shard:step` listener from receipt to its ack
 *   call): the workers' round trip, the coordinator's apply phase (last gradient in -> update
 *   applied), split in sharded runs into reduce (-> first `shard:step` out) and the shard exchange
 *   (-> applied), of which the owners' handling is measured and the rest (socket.io encode and
 *   decode both ways, loopback, the coordinator's ack validation) is the remainder.
 * - `shard_bytes_per_owner_max` and the bytes the owners received and acked per update.
 *
 * And in the same process, out of any run: the optimizer's compute on the whole vector (what the
 * ddp coordinator does per update) and RangeHolder.step on one range of each size the runs used
 * (what an owner does per range), with the owner's validation of a `shard:step` (ShardStepSchema).
 *
 * value = median update ms at N = 2; baseline = median update ms of ddp (both ddp runs pooled);
 * ratio = value / baseline (lower is better).
 */
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { z } from 'zod';
import type { BenchResult } from './bench-result.ts';
import { tapCoordinatorTraffic } from './support/coordinator-traffic-tap.ts';
import { breakDownSteps, type TrafficRecord } from './support/step-breakdown.ts';
import { median, summarize, type TimingSummary } from './support/step-stats.ts';
import { validateRunConfig, type RunConfigInput } from '../core/config/run-config.ts';
import { createFlatOptimizer } from '../core/optim/flat-optimizer.ts';
import type { OptimizerSpec } from '../core/optim/optimizer-spec.ts';
import { RangeHolder } from '../core/shard/range-holder.ts';
import { startShardOwner, type ShardOwner, type ShardSocketFactory } from '../core/shard/shard-owner-client.ts';
import { SHARD_NAMESPACE, ShardLoadSchema, ShardStepSchema, bytesOf } from '../core/shard/shard-protocol.ts';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { readCheckpointFile } from '../coordinator/run/checkpoint-file.ts';
import type { AppliedUpdate } from '../coordinator/run/run-session-options.ts';
import { startTestCoordinator, waitForWorkers, type TestCoordinator } from '../tests/integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../tests/integration/support/test-worker.ts';
import { SHARD_BENCH_WORKERS, shardBenchConfig, waitForOwnerCount } from './support/shard-bench.ts';

const WORKERS = SHARD_BENCH_WORKERS;
const OWNER_COUNTS = [1, 2, 4] as const;
/** The owner count whose median update time is the bench's value. */
const VALUE_OWNERS = 2;
const TOTAL_UPDATES = 30;
/** Updates left out of the medians at the start of each run (range placement, warm-up). */
const WARMUP_UPDATES = 1;
/** Timed RangeHolder.step / optimizer calls per size, after as many untimed ones as WARMUP_CALLS. */
const TIMED_CALLS = 200;
const WARMUP_CALLS = 20;

const COMMON: RunConfigInput = shardBenchConfig(TOTAL_UPDATES);

/** The fields of a `shard:step` (coordinator -> owner) this bench reads; everything else is ignored. */
const StepRefSchema = z.object({ runId: z.string(), index: z.number().int(), step: z.number().int(), grad: z.instanceof(Uint8Array) });
/** The field of a successful `shard:step` ack this bench reads. */
const SteppedRefSchema = z.object({ ok: z.literal(true), params: z.instanceof(Uint8Array) });

/** One `shard:step` as an owner handled it (times: performance.now() of this process). */
interface OwnerStepRecord {
  runId: string;
  step: number;
  index: number;
  receivedAt: number;
  ackedAt: number;
  gradBytes: number;
  paramsBytes: number;
}

/** One `shard:step` as the coordinator sent it. */
interface CoordinatorStepRecord {
  runId: string;
  step: number;
  index: number;
  sentAt: number;
}

/** What the bench's owner sockets and the coordinator's /shard namespace recorded. */
interface ShardProbe {
  sent: CoordinatorStepRecord[];
  handled: OwnerStepRecord[];
  /** A `connect` for startShardOwner: socket.io-client's io, with its `shard:step` listener timed. */
  connect: ShardSocketFactory;
  stop(): void;
}

/** The coordinator's socket.io server (the field bench/support/coordinator-traffic-tap.ts reads too). */
function serverOf(coordinator: Coordinator): Server {
  const server: unknown = Reflect.get(coordinator, 'io');
  if (!(server instanceof Server)) throw new Error('coordinator has no socket.io server in field "io" any more; update bench/shard-throughput.ts');
  return server as Server;
}

/** Listens to the coordinator's outgoing `shard:step` messages and times the owners' handling of theirs. */
function probeShards(coordinator: Coordinator): ShardProbe {
  const sent: CoordinatorStepRecord[] = [];
  const handled: OwnerStepRecord[] = [];
  const nsp = serverOf(coordinator).of(SHARD_NAMESPACE);
  const onOutgoing = (event: string, ...args: unknown[]): void => {
    if (event !== 'shard:step') return;
    const sentAt = performance.now();
    const m = StepRefSchema.safeParse(args[0]);
    if (m.success) sent.push({ runId: m.data.runId, step: m.data.step, index: m.data.index, sentAt });
  };
  const attach = (socket: ServerSocket): void => {
    socket.onAnyOutgoing(onOutgoing);
  };
  nsp.on('connection', attach);
  const timed = (listener: (msg: unknown, ack: unknown) => void) => (msg: unknown, ack: unknown): void => {
    const receivedAt = performance.now();
    let ackedAt = Number.NaN;
    let reply: unknown;
    const timedAck = (res: unknown): void => {
      ackedAt = performance.now();
      reply = res;
      if (typeof ack === 'function') (ack as (res: unknown) => void)(res);
    };
    listener(msg, timedAck);
    const m = StepRefSchema.safeParse(msg);
    const r = SteppedRefSchema.safeParse(reply);
    if (m.success && r.success) {
      handled.push({ runId: m.data.runId, step: m.data.step, index: m.data.index, receivedAt, ackedAt, gradBytes: m.data.grad.byteLength, paramsBytes: r.data.params.byteLength });
    }
  };
  const connect: ShardSocketFactory = (url, options) => {
    const socket: ClientSocket = io(url, options);
    const on = socket.on.bind(socket);
    socket.on = ((event: string, listener: (msg: unknown, ack: unknown) => void) => on(event, event === 'shard:step' ? timed(listener) : listener)) as typeof socket.on;
    return socket;
  };
  return {
    sent,
    handled,
    connect,
    stop: () => {
      nsp.off('connection', attach);
      for (const socket of nsp.sockets.values()) socket.offAnyOutgoing(onOutgoing);
    },
  };
}

/** Median of each numeric series (null for an empty one). */
function medianOrNull(xs: readonly number[]): number | null {
  return xs.length > 0 ? median(xs) : null;
}

/** Where the time of the measured updates of one run went (medians over updates, ms). */
interface UpdateBreakdown {
  /** step:assign out -> last gradient in: params down, the workers' forward/backward, gradient up. */
  workerRoundTripMs: number | null;
  /** The slowest worker's own compute, as it reported it. */
  workerComputeMs: number | null;
  /** Last gradient in -> update applied: everything the coordinator does with the gradients. */
  coordinatorApplyMs: number | null;
  /** Sharded: last gradient in -> first shard:step out (reduce by range, global norm). */
  reduceMs: number | null;
  /** Sharded: first shard:step out -> update applied (every range to its owner and back). */
  shardExchangeMs: number | null;
  /** Sharded: the owners' handling of the update's shard:step messages, summed over ranges (validation, optimizer, copy). */
  ownerHandlingMs: number | null;
  /** Sharded: shardExchangeMs - ownerHandlingMs (socket.io both ways, loopback, the coordinator's ack checks). */
  shardTransportMs: number | null;
  /** Sharded: shard:step out -> the owner's listener runs, per range. */
  sendToOwnerMs: number | null;
}

/** What one run measured. */
interface RunMeasured {
  label: string;
  mode: 'ddp' | 'sharded';
  owners: number;
  /** `step_time_ms` of every update, in step order (the first WARMUP_UPDATES are left out of the median). */
  stepMs: number[];
  stepMsSummary: TimingSummary;
  firstUpdateMs: number;
  wallMs: number;
  updatesPerSec: number;
  breakdown: UpdateBreakdown;
  /** Sharded: the ranges' sizes per owner. */
  rangeSizesPerOwner: number[][];
  /** Sharded: `shard_bytes_per_owner_max` (median over updates). */
  shardBytesPerOwnerMax: number | null;
  /** Sharded: gradient bytes the owners received plus parameter bytes they acked, per update (median). */
  shardBytesPerUpdate: number | null;
  /** Worker traffic per update (median `bytes_in` + `bytes_out`), the same in both modes. */
  workerBytesPerUpdate: number;
}

async function metricValues(t: TestCoordinator, runId: string, key: string): Promise<{ step: number; value: number }[]> {
  const points = await t.coordinator.store.getMetricHistory(runId, key);
  return points.map((p) => ({ step: p.step, value: p.value })).sort((a, b) => a.step - b.step);
}

/** One run of the common config (`owners` = 0: ddp), with its owners started before and closed after. */
async function measureRun(t: TestCoordinator, probe: ShardProbe, label: string, owners: number): Promise<RunMeasured & { runId: string }> {
  const started: ShardOwner[] = [];
  const tap = tapCoordinatorTraffic(t.coordinator);
  let listener: ((u: AppliedUpdate) => void) | undefined;
  try {
    for (let i = 0; i < owners; i++) started.push(await startShardOwner({ url: t.coordinator.url, token: t.token, name: `${label}-owner-${i}`, connect: probe.connect }));
    await waitForOwnerCount(t, owners);
    const config = validateRunConfig({ ...COMMON, name: `shard-throughput-${label}`, ...(owners > 0 ? { mode: 'sharded', sharded: { min_owners: owners } } : {}) });
    const begun = performance.now();
    const run = await t.coordinator.startRun(config);
    let rangeSizesPerOwner: number[][] = [];
    listener = (u) => {
      if (u.runId === run.runId && u.step === 0) rangeSizesPerOwner = started.map((o) => o.ranges().map((r) => r.end - r.start));
    };
    t.coordinator.events.on('update', listener);
    const outcome = await run.done;
    const wallMs = performance.now() - begun;
    if (outcome.status !== 'finished') throw new Error(`the ${label} run ended ${outcome.status}: ${outcome.reason}`);
    const stepTimes = await metricValues(t, run.runId, 'step_time_ms');
    if (stepTimes.length !== TOTAL_UPDATES) throw new Error(`the ${label} run logged ${stepTimes.length} step_time_ms points, expected ${TOTAL_UPDATES}`);
    const stepMs = stepTimes.map((p) => p.value);
    const measuredSteps = new Set(stepTimes.slice(WARMUP_UPDATES).map((p) => p.step - 1));
    const breakdown = breakDown(tap.records(), probe, run.runId, measuredSteps);
    const traffic = owners > 0 ? (await metricValues(t, run.runId, 'shard_bytes_per_owner_max')).map((p) => p.value) : [];
    const shardBytes = perUpdate(probe.handled.filter((h) => h.runId === run.runId && measuredSteps.has(h.step)), (h) => h.gradBytes + h.paramsBytes);
    const bytesIn = await metricValues(t, run.runId, 'bytes_in');
    const bytesOut = await metricValues(t, run.runId, 'bytes_out');
    return {
      runId: run.runId,
      label,
      mode: owners > 0 ? 'sharded' : 'ddp',
      owners,
      stepMs,
      stepMsSummary: summarize(stepMs.slice(WARMUP_UPDATES)),
      firstUpdateMs: stepMs[0]!,
      wallMs,
      updatesPerSec: TOTAL_UPDATES / (wallMs / 1000),
      breakdown,
      rangeSizesPerOwner,
      shardBytesPerOwnerMax: medianOrNull(traffic),
      shardBytesPerUpdate: medianOrNull(shardBytes),
      workerBytesPerUpdate: median(bytesIn.map((p, i) => p.value + (bytesOut[i]?.value ?? 0))),
    };
  } finally {
    tap.stop();
    if (listener) t.coordinator.events.off('update', listener);
    await Promise.all(started.map((o) => o.close()));
    await waitForOwnerCount(t, 0);
  }
}

/** Sums `value` over the records of each update; one number per update that has records. */
function perUpdate<T extends { step: number }>(records: readonly T[], value: (r: T) => number): number[] {
  const sums = new Map<number, number>();
  for (const r of records) sums.set(r.step, (sums.get(r.step) ?? 0) + value(r));
  return [...sums.values()];
}

/** The medians of {@link UpdateBreakdown} over the updates in `steps` (0-based) of run `runId`. */
function breakDown(records: readonly TrafficRecord[], probe: ShardProbe, runId: string, steps: ReadonlySet<number>): UpdateBreakdown {
  const byStep = breakDownSteps(records).filter((s) => steps.has(s.step));
  const lastCommitAt = new Map<number, number>();
  const appliedAt = new Map<number, number>();
  for (const r of records) {
    if (r.kind === 'commitIn') lastCommitAt.set(r.step, Math.max(lastCommitAt.get(r.step) ?? -Infinity, r.t));
    else if (r.kind === 'applied') appliedAt.set(r.step, r.t);
  }
  const sent = probe.sent.filter((s) => s.runId === runId && steps.has(s.step));
  const handled = probe.handled.filter((h) => h.runId === runId && steps.has(h.step));
  const firstSentAt = new Map<number, number>();
  for (const s of sent) firstSentAt.set(s.step, Math.min(firstSentAt.get(s.step) ?? Infinity, s.sentAt));
  const reduce: number[] = [];
  const exchange: number[] = [];
  const handling: number[] = [];
  const transport: number[] = [];
  for (const [step, firstOut] of firstSentAt) {
    const commit = lastCommitAt.get(step);
    const applied = appliedAt.get(step);
    if (commit === undefined || applied === undefined) continue;
    const owned = handled.filter((h) => h.step === step).reduce((sum, h) => sum + (h.ackedAt - h.receivedAt), 0);
    reduce.push(firstOut - commit);
    exchange.push(applied - firstOut);
    handling.push(owned);
    transport.push(applied - firstOut - owned);
  }
  const sendToOwner: number[] = [];
  for (const h of handled) {
    const out = sent.find((x) => x.step === h.step && x.index === h.index && x.sentAt <= h.receivedAt);
    if (out) sendToOwner.push(h.receivedAt - out.sentAt);
  }
  return {
    workerRoundTripMs: medianOrNull(byStep.map((s) => s.workerRoundTripMs)),
    workerComputeMs: medianOrNull(byStep.map((s) => s.workerComputeMs)),
    coordinatorApplyMs: medianOrNull(byStep.map((s) => s.coordinatorApplyMs)),
    reduceMs: medianOrNull(reduce),
    shardExchangeMs: medianOrNull(exchange),
    ownerHandlingMs: medianOrNull(handling),
    shardTransportMs: medianOrNull(transport),
    sendToOwnerMs: medianOrNull(sendToOwner),
  };
}

/** Deterministic pseudo-random values in [-scale, scale) (a 32-bit LCG), so every size sees the same kind of data. */
function pseudoRandom(size: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

/** Times `fn` TIMED_CALLS times after WARMUP_CALLS untimed calls (ms per call). */
function timeCalls(fn: (call: number) => void): TimingSummary {
  for (let i = 0; i < WARMUP_CALLS; i++) fn(i);
  const times: number[] = [];
  for (let i = 0; i < TIMED_CALLS; i++) {
    const t0 = performance.now();
    fn(WARMUP_CALLS + i);
    times.push(performance.now() - t0);
  }
  return summarize(times);
}

/** What one owner does per range of `size` values, out of any run: ShardStepSchema validation, then RangeHolder.step (optimizer + copy of the new values). */
function timeRangeStep(spec: OptimizerSpec, size: number): { size: number; validateMs: TimingSummary; stepMs: TimingSummary } {
  const holder = new RangeHolder(ShardLoadSchema.parse({ runId: 'bench', index: 0, start: 0, end: size, optimizer: { ...spec }, updates: 0, params: bytesOf(pseudoRandom(size, 1, 0.1)) }));
  const grad = bytesOf(pseudoRandom(size, 2, 0.01));
  const message = (step: number) => ({ runId: 'bench', index: 0, step, lr: spec.lr, scale: 1, grad });
  const validateMs = timeCalls((i) => {
    if (!ShardStepSchema.safeParse(message(i)).success) throw new Error('the bench built an invalid shard:step');
  });
  const stepMs = timeCalls(() => {
    holder.step(message(holder.updates));
  });
  return { size, validateMs, stepMs };
}

/** What the ddp coordinator's optimizer does per update, out of any run: one step over the whole vector. */
function timeWholeStep(spec: OptimizerSpec, size: number): TimingSummary {
  const optimizer = createFlatOptimizer(spec, size);
  const params = pseudoRandom(size, 1, 0.1);
  const grad = pseudoRandom(size, 2, 0.01);
  return timeCalls(() => optimizer.step(params, grad, spec.lr));
}

const round = (x: number | null, digits = 2): number | null => (x === null ? null : Number(x.toFixed(digits)));

/** A run's figures for the result file (the per-update series kept, rounded). */
function report(m: RunMeasured): Record<string, unknown> {
  const b = m.breakdown;
  return {
    label: m.label,
    mode: m.mode,
    owners: m.owners,
    medianStepMs: round(m.stepMsSummary.median),
    stepMs: { ...m.stepMsSummary, median: round(m.stepMsSummary.median), mean: round(m.stepMsSummary.mean), min: round(m.stepMsSummary.min), max: round(m.stepMsSummary.max), p90: round(m.stepMsSummary.p90) },
    firstUpdateMs: round(m.firstUpdateMs),
    wallMs: round(m.wallMs, 0),
    updatesPerSec: round(m.updatesPerSec, 3),
    breakdownMedianMs: Object.fromEntries(Object.entries(b).map(([k, v]) => [k, round(v as number | null, 3)])),
    rangeSizesPerOwner: m.rangeSizesPerOwner,
    shardBytesPerOwnerMax: m.shardBytesPerOwnerMax,
    shardBytesPerUpdate: m.shardBytesPerUpdate,
    workerBytesPerUpdate: m.workerBytesPerUpdate,
    stepMsSeries: m.stepMs.map((x) => round(x, 1)),
  };
}

/** ddp, sharded on 1, 2 and 4 owners, ddp again, on one coordinator and fleet; then the compute-only timings. */
export default async function shardThroughput(): Promise<BenchResult> {
  const t = await startTestCoordinator();
  const workers: TestWorker[] = [];
  let probe: ShardProbe | undefined;
  try {
    probe = probeShards(t.coordinator);
    for (let i = 0; i < WORKERS; i++) workers.push(await joinTestWorker({ url: t.coordinator.url, token: t.token, name: `w${i}` }));
    await waitForWorkers(t.coordinator, WORKERS);
    const ddpA = await measureRun(t, probe, 'ddp-a', 0);
    const shardedRuns: RunMeasured[] = [];
    for (const n of OWNER_COUNTS) shardedRuns.push(await measureRun(t, probe, `sharded-${n}`, n));
    const ddpB = await measureRun(t, probe, 'ddp-b', 0);

    const final = await t.coordinator.store.findCheckpoint(ddpA.runId, 'latest');
    if (!final) throw new Error(`the ddp run ${ddpA.runId} wrote no checkpoint`);
    const paramCount = (await readCheckpointFile(final.path, final.sha256)).params.length;
    const spec = validateRunConfig({ ...COMMON, name: 'spec' }).optimizer;
    const rangeSizes = [...new Set(shardedRuns.flatMap((m) => m.rangeSizesPerOwner.flat()))].sort((a, b) => b - a);
    const wholeStep = timeWholeStep(spec, paramCount);
    const rangeSteps = rangeSizes.map((size) => timeRangeStep(spec, size));

    const ddpMs = median([...ddpA.stepMs.slice(WARMUP_UPDATES), ...ddpB.stepMs.slice(WARMUP_UPDATES)]);
    const ddpApplyMs = medianOrNull([ddpA.breakdown.coordinatorApplyMs, ddpB.breakdown.coordinatorApplyMs].filter((x): x is number => x !== null));
    const valueRun = shardedRuns.find((m) => m.owners === VALUE_OWNERS)!;
    const value = valueRun.stepMsSummary.median;
    const perOwners = Object.fromEntries(
      shardedRuns.map((m) => {
        const sizes = m.rangeSizesPerOwner.flat();
        const ownerCompute = sizes.reduce((sum, size) => sum + rangeSteps.find((r) => r.size === size)!.stepMs.median, 0);
        return [
          String(m.owners),
          {
            medianStepMs: round(m.stepMsSummary.median),
            minusDdpMs: round(m.stepMsSummary.median - ddpMs),
            ratioToDdp: round(m.stepMsSummary.median / ddpMs, 3),
            updatesPerSec: round(m.updatesPerSec, 3),
            coordinatorApplyMs: round(m.breakdown.coordinatorApplyMs, 3),
            applyMinusDdpApplyMs: ddpApplyMs === null || m.breakdown.coordinatorApplyMs === null ? null : round(m.breakdown.coordinatorApplyMs - ddpApplyMs, 3),
            reduceMs: round(m.breakdown.reduceMs, 3),
            shardExchangeMs: round(m.breakdown.shardExchangeMs, 3),
            ownerHandlingMs: round(m.breakdown.ownerHandlingMs, 3),
            ownerComputeOutOfRunMs: round(ownerCompute, 3),
            shardTransportMs: round(m.breakdown.shardTransportMs, 3),
            estimatedRoundTripMs: round(m.stepMsSummary.median - ddpMs + wholeStep.median, 3),
            sendToOwnerMs: round(m.breakdown.sendToOwnerMs, 3),
            shardBytesPerOwnerMax: m.shardBytesPerOwnerMax,
            shardBytesPerUpdate: m.shardBytesPerUpdate,
          },
        ];
      }),
    );
    return {
      name: 'shard-throughput',
      value,
      baseline: ddpMs,
      ratio: value / ddpMs,
      unit: 'ms',
      target: `report (issue: say where the time goes); value = median update ms of sharded on ${VALUE_OWNERS} owners, baseline = ddp, lower is better`,
      details: {
        model: 'mlp [256, 128] on MNIST (2,000 train / 500 test digits), Adam lr 0.001',
        paramCount,
        workers: WORKERS,
        batchSizePerWorker: COMMON.batch_size,
        totalUpdates: TOTAL_UPDATES,
        warmupUpdatesLeftOut: WARMUP_UPDATES,
        ddpMedianStepMs: round(ddpMs),
        ddpRuns: { a: round(ddpA.stepMsSummary.median), b: round(ddpB.stepMsSummary.median) },
        ddpRunSpreadMs: round(Math.abs(ddpA.stepMsSummary.median - ddpB.stepMsSummary.median)),
        ddpCoordinatorApplyMs: round(ddpApplyMs, 3),
        ddpOptimizerComputeMs: { values: paramCount, ...wholeStep },
        shardedByOwners: perOwners,
        rangeStepOutOfRun: rangeSteps.map((r) => ({ values: r.size, stepMedianMs: round(r.stepMs.median, 3), stepP90Ms: round(r.stepMs.p90, 3), validateMedianMs: round(r.validateMs.median, 4) })),
        runs: [ddpA, ...shardedRuns, ddpB].map(report),
        note:
          'Measured in the runs: step_time_ms (the coordinator\'s update time, RunRecorder.recordUpdate: the round\'s assignment to the applied ' +
          `update; medians leave out the first ${WARMUP_UPDATES} update(s), which in sharded runs also load the ranges onto the owners), updates/s ` +
          '(total updates over startRun -> done, final checkpoint included), shard_bytes_per_owner_max (metric), shardBytesPerUpdate (gradient ' +
          'bytes received plus parameter bytes acked by all owners), and per update: workerRoundTripMs, coordinatorApplyMs (last gradient in -> ' +
          'update applied), reduceMs (-> first shard:step sent), shardExchangeMs (first shard:step sent -> applied), ownerHandlingMs (each ' +
          'owner\'s shard:step listener from receipt to its ack call, summed over ranges: validation, RangeHolder.step, copy), sendToOwnerMs ' +
          '(shard:step sent -> its owner\'s listener runs). Measured out of any run in the same process: ddpOptimizerComputeMs (Adam over the ' +
          'whole vector, what the ddp coordinator computes per update) and rangeStepOutOfRun (RangeHolder.step and ShardStepSchema validation ' +
          'per range size). Derived: minusDdpMs (sharded median - ddp median), shardTransportMs (shardExchangeMs - ownerHandlingMs: socket.io ' +
          'encode/decode both ways, loopback, the coordinator\'s ack validation and copy of the new values), ownerComputeOutOfRunMs (the sum of ' +
          'rangeStepOutOfRun medians over the run\'s ranges), estimatedRoundTripMs (minusDdpMs + ddpOptimizerComputeMs: the shard exchange ' +
          'estimated from the step times alone, since sharded moves the optimizer off the coordinator and adds the exchange). Coordinator, ' +
          'workers and owners share one process and event loop, so N owners handle their ranges one after another, not in parallel: the ' +
          'owner compute of an update is the whole vector\'s at every N, and more owners add messages, not parallelism. Most of an update is ' +
          'the workers\' round trip (the same work in both modes), so a difference of step medians smaller than ddpRunSpreadMs (the two ddp ' +
          'runs\' medians apart) is noise; coordinatorApplyMs and applyMinusDdpApplyMs leave the workers\' time out and are the steadier ' +
          'measure of what sharding adds per update.',
      },
    };
  } finally {
    probe?.stop();
    for (const w of workers) await w.close();
    await t.cleanup();
  }
}
