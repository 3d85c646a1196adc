/**
 * `npm run bench -- tab-overhead` (or `npx tsx bench/tab-overhead.ts`): samples/s of one Chromium
 * tab training through crowdtrain (coordinator on this machine, params down and gradients up every
 * step, Adam applied by the coordinator) vs the same model trained with plain `model.fit` in the
 * same tab, on the same backend. Target ratio >= 0.8.
 * Env: BENCH_TAB_BACKEND (default webgl), BENCH_TAB_MODEL (mlp | cnn, default mlp).
 */
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { validateRunConfig, type RunConfigInput } from '../core/config/run-config.ts';
import type { AppliedUpdate } from '../coordinator/run/run-session.ts';
import { launchChromium, startE2eCoordinator, waitForTabState, waitForWorkerCount, type E2eCoordinator } from '../tests/e2e/support/browser-harness.ts';
import type { BenchResult } from './bench-result.ts';

const WARMUP_UPDATES = 10;
const TIMED_UPDATES = 60;
const TARGET_RATIO = 0.8;

function benchConfig(modelKind: string): RunConfigInput {
  return {
    name: 'bench-tab-overhead',
    experiment: 'bench',
    seed: 7,
    model: modelKind === 'cnn' ? { type: 'cnn', conv: [{ filters: 8, kernel_size: 5 }], pool: 2, dense: [] } : { type: 'mlp', hidden: [256, 128] },
    dataset: { name: 'mnist', train_size: 8000 },
    optimizer: { name: 'adam', lr: 0.001 },
    batch_size: 128,
    total_updates: WARMUP_UPDATES + TIMED_UPDATES,
    eval_every: 1_000_000,
    checkpoint_every: 1_000_000,
    min_workers: 1,
  };
}

/** Runs the bench and returns its result (ratio = crowdtrain samples/s / plain model.fit samples/s). */
export default async function tabOverhead(): Promise<BenchResult> {
  const backend = process.env.BENCH_TAB_BACKEND ?? 'webgl';
  const modelKind = process.env.BENCH_TAB_MODEL ?? 'mlp';
  let env: E2eCoordinator | null = null;
  let browser: Browser | null = null;
  try {
    env = await startE2eCoordinator();
    browser = await launchChromium({ webgpu: backend === 'webgpu' });
    const page = await browser.newPage();
    await page.goto(env.contributeUrl({ backend, name: 'bench-tab' }));
    const ready = await waitForTabState(page, ['waiting']);
    await waitForWorkerCount(env.coordinator, 1);
    const input = benchConfig(modelKind);
    const config = validateRunConfig(input);
    const stamps: number[] = [];
    env.coordinator.events.on('update', (_u: AppliedUpdate) => stamps.push(performance.now()));
    const session = await env.coordinator.startRun(config);
    const outcome = await session.done;
    if (outcome.status !== 'finished') throw new Error(`bench run ended ${outcome.status}: ${outcome.reason}`);
    const t0 = stamps[WARMUP_UPDATES - 1];
    const t1 = stamps.at(-1);
    if (t0 === undefined || t1 === undefined) throw new Error(`only ${stamps.length} updates were applied`);
    const crowdSeconds = (t1 - t0) / 1000;
    const crowdRate = (TIMED_UPDATES * config.batch_size) / crowdSeconds;
    const snap = await waitForTabState(page, ['finished']);

    const plain = await page.evaluate(
      (req) => window.__crowdtrainContribute!.timePlainFit(req),
      { model: input.model, dataset: input.dataset, batchSize: config.batch_size, steps: TIMED_UPDATES, warmupSteps: WARMUP_UPDATES, lr: 0.001, seed: 7 },
    );
    if (plain.backend !== snap.backend) throw new Error(`plain fit ran on ${plain.backend}, the tab trained on ${snap.backend}`);
    const ratio = crowdRate / plain.samplesPerSec;
    return {
      name: 'tab-overhead',
      value: crowdRate,
      baseline: plain.samplesPerSec,
      ratio,
      unit: 'samples/s',
      target: `>= ${TARGET_RATIO}`,
      pass: ratio >= TARGET_RATIO,
      details: {
        backend: snap.backend,
        adapter: ready.adapter,
        model: input.model,
        batchSize: config.batch_size,
        timedUpdates: TIMED_UPDATES,
        crowdSeconds,
        plainSeconds: plain.seconds,
        tabComputeSeconds: snap.computeSeconds,
        bytesSentPerStep: snap.bytesSent / Math.max(snap.stepsDone, 1),
        bytesReceivedPerStep: snap.bytesReceived / Math.max(snap.stepsDone, 1),
      },
    };
  } finally {
    await browser?.close();
    await env?.cleanup();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await tabOverhead();
  console.log(JSON.stringify(r, null, 2));
}
