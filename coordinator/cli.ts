import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { RunConfig } from '../core/config/run-config.ts';
import { CrowdtrainError } from '../core/protocol/errors.ts';
import { openDatabase, defaultDatabaseUrl } from '../prisma/db.ts';
import { Coordinator } from './coordinator.ts';
import { ProgressBoard, formatProgress } from './progress-board.ts';
import { readCoordinatorEnv, defaultDataDir } from './env.ts';
import { loadOrCreateWorkerToken } from './worker-token.ts';
import { loadOrCreateAdminToken } from './http/admin-auth.ts';
import { spawnLocalWorker, stopLocalWorkers } from './local-workers.ts';
import { MODE_NAMES } from '../core/run/modes.ts';
import { joinBanner } from './join-banner.ts';
import { submitRun } from './submit-run.ts';
import { readRunConfigFile } from './run-config-file.ts';
import { parseSweepConfig, type SweepConfig } from '../core/sweep/sweep-config.ts';
import { runTrackedSweep } from './sweep/run-sweep.ts';
import { coordinatorTrialBackend } from './sweep/coordinator-trial-backend.ts';
import { installNodeDatasetFiles } from '../worker-node/node-dataset-files.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_CONFIG = path.join(root, 'configs', 'mnist-cnn.yaml');
/** Accuracy the default experiment is expected to reach on the MNIST test split. */
const DEFAULT_TARGET_ACCURACY = 0.97;

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

function checkpointWhich(v: string): 'latest' | 'best' | number {
  if (v === 'latest' || v === 'best') return v;
  const n = Number(v);
  if (Number.isInteger(n) && n >= 0) return n;
  throw new InvalidArgumentError(`--resume-from must be latest, best or a step number, got "${v}"`);
}

interface StartOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  databaseUrl?: string;
  config?: string;
  localWorkers: number;
  workerBackend: string;
  resume?: string;
  resumeFrom: 'latest' | 'best' | number;
  dashboard: boolean;
  exitWhenDone: boolean;
  run: boolean;
  publicJoin: boolean;
  allowedHosts?: string[];
  maxActiveRuns?: number;
  resultMemoryMb?: number;
  maxUploadMb?: number;
  sweep?: string;
}

