import { mkdtemp, rm, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Coordinator } from '../../../coordinator/coordinator.ts';
import { createNextRequestHandler, type NextRequestHandler } from '../../../coordinator/http/next-handler.ts';
import { spawnLocalWorker, stopLocalWorkers } from '../../../coordinator/local-workers.ts';
import { openDatabase, type Database } from '../../../prisma/db.ts';
import { dropTestDatabase, testDatabaseUrl, waitForWorkers } from '../../integration/support/harness.ts';
import { ensureNextBuild } from '../../../scripts/ensure-next-build.ts';
import type { ContributeSnapshot } from '../../../app/_contribute/browser-worker.ts';

/** The repository root (holds app/ and .next/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Chromium flags that work headless as root here; WebGPU is added by `launchChromium({ webgpu: true })`. */
export const CHROMIUM_BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The Chromium binary: CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
}

/** Whether the Chromium binary exists (e2e suites skip with a reason when it does not). */
export async function chromiumAvailable(): Promise<boolean> {
  try {
    await access(chromiumPath());
    return true;
  } catch {
    return false;
  }
}

/** Launches headless Chromium, with `--enable-unsafe-webgpu` when `webgpu` is true. */
export function launchChromium(opts: { webgpu: boolean }): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [...CHROMIUM_BASE_ARGS, ...(opts.webgpu ? ['--enable-unsafe-webgpu'] : [])],
  });
}

/**
 * Builds the Next app when it is stale (ensureNextBuild's inputs include core/, which holds the worker loop and
 * the socket transport the tab bundles). When another `next build` holds the build lock in a shared
 * checkout, waits for it and tries again.
 */
export async function ensureContributeBuild(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const lines: string[] = [];
    try {
      await ensureNextBuild(REPO_ROOT, (line) => lines.push(line));
      return;
    } catch (err) {
      const busy = lines.some((l) => l.includes('Another next build process is already running'));
      if (!busy || attempt >= BUILD_LOCK_ATTEMPTS) {
        throw new Error(`next build failed:\n${lines.slice(-30).join('\n')}`, { cause: err });
      }
      await new Promise((resolve) => setTimeout(resolve, BUILD_LOCK_RETRY_MS));
    }
  }
}

const BUILD_LOCK_ATTEMPTS = 30;
const BUILD_LOCK_RETRY_MS = 5000;

/** A coordinator serving the real Next.js app (the /contribute page) on a free loopback port. */
export interface E2eCoordinator {
  coordinator: Coordinator;
  db: Database;
  dataDir: string;
  token: string;
  url: string;
  workers: ChildProcess[];
  /** The join link of a tab: /contribute with the token and optional backend and name. */
  contributeUrl(opts?: { backend?: string; name?: string; token?: string; leaveInBackground?: boolean }): string;
  /** Spawns a real node worker process. */
  spawnNodeWorker(backend?: string): ChildProcess;
  /** Spawns n real node worker processes and waits until they joined (fails fast if one crashes). */
  joinNodeWorkers(n: number, backend?: string): Promise<ChildProcess[]>;
  /** Closes the coordinator (tabs see it unreachable); `startAgain` binds a new one on the same port, token and database. */
  stopCoordinator(): Promise<{ startAgain(): Promise<Coordinator> }>;
  /** Stops workers, the coordinator (checkpointing an active run), Next and the database, and removes the temp dir. */
  cleanup(): Promise<void>;
}

/**
 * Builds the Next app if stale and starts a coordinator that serves it, with its own temp dir and
 * database (testDatabaseUrl: SQLite, or PostgreSQL in the PostgreSQL pass). `adminToken` enables the
 * REST API's writes.
 */
