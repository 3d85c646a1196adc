import os from 'node:os';
import { Command, Option, InvalidArgumentError } from 'commander';
import createDebug from 'debug';
import * as tf from '@tensorflow/tfjs-core';
import type { WorkerProgress } from '../core/worker/worker-session.ts';
import { WorkerConnection } from '../core/worker/worker-connection.ts';
import { loadDataset, type DatasetSpec } from '../core/data/dataset-spec.ts';
import type { Dataset } from '../core/data/dataset.ts';
import type { ModelSpec } from '../core/models/model-spec.ts';
import { CrowdtrainError } from '../core/protocol/errors.ts';
import { BACKEND_REQUESTS, parseBackendRequest, selectBackend, type BackendRequest } from './backend/select-backend.ts';
import { connectWorkerSocket } from './connect-socket.ts';
import { installNodeDatasetFiles } from './node-dataset-files.ts';
import { TrainSplitDownloader } from './train-split-download.ts';
import { io } from 'socket.io-client';
import { startShardOwner, type ShardOwner } from '../core/shard/shard-owner-client.ts';

const debug = createDebug('crowdtrain:worker');

interface WorkerCliOptions {
  url: string;
  token: string;
  backend: BackendRequest;
  name?: string;
  quiet: boolean;
  exitAfterRun: boolean;
  run?: string;
  shardOwner: boolean;
  maxBatch?: number;
  data: DataSource;
  cacheDir?: string;
}

/** Where a worker gets a run's train split: see the --data option. */
const DATA_SOURCES = ['auto', 'local', 'coordinator'] as const;
type DataSource = (typeof DATA_SOURCES)[number];

/** Whether the train split of `spec` is downloaded from the coordinator under --data `source`: file-backed data sets under `auto`, every one under `coordinator`. */
function downloadsSplit(source: DataSource, spec: DatasetSpec): boolean {
  return source === 'coordinator' || (source === 'auto' && (spec.name === 'csv' || spec.name === 'images'));
}

function parseMaxBatch(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new InvalidArgumentError(`--max-batch must be an integer from 1 to 1000000, got "${value}"`);
  return n;
}

function parseUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL; expected e.g. http://127.0.0.1:3000`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`URL scheme must be http or https, got ${u.protocol}`);
  return u.origin;
}

function parseRunId(value: string): string {
  // The protocol's id rule (core/protocol/messages.ts): the hello is refused otherwise.
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(value)) throw new InvalidArgumentError(`--run must be a run id (letters, digits, _ . : -), got "${value}"`);
  return value;
}