/** Formats the live progress line. */
async function start(opts: StartOptions): Promise<void> {
  // csv data sets are read from this machine's files (paths relative to the working directory).
  installNodeDatasetFiles();
  const env = readCoordinatorEnv();
  const dataDir = path.resolve(opts.dataDir ?? env.CROWDTRAIN_DATA_DIR ?? defaultDataDir());
  const port = opts.port ?? env.PORT ?? 3000;
  const host = opts.host ?? env.HOST ?? '127.0.0.1';
  const databaseUrl = opts.databaseUrl ?? env.DATABASE_URL ?? defaultDatabaseUrl(dataDir);
  const say = (line: string) => process.stdout.write(`${line}\n`);

  let config: RunConfig | null = null;
  let sweep: SweepConfig | null = null;
  if (opts.sweep) {
    if (opts.resume || opts.config) throw new CrowdtrainError('INVALID_CONFIG', '--sweep runs its own trials: it cannot be combined with --config or --resume');
    const file = path.resolve(opts.sweep);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new CrowdtrainError('INVALID_CONFIG', `cannot read sweep config ${file}: ${(err as Error).message}`);
    }
    sweep = parseSweepConfig(text, file);
  } else if (opts.run && !opts.resume) {
    // A keras `model.path` is read here and inlined (core reads no files).
    config = (await readRunConfigFile(opts.config ?? DEFAULT_CONFIG)).config;
  }

  // The coordinator evaluates on the test split; wasm is several times faster than cpu for that.
  const { selectBackend } = await import('../worker-node/backend/select-backend.ts');
  const evalBackend = await selectBackend('wasm', { needsConvBackprop: false }).catch(() => selectBackend('cpu', { needsConvBackprop: false }));
  const db = await openDatabase({ url: databaseUrl });
  const { token, source } = await loadOrCreateWorkerToken(dataDir, env.CROWDTRAIN_TOKEN);
  const admin = await loadOrCreateAdminToken(dataDir, env.CROWDTRAIN_ADMIN_TOKEN);

  let next: Awaited<ReturnType<typeof import('./http/next-handler.ts').createNextRequestHandler>> | null = null;
  if (opts.dashboard) {
    const { ensureNextBuild } = await import('../scripts/ensure-next-build.ts');
    await ensureNextBuild(root, (l) => say(`[dashboard] ${l}`));
    const { createNextRequestHandler } = await import('./http/next-handler.ts');
    next = await createNextRequestHandler({ dir: root, port, hostname: host });
  }

  let lastPrint = 0;
  const board = new ProgressBoard();
  let session: Awaited<ReturnType<Coordinator['startRun']>> | null = null;
  const tty = process.stdout.isTTY;
  const coordinator = await Coordinator.start({
    port,
    host,
    dataDir,
    db,
    workerToken: token,
    adminToken: admin.token,
    publicJoin: opts.publicJoin,
    allowedHosts: opts.allowedHosts,
    maxActiveRuns: opts.maxActiveRuns,
    resultMemoryBytes: opts.resultMemoryMb === undefined ? undefined : opts.resultMemoryMb * 1024 * 1024,
    maxUploadBytes: opts.maxUploadMb === undefined ? undefined : opts.maxUploadMb * 1024 * 1024,
    fallbackHandler: next ? (req, res) => next.handle(req, res) : undefined,
    onRunProgress: (p) => {
      // The live line follows the run this process started (others are on the dashboard);
      // with no run of its own (submitted runs, sweep trials) it shows every running run.
      if (session && p.runId !== session.runId) return;
      board.update(p);
      const now = Date.now();
      if (p.status === 'running' && now - lastPrint < (tty ? 250 : 5000)) return;
      lastPrint = now;
      // A run that just ended has left the board: its last line is its own.
      const line = board.size === 0 || p.status !== 'running' ? formatProgress(p) : board.line(tty ? process.stdout.columns || 120 : Infinity);
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else say(line);
    },
  });

  coordinator.events.on('checkpoint', (c) => {
    if (tty) process.stdout.write('\r\x1b[2K');
    say(`checkpoint at step ${c.step} (${c.reason}): ${c.path}`);
  });
  say(`crowdtrain coordinator listening on ${coordinator.url}`);
  if (next) say(`  dashboard:   ${coordinator.url}/`);
  say(`  database:    ${db.provider} ${db.provider === 'sqlite' ? db.url : '(DATABASE_URL)'}`);
  say(`  data dir:    ${dataDir}`);
  say(`  evaluation:  tfjs ${evalBackend.backend} backend`);
  say(`  worker token (${source === 'generated' ? 'generated, saved in data dir' : source}): ${token}`);
  say(
    `  admin token: ${admin.source === 'env' ? 'from CROWDTRAIN_ADMIN_TOKEN' : `${admin.source === 'generated' ? 'generated, saved in' : 'read from'} ${path.join(dataDir, 'admin-token')}`}` +
      ' (REST API writes: Authorization: Bearer <token>; see docs/api.md)',
  );
  for (const line of await joinBanner({ localUrl: coordinator.url, boundHost: host, token, publicJoin: opts.publicJoin })) say(line);

  const children: ChildProcess[] = [];
  let shuttingDown = false;
  const shutdown = async (code: number, why: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    if (tty) process.stdout.write('\n');
    say(`shutting down (${why})...`);
    await Promise.all(
      coordinator.activeRuns().map(async (run) => {
        const o = await run.stop('signal', why);
        say(`run ${run.runId} ${o.status} at step ${o.step}; checkpoint saved. Resume with: npm start -- --resume ${run.runId}`);
      }),
    );
    await stopLocalWorkers(children);
    await coordinator.close();
    await next?.close();
    await db.close();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(130, 'SIGINT'));
  process.on('SIGTERM', () => void shutdown(143, 'SIGTERM'));

  session = opts.resume
    ? await coordinator.resumeRun(opts.resume, opts.resumeFrom, {
        onSkipped: (skipped) => {
          for (const s of skipped) say(`skipped the checkpoint at step ${s.step}: ${s.reason}`);
        },
      })
    : config
      ? await coordinator.startRun(config)
      : null;
  if (session) {
    say(`${opts.resume ? 'resumed' : 'started'} run ${session.runId} (${session.config.name}, ${session.config.mode}, ${session.paramCount} parameters)`);
  }
  for (let i = 0; i < opts.localWorkers; i++) {
    children.push(
      spawnLocalWorker(i, { url: coordinator.url, token, backend: opts.workerBackend, output: 'ignore' }),
    );
  }
  if (opts.localWorkers > 0) say(`spawned ${opts.localWorkers} local worker(s) (backend ${opts.workerBackend})`);

  if (sweep) {
    say(`sweep ${sweep.name}: ${sweep.trials} trials, ${sweep.max_concurrent} at once, searcher ${sweep.searcher.type}, scheduler ${sweep.scheduler.type}, ${sweep.mode} ${sweep.metric}`);
    const result = await runTrackedSweep(db, sweep, coordinatorTrialBackend(coordinator), (trial) =>
      say(`trial ${trial.index} started as run ${trial.runId}: ${JSON.stringify(trial.params)}`),
    );
    for (const tr of result.trials) {
      say(`  trial ${tr.index} ${tr.status}${tr.stoppedAt !== null ? ` at step ${tr.stoppedAt}` : ''}: best ${sweep.metric} ${tr.bestValue ?? '-'} (${JSON.stringify(tr.params)})`);
    }
    say(result.best ? `sweep ${result.sweepId} done: best trial ${result.best.index} (run ${result.best.runId}), ${sweep.metric} ${result.best.bestValue}` : `sweep ${result.sweepId} done: no trial reported ${sweep.metric}`);
    if (opts.exitWhenDone) await shutdown(0, 'sweep done');
    else say(`dashboard still serving at ${coordinator.url}/ — Ctrl-C to exit`);
  }

  if (session) {
    const outcome = await coordinator.outcomeOf(session);
    if (tty) process.stdout.write('\n');
    const acc = outcome.evalAccuracy;
    say(
      `run ${session.runId} ${outcome.status} at step ${outcome.step}: ${outcome.reason}; ` +
        `test accuracy ${acc === null ? 'n/a' : (100 * acc).toFixed(2) + '%'}, test loss ${outcome.evalLoss?.toFixed(4) ?? 'n/a'}`,
    );
    if (!opts.config && !opts.resume && acc !== null) {
      say(
        acc >= DEFAULT_TARGET_ACCURACY
          ? `reached the ${(100 * DEFAULT_TARGET_ACCURACY).toFixed(0)}% target on the MNIST test split`
          : `below the ${(100 * DEFAULT_TARGET_ACCURACY).toFixed(0)}% target on the MNIST test split`,
      );
    }
    if (opts.exitWhenDone) await shutdown(outcome.status === 'failed' ? 1 : 0, 'run done');
    else say(`dashboard still serving at ${coordinator.url}/ — Ctrl-C to exit`);
  }
}