export async function startE2eCoordinator(opts: { adminToken?: string } = {}): Promise<E2eCoordinator> {
  await ensureContributeBuild();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-e2e-'));
  const db = await openDatabase({ url: await testDatabaseUrl(dataDir) });
  const token = randomBytes(18).toString('base64url');
  let next: NextRequestHandler | null = null;
  const startCoordinator = (port: number) =>
    Coordinator.start({
      port,
      host: '127.0.0.1',
      dataDir,
      db,
      workerToken: token,
      adminToken: opts.adminToken,
      fallbackHandler: async (req, res) => {
        if (!next) {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('dashboard starting\n');
          return;
        }
        await next.handle(req, res);
      },
    });
  const first = await startCoordinator(0);
  const port = first.port;
  next = await createNextRequestHandler({ dir: REPO_ROOT, port, hostname: '127.0.0.1' });
  let live: Coordinator | null = first;
  const workers: ChildProcess[] = [];
  let cleaned = false;
  const env: E2eCoordinator = {
    get coordinator() {
      if (!live) throw new Error('the coordinator is stopped; call startAgain()');
      return live;
    },
    db,
    dataDir,
    token,
    url: first.url,
    workers,
    contributeUrl(opts = {}) {
      // Headless tabs may count as hidden; tests opt in to the leave-when-hidden behaviour.
      const q = new URLSearchParams({ token: opts.token ?? token });
      if (!opts.leaveInBackground) q.set('background', 'stay');
      if (opts.backend) q.set('backend', opts.backend);
      if (opts.name) q.set('name', opts.name);
      return `${first.url}/contribute?${q.toString()}`;
    },
    spawnNodeWorker(backend = 'cpu') {
      const child = spawnLocalWorker(workers.length, { url: first.url, token, backend, output: process.env.CROWDTRAIN_TEST_WORKER_OUTPUT === '1' ? 'inherit' : 'ignore', namePrefix: 'e2e-node' });
      workers.push(child);
      return child;
    },
    async joinNodeWorkers(n, backend = 'cpu') {
      const before = env.coordinator.workers().length;
      const made = Array.from({ length: n }, () => env.spawnNodeWorker(backend));
      await waitForWorkers(env.coordinator, before + n, made);
      return made;
    },
    async stopCoordinator() {
      const c = env.coordinator;
      live = null;
      await c.close();
      return {
        startAgain: async () => {
          live = await startCoordinator(port);
          return live;
        },
      };
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      await stopLocalWorkers(workers, 2000);
      await live?.close();
      await next?.close();
      await db.close();
      await dropTestDatabase(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return env;
}

/** The tab worker's snapshot (null before the worker module has loaded). */
export function tabSnapshot(page: Page): Promise<ContributeSnapshot | null> {
  return page.evaluate(() => window.__crowdtrainContribute?.snapshot() ?? null);
}

/** Waits until the tab's state is one of `states`; fails with the tab's last message otherwise. */
export async function waitForTabState(page: Page, states: string[], timeoutMs = 120_000): Promise<ContributeSnapshot> {
  try {
    await page.waitForFunction((wanted) => {
      const s = window.__crowdtrainContribute?.snapshot();
      return s !== undefined && wanted.includes(s.state);
    }, states, { timeout: timeoutMs, polling: 100 });
  } catch (err) {
    const snap = await tabSnapshot(page).catch(() => null);
    throw new Error(`tab never reached ${states.join('|')}: last state ${snap?.state ?? 'none'} (${snap?.message ?? ''})`, { cause: err });
  }
  const snap = await tabSnapshot(page);
  if (!snap) throw new Error('tab snapshot vanished');
  return snap;
}

/** Resolves when the coordinator has at least `n` workers connected. */
export function waitForWorkerCount(c: Coordinator, n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (c.workers().length >= n) {
        c.events.off('worker-joined', check);
        resolve();
      }
    };
    c.events.on('worker-joined', check);
    check();
  });
}

/** Collects a page's console errors and uncaught exceptions (attach right after newPage). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Failed requests are reported below with their URL.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    // Next prefetches every <Link> of the layout; pages other sessions have not built yet 404 there.
    if (r.status() >= 400 && !r.url().includes('_rsc=')) errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  return errors;
}
