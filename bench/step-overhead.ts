/**
 * Bench: what the fleet machinery costs per training step. The default experiment's MNIST CNN
 * (configs/mnist-cnn.yaml) at a global batch of 256 on the tfjs **cpu** backend, trained by a real
 * coordinator in this process (127.0.0.1, port 0, temp SQLite database) with ONE real worker
 * process (`--backend cpu`), against the same training on the same batches in one process
 * (GradientComputer + flat optimizer). Ratio = median ms per distributed update / median ms per
 * in-process update, steady state (warm-up updates left out). The two alternate: in-process update
 * k runs right after the fleet applied update k, before the coordinator assigns k+1, so they never
 * compete for a core and see the same machine load; its time is taken out of the fleet's interval.
 *
 * details: the per-step breakdown seen by the coordinator (worker compute ms from each grad:commit,
 * transport, coordinator apply ms, bytes per step), tracking-store calls per step, the fleet update
 * minus the worker's compute, the paired ratio, workers that dropped out, the cost of one
 * evaluation (wasm), and the same ratio for the wasm backend (extra information, no target).
 * Method and measured figures: docs/performance.md.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import type { RunConfig } from '../core/config/run-config.ts';
import { loadDataset } from '../core/data/dataset-spec.ts';
import type { Dataset } from '../core/data/dataset.ts';
import { EpochSampler } from '../core/data/epoch-sampler.ts';
import { setupWasm } from '../worker-node/backend/setup-wasm.ts';
import type { BenchResult } from './bench-result.ts';
import { benchRunConfig, loadRunConfigFile } from './support/bench-run-config.ts';
import { runDistributedTraining, type DistributedRunResult } from './support/distributed-training.ts';
import { InProcessTrainer, type InProcessStep } from './support/in-process-trainer.ts';
import { median, round, roundedSummary, steadyStepIntervals } from './support/step-stats.ts';

const GLOBAL_BATCH = 256;
const WORKERS = 1;
const TARGET = 1.25;
/** Updates per backend: cpu steps take ~2.5 s here, wasm ~0.25 s; the whole bench stays under ~3 min. */
const PLAN = {
  cpu: { warmup: 2, measured: 14 },
  wasm: { warmup: 3, measured: 30 },
} as const;

type Backend = keyof typeof PLAN;

interface BackendMeasurement {
  backend: Backend;
  distributedMsPerStep: number;
  inProcessMsPerStep: number;
  ratio: number;
  details: Record<string, unknown>;
}

function log(line: string): void {
  process.stderr.write(`step-overhead: ${line}\n`);
}

async function useBackend(backend: Backend): Promise<void> {
  if (backend === 'wasm') {
    const r = await setupWasm([]);
    if (!r.ok) throw new Error(`cannot set up wasm in the bench process: ${r.reason}`);
  } else if (!(await tf.setBackend('cpu'))) throw new Error("tf.setBackend('cpu') failed");
}

function sameBatches(a: readonly number[][], b: readonly number[][]): boolean {
  return a.length <= b.length && a.every((batch, i) => batch.length === b[i]!.length && batch.every((x, k) => x === b[i]![k]));
}

/** Steady-state breakdown; `inProcessMs[s]` ran between update s being applied and step s+1 being assigned, so it is taken out of that gap. */
function breakdownSummary(dist: DistributedRunResult, warmup: number, inProcessMs: readonly number[]): Record<string, unknown> {
  const steady = dist.breakdown.filter((s) => s.step >= warmup);
  if (steady.length === 0) return { note: 'no steady-state step was observed in full' };
  const pick = (f: (s: (typeof steady)[number]) => number | undefined) => {
    const values = steady.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return values.length > 0 ? roundedSummary(values) : null;
  };
  return {
    steps: steady.length,
    workerRoundTripMs: pick((s) => s.workerRoundTripMs),
    workerComputeMs: pick((s) => s.workerComputeMs),
    transportMs: pick((s) => s.transportMs),
    coordinatorApplyMs: pick((s) => s.coordinatorApplyMs),
    nextAssignDelayMs: pick((s) => (s.nextAssignDelayMs === undefined ? undefined : s.nextAssignDelayMs - (inProcessMs[s.step] ?? Number.NaN))),
    paramBytesOutPerStep: median(steady.map((s) => s.bytesOut)),
    gradBytesInPerStep: median(steady.map((s) => s.bytesIn)),
  };
}

/** Calls per step of each store method. (Their durations are not reported: the writes the coordinator does not await overlap the in-process step that follows each update.) */
function storeCallsPerStep(dist: DistributedRunResult, measured: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, t] of Object.entries(dist.storeCalls)) out[name] = round(t.calls / measured, 3);
  return out;
}

