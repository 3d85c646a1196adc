import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Coordinator, type CoordinatorOptions } from '../../../coordinator/coordinator.ts';
import { spawnLocalWorker, stopLocalWorkers } from '../../../coordinator/local-workers.ts';
import { openDatabase, type Database } from '../../../prisma/db.ts';
import { testDatabaseUrl, waitForWorkers } from '../support/harness.ts';

/** A coordinator with an admin token on a free loopback port, its temp data dir and an HTTP client for its API. */
export interface ApiTestCoordinator {
  coordinator: Coordinator;
  db: Database;
  dataDir: string;
  adminToken: string;
  baseUrl: string;
  /** fetch() against the coordinator; `admin: true` adds the admin Bearer header, a string sends that token instead. */
  call(method: string, pathname: string, opts?: { body?: unknown; admin?: boolean | string; headers?: Record<string, string> }): Promise<Response>;
  /** Spawns n real cpu worker processes and waits until they joined. */
  joinWorkers(n: number): Promise<ChildProcess[]>;
  /** Stops the workers, closes the coordinator and database, removes the temp dir. */
  cleanup(): Promise<void>;
}

/** Starts a coordinator (real Socket.io + HTTP + database) for API tests. */
export async function startApiTestCoordinator(options: Partial<Pick<CoordinatorOptions, 'maxUploadBytes'>> = {}): Promise<ApiTestCoordinator> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-api-'));
  const db = await openDatabase({ url: await testDatabaseUrl(dataDir) });
  const adminToken = randomBytes(24).toString('base64url');
  const workerToken = randomBytes(18).toString('base64url');
  const coordinator = await Coordinator.start({ port: 0, host: '127.0.0.1', dataDir, db, workerToken, adminToken, ...options });
  const workers: ChildProcess[] = [];
  let cleaned = false;
  return {
    coordinator,
    db,
    dataDir,
    adminToken,
    baseUrl: coordinator.url,
    call(method, pathname, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.admin === true) headers.authorization = `Bearer ${adminToken}`;
      else if (typeof opts.admin === 'string') headers.authorization = opts.admin;
      let body: string | undefined;
      if (opts.body !== undefined) {
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      return fetch(`${coordinator.url}${pathname}`, { method, headers, body });
    },
    async joinWorkers(n) {
      const before = coordinator.workers().length;
      const made = Array.from({ length: n }, (_, i) =>
        spawnLocalWorker(workers.length + i, { url: coordinator.url, token: workerToken, backend: 'cpu', output: 'ignore', namePrefix: 'api', cacheDir: path.join(dataDir, 'dataset-cache') }),
      );
      workers.push(...made);
      await waitForWorkers(coordinator, before + n, made);
      return made;
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      await stopLocalWorkers(workers, 2000);
      await coordinator.close();
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
