/**
 * diloco-comm: bytes moved per trained sample by DDP and by DiLoCo (H = 10 and 50) on the same MNIST
 * MLP, the same number of samples and 4 workers (in-process test workers on real loopback sockets,
 * a real coordinator and database), and the final test accuracy of each. `ratio` = DDP bytes/sample
 * ÷ DiLoCo(H = 50) bytes/sample (target ≥ 50); `details.accuracyGapPoints` = DDP accuracy −
 * DiLoCo(H = 50) accuracy, in points (target ≤ 1). Bytes are the payloads of the run's messages:
 * parameters sent, results received (the coordinator's `bytes_out` / `bytes_in` metrics) and the
 * 4-byte sample indices of the assignments; socket.io framing is not counted. The training split is
 * sized so that every round of every run is full (no short round at an epoch's end). The H = 50 run
 * is repeated with bf16 deltas (`details.dilocoH50Bf16`).
 */
import type { BenchResult } from './bench-result.ts';
import { validateRunConfig } from '../core/config/run-config.ts';
import { startTestCoordinator, waitForWorkers } from '../tests/integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../tests/integration/support/test-worker.ts';

const WORKERS = 4;
const BATCH = 32;
/** Training digits: one DiLoCo round of H = 50 is exactly one epoch, so no round is cut short at an epoch's end. */
const TRAIN_SIZE = 50 * BATCH * WORKERS;
/** Samples every run trains: 6 DiLoCo rounds of H = 50 (6 epochs). */
const SAMPLES = 6 * TRAIN_SIZE;

interface Measured {
  bytesPerSample: number;
  paramBytes: number;
  resultBytes: number;
  indexBytes: number;
  samples: number;
  updates: number;
  accuracy: number;
  wallMs: number;
}

async function train(mode: { mode: 'ddp' } | { mode: 'diloco'; h: number; compression?: 'bf16' }): Promise<Measured> {
  const h = mode.mode === 'diloco' ? mode.h : 1;
  const updates = SAMPLES / (BATCH * WORKERS * h);
  const t = await startTestCoordinator();
  const workers: TestWorker[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) workers.push(await joinTestWorker({ url: t.coordinator.url, token: t.token, name: `w${i}` }));
    await waitForWorkers(t.coordinator, WORKERS);
    const config = validateRunConfig({
      name: `diloco-comm-${mode.mode}-${h}${mode.mode === 'diloco' && mode.compression ? `-${mode.compression}` : ''}`,
      experiment: 'bench',
      seed: 5,
      model: { type: 'mlp', hidden: [32] },
      dataset: { name: 'mnist', train_size: TRAIN_SIZE },
      optimizer: { name: 'adamw', lr: 0.002, weight_decay: 0 },
      batch_size: BATCH,
      total_updates: updates,
      eval_every: updates,
      checkpoint_every: updates + 1,
      min_workers: WORKERS,
      slice_balance: 'equal',
      step_timeout: '120s',
      ...(mode.mode === 'diloco' ? { mode: 'diloco', diloco: { inner_steps: h }, gradient_compression: mode.compression ?? 'none' } : {}),
    });
    const started = performance.now();
    const session = await t.coordinator.startRun(config);
    const outcome = await session.done;
    const wallMs = performance.now() - started;
    if (outcome.status !== 'finished' || outcome.evalAccuracy === null) throw new Error(`${config.name} ended ${outcome.status}: ${outcome.reason}`);
    const sum = async (key: string) => (await t.coordinator.store.getMetricHistory(session.runId, key)).reduce((a, p) => a + p.value, 0);
    const paramBytes = await sum('bytes_out');
    const resultBytes = await sum('bytes_in');
    const samples = await sum('batch_samples');
    const indexBytes = 4 * samples;
    return { bytesPerSample: (paramBytes + resultBytes + indexBytes) / samples, paramBytes, resultBytes, indexBytes, samples, updates, accuracy: outcome.evalAccuracy, wallMs };
  } finally {
    for (const w of workers) await w.close();
    await t.cleanup();
  }
}

/** Runs DDP, DiLoCo H = 10 and DiLoCo H = 50 one after the other on the same samples budget. */
export default async function dilocoComm(): Promise<BenchResult> {
  const ddp = await train({ mode: 'ddp' });
  const h10 = await train({ mode: 'diloco', h: 10 });
  const h50 = await train({ mode: 'diloco', h: 50 });
  const h50bf16 = await train({ mode: 'diloco', h: 50, compression: 'bf16' });
  const ratio = ddp.bytesPerSample / h50.bytesPerSample;
  const accuracyGapPoints = (ddp.accuracy - h50.accuracy) * 100;
  return {
    name: 'diloco-comm',
    value: h50.bytesPerSample,
    baseline: ddp.bytesPerSample,
    ratio,
    unit: 'B/sample',
    target: 'ratio >= 50, accuracyGapPoints <= 1',
    pass: ratio >= 50 && accuracyGapPoints <= 1,
    details: {
      workers: WORKERS,
      batchSizePerWorker: BATCH,
      samples: SAMPLES,
      model: `mlp [32] on MNIST (${TRAIN_SIZE} train / 2,000 test digits), AdamW lr 0.002 (DDP's optimizer, DiLoCo's inner one), outer Nesterov SGD lr 0.7 momentum 0.9`,
      accuracyGapPoints,
      accuracyGapPointsH10: (ddp.accuracy - h10.accuracy) * 100,
      ratioH10: ddp.bytesPerSample / h10.bytesPerSample,
      ddp,
      dilocoH10: h10,
      dilocoH50: h50,
      /** The same H = 50 run with its deltas sent as bf16 (half the upload bytes). */
      dilocoH50Bf16: h50bf16,
      ratioH50Bf16: ddp.bytesPerSample / h50bf16.bytesPerSample,
      accuracyGapPointsH50Bf16: (ddp.accuracy - h50bf16.accuracy) * 100,
    },
  };
}