const program = new Command()
  .name('crowdtrain')
  .description('crowdtrain coordinator: trains TensorFlow.js models on a fleet of browser tabs and headless workers.')
  .showHelpAfterError();

program
  .command('start', { isDefault: true })
  .description('serve the dashboard and Socket.io on one port, open the tracking database, and train a run')
  .addOption(new Option('-p, --port <port>', 'HTTP port (env PORT; default 3000; 0 = any free port)').argParser(intArg('--port', 0, 65_535)))
  .addOption(new Option('--host <host>', 'interface to listen on (env HOST; default 127.0.0.1; 0.0.0.0 for other machines)'))
  .option('--data-dir <dir>', 'checkpoints, worker token and default SQLite file (env CROWDTRAIN_DATA_DIR; default ./data)')
  .option('--database-url <url>', 'file:/path.db (SQLite) or postgresql://... (env DATABASE_URL; default <data-dir>/crowdtrain.db)')
  .option('-c, --config <file>', `run config, YAML or JSON (default configs/mnist-cnn.yaml); mode: ${MODE_NAMES.join(' | ')}`)
  .addOption(new Option('-w, --local-workers <n>', 'headless workers to spawn on this machine').default(2).argParser(intArg('--local-workers', 0, 64)))
  .addOption(
    new Option('--worker-backend <name>', 'backend of the local workers: auto|tensorflow|webgpu|wasm|cpu')
      .default('auto')
      .argParser((v: string) => {
        const allowed = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];
        if (!allowed.includes(v)) throw new InvalidArgumentError(`--worker-backend must be one of ${allowed.join(', ')}, got "${v}"`);
        return v;
      }),
  )
  .option('--resume <runId>', 'continue a stopped or interrupted run exactly from its checkpoint')
  .option('--sweep <file>', 'run a hyperparameter sweep (YAML/JSON, docs/sweeps.md): its trials train as runs on the fleet')
  .addOption(new Option('--resume-from <which>', 'checkpoint to resume from: latest|best|STEP').default('latest').argParser(checkpointWhich))
  .option('--no-dashboard', 'do not serve the Next.js dashboard (API and Socket.io only)')
  .option('--no-run', 'start no run (serve the fleet and dashboard only)')
  .option('--exit-when-done', 'exit when the run ends (default: keep serving the dashboard)', false)
  .option('--public-join', 'show the worker join token (join command and browser link) on the dashboard to everyone, not only with the admin token', false)
  .addOption(
    new Option('--allowed-hosts <names>', 'comma-separated extra Host names HTTP requests may use (besides loopback and --host; "*" allows any, e.g. behind a proxy)').argParser(
      (v: string) => v.split(',').map((h) => h.trim()).filter((h) => h !== ''),
    ),
  )
  .addOption(
    new Option('--max-active-runs <n>', 'runs that may train at once on this coordinator (default 16); more are refused with RUN_CONFLICT').argParser(intArg('--max-active-runs', 1, 1000)),
  )
  .addOption(
    new Option('--result-memory-mb <n>', "memory for one round's results per run (2048; at most 4096): caps how many workers a run takes at once").argParser(
      intArg('--result-memory-mb', 1, 4096),
    ),
  )
  .addOption(
    new Option('--max-upload-mb <n>', 'largest table one upload may store under <data-dir>/datasets (1024; PUT /api/v1/datasets/uploads/...)').argParser(intArg('--max-upload-mb', 1, 65_536)),
  )
  .action(async (o: StartOptions) => {
    await start(o);
  });

