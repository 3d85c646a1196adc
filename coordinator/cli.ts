import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseRunConfig, type RunConfig } from '../core/config/run-config.ts';
import { CrowdtrainError } from '../core/protocol/errors.ts';
import { openDatabase, defaultDatabaseUrl } from '../prisma/db.ts';
import { Coordinator } from './coordinator.ts';
import type { RunProgress } from './run/run-session.ts';
import { readCoordinatorEnv, defaultDataDir } from './env.ts';
import { loadOrCreateWorkerToken } from './worker-token.ts';
import { loadOrCreateAdminToken } from './http/admin-auth.ts';
import { spawnLocalWorker, stopLocalWorkers } from './local-workers.ts';
import { MODE_NAMES } from '../core/run/modes.ts';
import { joinBanner } from './join-banner.ts';

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
}

/** Formats the live progress line. */
export function formatProgress(p: RunProgress): string {
  const pct = ((100 * p.step) / p.totalUpdates).toFixed(0);
  const f = (v: number | null, d = 4) => (v === null ? '-' : v.toFixed(d));
  return (
    `step ${p.step}/${p.totalUpdates} (${pct}%) epoch ${p.epoch} loss ${f(p.trainLoss)} ` +
    `acc ${p.evalAccuracy === null ? '-' : (100 * p.evalAccuracy).toFixed(2) + '%'} ` +
    `lr ${p.lr === null ? '-' : p.lr.toExponential(2)} ${f(p.samplesPerSec, 0)} samples/s workers ${p.activeWorkers}`
  );
}

async function start(opts: StartOptions): Promise<void> {
  const env = readCoordinatorEnv();
  const dataDir = path.resolve(opts.dataDir ?? env.CROWDTRAIN_DATA_DIR ?? defaultDataDir());
  const port = opts.port ?? env.PORT ?? 3000;
  const host = opts.host ?? env.HOST ?? '127.0.0.1';
  const databaseUrl = opts.databaseUrl ?? env.DATABASE_URL ?? defaultDatabaseUrl(dataDir);
  const say = (line: string) => process.stdout.write(`${line}\n`);

  let config: RunConfig | null = null;
  if (opts.run && !opts.resume) {
    const file = path.resolve(opts.config ?? DEFAULT_CONFIG);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new CrowdtrainError('INVALID_CONFIG', `cannot read config ${file}: ${(err as Error).message}`);
    }
    config = parseRunConfig(text, file);
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
    fallbackHandler: next ? (req, res) => next.handle(req, res) : undefined,
    onRunProgress: (p) => {
      const now = Date.now();
      if (p.status === 'running' && now - lastPrint < (tty ? 250 : 5000)) return;
      lastPrint = now;
      const line = formatProgress(p);
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
    const run = coordinator.activeRun;
    if (run) {
      const o = await run.stop('signal', why);
      say(`run ${run.runId} ${o.status} at step ${o.step}; checkpoint saved. Resume with: npm start -- --resume ${run.runId}`);
    }
    await stopLocalWorkers(children);
    await coordinator.close();
    await next?.close();
    await db.close();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(130, 'SIGINT'));
  process.on('SIGTERM', () => void shutdown(143, 'SIGTERM'));

  const session = opts.resume
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

  if (session) {
    const outcome = await session.done;
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
  .action(async (o: StartOptions) => {
    await start(o);
  });

program.parseAsync().catch((err: unknown) => {
  const msg = err instanceof CrowdtrainError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`crowdtrain: ${msg}\n`);
  process.exit(1);
});