function parseBackend(value: string): BackendRequest {
  try {
    return parseBackendRequest(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

const program = new Command()
  .name('crowdtrain-worker')
  .description('Headless crowdtrain worker: joins a coordinator and runs the task of its active run (the gradient of each slice, for ddp).')
  .addOption(new Option('--url <url>', 'coordinator URL').env('CROWDTRAIN_URL').default('http://127.0.0.1:3000').argParser(parseUrl))
  .addOption(new Option('--token <token>', 'worker join token printed by the coordinator').env('CROWDTRAIN_TOKEN'))
  .addOption(
    new Option('--backend <name>', `tfjs backend: ${BACKEND_REQUESTS.join('|')}`).env('CROWDTRAIN_BACKEND').default('auto').argParser(parseBackend),
  )
  .option('--name <name>', 'name shown in the dashboard', `${os.hostname()}-${process.pid}`)
  .option('--quiet', 'no progress output', false)
  .option('--exit-after-run', 'exit when the run this worker trained ends', false)
  .addOption(new Option('--run <id>', 'serve only this run (pinned); idle while it is not active').env('CROWDTRAIN_RUN').argParser(parseRunId))
  .addOption(
    new Option('--max-batch <n>', 'most samples this worker computes per step (slices are capped to it; e.g. what fits its memory)').env('CROWDTRAIN_MAX_BATCH').argParser(parseMaxBatch),
  )
  .addOption(
    new Option('--data <source>', 'where train splits come from: auto (csv and image data sets downloaded from the coordinator, built-in data made here), local (files read here, at the config path), coordinator (every split downloaded)')
      .env('CROWDTRAIN_DATA')
      .choices(DATA_SOURCES)
      .default('auto'),
  )
  .addOption(new Option('--cache-dir <dir>', 'disk cache of downloaded train splits (default: ~/.cache/crowdtrain/datasets)').env('CROWDTRAIN_CACHE_DIR'))
  .option('--shard-owner', "also hold ranges of sharded runs' parameters and optimizer state (mode: sharded)", false)
  .showHelpAfterError();

async function main(): Promise<void> {
  program.parse();
  // Under --data local, csv data sets are read from this machine's files, at the run config's paths.
  installNodeDatasetFiles();
  const opts = program.opts<WorkerCliOptions>();
  if (!opts.token) {
    program.error('error: --token is required (or set CROWDTRAIN_TOKEN); the coordinator prints it at start');
  }
  const out = (line: string) => {
    if (!opts.quiet) process.stdout.write(`${line}\n`);
  };

  let choice;
  try {
    // Our conv layers compute their kernel gradient with forward convs (FastConv2D), so no backend
    // needs Conv2DBackpropFilter for the built-in models.
    choice = await selectBackend(opts.backend, { needsConvBackprop: false });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  for (const f of choice.fallbacks) out(`backend ${f.backend} skipped: ${f.reason}`);
  out(`worker ${opts.name}: backend ${choice.backend}${choice.device.adapter ? ` (${choice.device.adapter})` : ''}`);

  const datasets = new Map<string, Promise<Dataset>>();
  const downloader = new TrainSplitDownloader({ url: opts.url, ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}) });
  const loadTrainSet = (spec: DatasetSpec): Promise<Dataset> => {
    const key = JSON.stringify(spec);
    let p = datasets.get(key);
    if (!p) {
      p = downloadsSplit(opts.data, spec)
        ? downloader.load(spec).then((d) => {
            out(`dataset ${spec.name}: ${d.dataset.size} samples ${d.source === 'cache' ? 'from the cache' : `downloaded (${d.bytes} bytes)`}`);
            return d.dataset;
          })
        : loadDataset(spec).then((d) => d.train);
      p.catch(() => datasets.delete(key));
      datasets.set(key, p);
    }
    return p;
  };
  const prepareBackend = (_model: ModelSpec): Promise<string> => Promise.resolve(tf.getBackend());

  let lastLine = 0;
  let shardOwner: Promise<ShardOwner | undefined> | undefined;
  const connection = new WorkerConnection({
    socket: connectWorkerSocket(opts.url, opts.token),
    hello: () => ({
      kind: 'node',
      backend: tf.getBackend(),
      name: opts.name,
      ...(opts.run ? { pinRun: opts.run } : {}),
      userAgent: `node/${process.versions.node} ${process.platform}-${process.arch}`,
      deviceInfo: {
        hostname: os.hostname(),
        cpus: os.cpus().length,
        memoryGb: Math.round(os.totalmem() / 2 ** 30),
        adapter: choice.device.adapter ?? null,
      },
      capabilities: { convBackprop: true, ...(opts.maxBatch === undefined ? {} : { maxBatch: opts.maxBatch }) },
    }),
    session: {
      loadTrainSet,
      prepareBackend,
      onProgress: (p: WorkerProgress) => {
        const now = Date.now();
        if (now - lastLine < 2000) return;
        lastLine = now;
        out(
          `[${connection.workerId ?? opts.name}] step ${p.step} epoch ${p.epoch} loss ${p.loss.toFixed(4)} ` +
            `${p.samplesPerSec.toFixed(1)} samples/s, ${p.stepsDone} steps, ${(p.bytesSent / 1e6).toFixed(1)} MB sent`,
        );
      },
      onRunReleased: (runId, reason) => out(`released from run ${runId}: ${reason}; waiting for the next run`),
      onRunEnd: (runId, status, reason) => {
        out(`run ${runId} ${status}: ${reason}`);
        if (opts.exitAfterRun) shutdown(0, 'run ended');
      },
      onError: (err) => {
        const msg = err instanceof Error ? err.message : String(err);
        process.stderr.write(`worker error: ${msg}\n`);
      },
    },
    onEvent: (e) => {
      switch (e.type) {
        case 'joined':
          out(`${e.rejoined ? 'rejoined' : 'joined'} ${opts.url} as ${e.workerId}`);
          if (opts.shardOwner && !shardOwner) {
            // Once, after the first join: the owner reconnects by itself from then on.
            shardOwner = startShardOwner({ url: opts.url, token: opts.token, name: opts.name, connect: io, onLog: out }).then(
              (owner) => {
                out(`shard owner ${owner.ownerId} connected to ${opts.url}`);
                return owner;
              },
              (err: unknown) => {
                process.stderr.write(`shard owner failed: ${(err as Error).message}\n`);
                return undefined;
              },
            );
          }
          break;
        case 'join-refused':
          process.stderr.write(`join refused: ${e.error.code}: ${e.error.message}\n`);
          break;
        case 'hello-failed':
          process.stderr.write(`${e.message}\n`);
          break;
        case 'unreachable':
          out(`coordinator ${opts.url} unreachable (${e.message}); retrying`);
          break;
        case 'handshake-refused':
          process.stderr.write(`cannot join ${opts.url}: ${e.message}\n`);
          shutdown(3, e.code);
          break;
        case 'disconnected':
          if (!e.intentional) out(`disconnected (${e.reason})${e.reconnecting ? '; reconnecting' : ''}`);
          break;
        case 'coordinator-error':
          process.stderr.write(`coordinator says ${e.error.code}: ${e.error.message}\n`);
          break;
      }
    },
  });

  let stopping = false;
  function shutdown(code: number, why: string): void {
    if (stopping) return;
    stopping = true;
    debug('shutting down: %s', why);
    // Waits (briefly) for the coordinator to record the worker:leave.
    const closeOwner = shardOwner?.then((o) => o?.close());
    void Promise.all([connection.close(why), closeOwner]).finally(() => process.exit(code));
  }
  connection.start();
  process.on('SIGINT', () => shutdown(0, 'SIGINT'));
  process.on('SIGTERM', () => shutdown(0, 'SIGTERM'));
}

main().catch((err: unknown) => {
  const msg = err instanceof CrowdtrainError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`crowdtrain-worker: ${msg}\n`);
  process.exit(1);
});