program
  .command('submit <config>')
  .description('start a run on a coordinator that is already serving, beside the runs it trains (POST /api/v1/runs with the admin token)')
  .option('--url <url>', 'coordinator URL', 'http://127.0.0.1:3000')
  .option('--admin-token <token>', 'admin token (env CROWDTRAIN_ADMIN_TOKEN; default: <data-dir>/admin-token)')
  .option('--data-dir <dir>', 'where to read admin-token from (env CROWDTRAIN_DATA_DIR; default ./data)')
  .action(async (config: string, o: { url: string; adminToken?: string; dataDir?: string }) => {
    const env = readCoordinatorEnv();
    let url: URL;
    try {
      url = new URL(o.url);
    } catch {
      throw new InvalidArgumentError(`--url "${o.url}" is not a URL; expected e.g. http://127.0.0.1:3000`);
    }
    const run = await submitRun({
      config,
      url: url.origin,
      adminToken: o.adminToken ?? env.CROWDTRAIN_ADMIN_TOKEN,
      dataDir: path.resolve(o.dataDir ?? env.CROWDTRAIN_DATA_DIR ?? defaultDataDir()),
    });
    process.stdout.write(`started run ${run.runId} (${run.name}): ${run.pageUrl}\n`);
  });

program.parseAsync().catch((err: unknown) => {
  const msg = err instanceof CrowdtrainError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`crowdtrain: ${msg}\n`);
  process.exit(1);
});
