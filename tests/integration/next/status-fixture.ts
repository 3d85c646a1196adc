import type { Status } from '../../../core/api/status.ts';

/** A status body shaped like the coordinator's `GET /api/v1/status`, with one active run and two workers serving it. */
export const STATUS_FIXTURE: Status = {
  version: '0.1.0',
  activeRuns: [
    {
      runId: 'run_fixture_1',
      name: 'mnist-mlp-ddp',
      experiment: 'mnist',
      status: 'running',
      mode: 'ddp',
      step: 120,
      totalUpdates: 600,
      epoch: 3,
      trainLoss: 0.2134,
      evalLoss: 0.1202,
      evalAccuracy: 0.971,
      bestAccuracy: 0.971,
      lr: 0.001,
      samplesPerSec: 350.2,
      activeWorkers: 2,
      startedAt: '2026-11-25T10:00:00.000Z',
      priority: 0,
      minWorkers: 1,
      maxWorkers: null,
    },
  ],
  workers: [
    { id: 'w1', name: 'gpu-box-1', kind: 'node', backend: 'cpu', steps: 60, samples: 7680, samplesPerSec: 170.1, lastSeenAt: '2026-11-25T10:05:00.000Z', runId: 'run_fixture_1' },
    { id: 'w2', name: 'chrome-tab', kind: 'browser', backend: 'webgl', steps: 60, samples: 7680, samplesPerSec: 180.1, lastSeenAt: '2026-11-25T10:04:58.000Z', runId: 'run_fixture_1' },
  ],
  runs: [
    { id: 'run_fixture_1', name: 'mnist-mlp-ddp', status: 'running', step: 120, totalUpdates: 600, bestAccuracy: 0.971, createdAt: '2026-11-25T10:00:00.000Z' },
    { id: 'run_fixture_0', name: 'mnist-cnn', status: 'finished', step: 600, totalUpdates: 600, bestAccuracy: 0.975, createdAt: '2026-11-24T09:00:00.000Z' },
  ],
  join: {
    command: 'npm run worker -- --url http://127.0.0.1:3000 --token fixture-token',
    url: 'http://127.0.0.1:3000',
    contributePath: '/contribute?token=fixture-token',
    tokenHint: null,
  },
  modes: [{ name: 'ddp', summary: 'synchronous data parallel' }],
  shardOwners: [],
};
