import { MODE_NAMES } from '../../../core/run/modes.ts';
import { createServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server as SocketIoServer } from 'socket.io';
import { io as connectSocketIo } from 'socket.io-client';
import type { Socket as ClientSocket } from 'socket.io-client';
import { createNextRequestHandler } from '../../../coordinator/http/next-handler.ts';
import type { NextRequestHandler } from '../../../coordinator/http/next-handler.ts';
import { Coordinator } from '../../../coordinator/coordinator.ts';
import { spawnLocalWorker, stopLocalWorkers } from '../../../coordinator/local-workers.ts';
import { StatusSchema } from '../../../core/api/status.ts';
import { SECURITY_HEADERS } from '../../../coordinator/http/request-guard.ts';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import { openDatabase, type Database } from '../../../prisma/db.ts';
import { ensureContributeBuild } from '../../e2e/support/browser-harness.ts';
import { dropTestDatabase, syntheticConfig, testDatabaseUrl, waitForWorkers } from '../support/harness.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const PROCESS_ERROR_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

describe('Next.js served from our own http server next to socket.io', () => {
  let nextApp: NextRequestHandler | undefined;
  let server: HttpServer;
  let io: SocketIoServer | undefined;
  let baseUrl: string;
  let upgradeListenersBeforeNext: number;
  let processListenersBeforeNext: Record<string, number>;

  // Everything goes to Next: what Next itself answers is under test here.
  const route = (req: IncomingMessage, res: ServerResponse): void => {
    if (!nextApp) {
      res.statusCode = 503;
      res.end('next not ready');
      return;
    }
    void nextApp.handle(req, res);
  };

  beforeAll(async () => {
    // Builds .next when stale; waits for another build holding the lock, and fails with the build's log.
    await ensureContributeBuild();
    server = createServer(route);
    const sockets = new SocketIoServer(server);
    io = sockets;
    sockets.on('connection', (socket) => {
      socket.on('add-one', (value: number, ack: (result: number) => void) => ack(value + 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    baseUrl = `http://127.0.0.1:${port}`;
    upgradeListenersBeforeNext = server.listenerCount('upgrade');
    processListenersBeforeNext = Object.fromEntries(PROCESS_ERROR_EVENTS.map((e) => [e, process.listenerCount(e)]));
    nextApp = await createNextRequestHandler({ dir: repoRoot, port, hostname: '127.0.0.1' });
  }, 300_000);

  afterAll(async () => {
    await nextApp?.close();
    // io.close() also closes the http server it is attached to.
    await new Promise<void>((resolve) => {
      if (io) void io.close(() => resolve());
      else resolve();
    });
  });

  it('serves the dashboard at / as HTML with the app title', async () => {
    const response = await fetch(`${baseUrl}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<title>crowdtrain</title>');
    expect(html).toMatch(/<h1[^>]*>crowdtrain<\/h1>/);
    expect(html).toContain('Connecting to the coordinator');
  });

  it('sends the security headers (next.config.js headers()) on pages and assets, the same as the API sends', async () => {
    const html = await (await fetch(`${baseUrl}/`)).text();
    const cssPath = /href="(\/_next\/static\/[^"]+\.css)"/.exec(html)?.[1] ?? '/no-such-asset';
    for (const pathname of ['/', '/contribute', '/runs', cssPath]) {
      const response = await fetch(`${baseUrl}${pathname}`);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(response.headers.get(name), `${name} on ${pathname}`).toBe(value);
    }
  });

  it('serves the compiled Tailwind stylesheet the page links to', async () => {
    const html = await (await fetch(`${baseUrl}/`)).text();
    const cssPath = /href="(\/_next\/static\/[^"]+\.css)"/.exec(html)?.[1];
    expect(cssPath, 'no stylesheet link in the page').toBeDefined();
    const response = await fetch(`${baseUrl}${cssPath ?? ''}`);
    expect(response.status).toBe(200);
    const css = await response.text();
    // Utilities used by the page are generated, so Tailwind ran over app/.
    expect(css).toMatch(/\.bg-slate-100\s*\{/);
    expect(css).toContain('.rounded-xl');
  });

  it('answers 404 for unknown pages and for /api/v1/status: no app/ route shadows the coordinator API', async () => {
    expect((await fetch(`${baseUrl}/no-such-page`)).status).toBe(404);
    const status = await fetch(`${baseUrl}/api/v1/status`);
    expect(status.status).toBe(404);
    expect(status.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('does not attach an upgrade listener to our server, and socket.io websockets still connect', async () => {
    await fetch(`${baseUrl}/`); // Next hooks upgrades on its first request, if it is allowed to.
    expect(server.listenerCount('upgrade')).toBe(upgradeListenersBeforeNext);

    const client: ClientSocket = connectSocketIo(baseUrl, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('connect_error', reject);
      });
      expect(client.io.engine.transport.name).toBe('websocket');
      const result = (await client.timeout(10_000).emitWithAck('add-one', 41)) as number;
      expect(result).toBe(42);
    } finally {
      client.disconnect();
    }
  });

  it('leaves no log-only uncaughtException/unhandledRejection listeners of Next on the process', async () => {
    await fetch(`${baseUrl}/`);
    const after = Object.fromEntries(PROCESS_ERROR_EVENTS.map((e) => [e, process.listenerCount(e)]));
    expect(after).toEqual(processListenersBeforeNext);
  });
  describe('behind a running coordinator (its router first, Next for everything else)', () => {
    let coordinator: Coordinator;
    let db: Database;
    let dataDir: string;
    let runId: string;
    const workers: ChildProcess[] = [];
    const workerToken = randomBytes(18).toString('base64url');

    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-next-'));
      db = await openDatabase({ url: await testDatabaseUrl(dataDir) });
      coordinator = await Coordinator.start({
        port: 0,
        host: '127.0.0.1',
        dataDir,
        db,
        workerToken,
        fallbackHandler: (req, res) => (nextApp ? nextApp.handle(req, res) : undefined),
      });
      workers.push(spawnLocalWorker(0, { url: coordinator.url, token: workerToken, backend: 'cpu', output: 'ignore', namePrefix: 'next-it' }));
      await waitForWorkers(coordinator, 1, workers);
      const session = await coordinator.startRun(validateRunConfig(syntheticConfig({ name: 'status-schema', total_updates: 100_000, eval_every: 2, checkpoint_every: 100_000 })));
      runId = session.runId;
      // Past the first eval, so the losses, accuracy, lr and rates are numbers rather than nulls.
      await new Promise<void>((resolve) => {
        const onProgress = (p: { runId: string; step: number; evalAccuracy: number | null }) => {
          if (p.runId === runId && p.step >= 3 && p.evalAccuracy !== null) {
            coordinator.events.off('progress', onProgress);
            resolve();
          }
        };
        coordinator.events.on('progress', onProgress);
      });
    });

    afterAll(async () => {
      await coordinator?.close();
      await stopLocalWorkers(workers, 2000);
      await db?.close();
      if (dataDir) {
        await dropTestDatabase(dataDir);
        await rm(dataDir, { recursive: true, force: true });
      }
    });

    it('serves the dashboard page through Next and the real GET /api/v1/status, which the dashboard\'s StatusSchema parses', async () => {
      const page = await fetch(`${coordinator.url}/`);
      expect(page.status).toBe(200);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(page.headers.get(name), name).toBe(value);
      expect(await page.text()).toContain('<title>crowdtrain</title>');

      const response = await fetch(`${coordinator.url}/api/v1/status`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const parsed = StatusSchema.safeParse(await response.json());
      expect(parsed.error?.issues ?? []).toEqual([]);
      const status = parsed.data!;
      expect(status.activeRuns).toHaveLength(1);
      const active = status.activeRuns[0];
      expect(active).toMatchObject({ runId, name: 'status-schema', experiment: 'integration', mode: 'ddp', totalUpdates: 100_000, priority: 0, minWorkers: 1, maxWorkers: null });
      expect(active?.step).toBeGreaterThanOrEqual(3);
      expect(active?.trainLoss).toEqual(expect.any(Number));
      expect(active?.evalAccuracy).toEqual(expect.any(Number));
      expect(status.workers).toHaveLength(1);
      expect(status.workers[0]).toMatchObject({ kind: 'node', backend: 'cpu', runId });
      expect(status.runs.map((r) => r.id)).toContain(runId);
      expect(status.join.command).toBe(`npm run worker -- --url ${coordinator.url} --token ${workerToken}`);
      expect(status.join.contributePath).toBe(`/contribute?token=${encodeURIComponent(workerToken)}`);
      // The modes come from the registry, not from a list kept in the API.
      expect(status.modes.map((m) => m.name)).toEqual(MODE_NAMES);
    });
  });
});