async function measureBackend(backend: Backend, base: RunConfig, train: Dataset, test: Dataset | null, evalEvery: number): Promise<BackendMeasurement> {
  const { warmup, measured } = PLAN[backend];
  const total = warmup + measured;
  const config = benchRunConfig(base, { globalBatch: GLOBAL_BATCH, workers: WORKERS, updates: total });
  await useBackend(backend);
  const sampler = new EpochSampler({ seed: config.seed, datasetSize: train.size });
  const batches = Array.from({ length: total }, () => sampler.nextBatch(GLOBAL_BATCH).indices);

  const trainer = new InProcessTrainer(config, train);
  const inProcess: InProcessStep[] = [];
  let dist: DistributedRunResult;
  let evaluation: { ms: number; accuracy: number } | null = null;
  try {
    log(`${backend}: coordinator + ${WORKERS} worker process (--backend ${backend}), ${total} updates, each followed by the same update in-process`);
    dist = await runDistributedTraining({
      config,
      workerBackend: backend,
      workers: WORKERS,
      updates: total,
      warmup,
      // The fleet waits while the in-process step runs: the two alternate, never overlap.
      afterUpdate: (k) => {
        inProcess.push(trainer.trainStep(batches[k - 1]!));
      },
    });
    log(`${backend}: run stopped; the worker's rejected commit of the abandoned update ${total} ('no run is active') is expected`);
    if (test) evaluation = trainer.evaluate(test);
  } finally {
    trainer.dispose();
  }

  // Update s of the fleet ran from applied(s-1) to applied(s), minus the in-process step s-1 that
  // ran (blocking) right after applied(s-1).
  const fleetEnds = dist.appliedAt.map((t, s) => t - inProcess.slice(0, s).reduce((a, x) => a + x.ms, 0));
  const distMs = steadyStepIntervals(fleetEnds, warmup);
  const baselineMs = inProcess.filter((s) => s.step >= warmup).map((s) => s.ms);
  const pairedRatios = distMs.map((d, i) => d / baselineMs[i]!);
  // Fleet step minus the worker's own compute of that step: the machinery's cost, measured on the
  // same step (free of the noise between two processes' compute times).
  const computeByStep = new Map(dist.breakdown.map((s) => [s.step, s.workerComputeMs]));
  const fleetOverheadMs = distMs.map((d, i) => d - (computeByStep.get(warmup + i) ?? Number.NaN)).filter((x) => Number.isFinite(x));
  const inProcessMsPerStep = median(baselineMs);
  const distributedMsPerStep = median(distMs);
  const ratio = distributedMsPerStep / inProcessMsPerStep;
  const lossDiffs = dist.losses.map((l, i) => Math.abs(l - (inProcess[i]?.loss ?? Number.NaN)));
  log(`${backend}: ${distributedMsPerStep.toFixed(1)} ms/step distributed vs ${inProcessMsPerStep.toFixed(1)} in-process -> ratio ${ratio.toFixed(3)}`);
  return {
    backend,
    distributedMsPerStep,
    inProcessMsPerStep,
    ratio,
    details: {
      ratio: round(ratio, 4),
      medianPairedRatio: round(median(pairedRatios), 4),
      overheadMsPerStep: round(distributedMsPerStep - inProcessMsPerStep),
      fleetStepMinusWorkerComputeMs: fleetOverheadMs.length > 0 ? roundedSummary(fleetOverheadMs) : null,
      warmupUpdates: warmup,
      measuredUpdates: measured,
      distributedMs: roundedSummary(distMs),
      inProcessMs: roundedSummary(baselineMs),
      distributedStepMs: distMs.map((x) => round(x, 1)),
      inProcessStepMs: baselineMs.map((x) => round(x, 1)),
      breakdown: breakdownSummary(
        dist,
        warmup,
        inProcess.map((s) => s.ms),
      ),
      storeCallsPerStep: storeCallsPerStep(dist, measured),
      startup: { workersJoinedMs: round(dist.startup.workersJoinedMs, 0), firstUpdateMs: round(dist.startup.firstUpdateMs, 0) },
      workerBackends: dist.workerBackends,
      workerLeavesDuringRun: dist.workerLeaves,
      sameBatchesAsInProcess: sameBatches(dist.batches, batches),
      maxTrainLossDiffVsInProcess: lossDiffs.length > 0 ? Math.max(...lossDiffs) : null,
      ...(evaluation && test
        ? {
            evaluation: {
              ms: round(evaluation.ms, 0),
              testSamples: test.size,
              // The coordinator evaluates in its own event loop (after assigning the next update, so
              // remote workers keep computing); its cost per update at the default eval_every:
              defaultEvalEvery: evalEvery,
              amortisedMsPerStep: round(evaluation.ms / evalEvery),
            },
          }
        : {}),
    },
  };
}

/** Runs the step-overhead bench (cpu ratio with a target; wasm ratio as extra information). */
export default async function stepOverheadBench(): Promise<BenchResult> {
  const loadBefore = os.loadavg();
  const base = await loadRunConfigFile();
  const { train, test } = await loadDataset(base.dataset);
  const cpu = await measureBackend('cpu', base, train, null, base.eval_every);
  // `npm start` evaluates on wasm (coordinator/cli.ts), so the evaluation cost is measured there.
  const wasm = await measureBackend('wasm', base, train, test, base.eval_every);
  const loadAfter = os.loadavg();
  return {
    name: 'step-overhead',
    value: cpu.distributedMsPerStep,
    baseline: cpu.inProcessMsPerStep,
    ratio: cpu.ratio,
    unit: 'ms/step',
    target: `ratio <= ${TARGET}`,
    pass: cpu.ratio <= TARGET,
    details: {
      model: base.model,
      dataset: `${base.dataset.name}: ${train.size} train / ${test.size} test`,
      globalBatch: GLOBAL_BATCH,
      workers: WORKERS,
      optimizer: base.optimizer.name,
      maxGradNorm: base.max_grad_norm,
      loadAverage1mBeforeAfter: [round(loadBefore[0] ?? 0), round(loadAfter[0] ?? 0)],
      cpu: cpu.details,
      wasm: { ...wasm.details, distributedMsPerStep: round(wasm.distributedMsPerStep), inProcessMsPerStep: round(wasm.inProcessMsPerStep) },
    },
  };
}
