/**
 * The coordinator the fleet-sim bench measures: a real Coordinator in the bench's own process on
 * 127.0.0.1 (port 0), with a temp data dir and SQLite database, and its per-address and total
 * connection caps raised to let every simulated worker in from the one loopback address (the
 * defaults, 64 per address and 1,024 in all, would refuse most of a 1,024-worker fleet). Nothing
 * else differs from `npm start`: the per-socket message budgets (token-bucket.ts) stay as they
 * are — a worker sends one commit per update, far under them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Coordinator } from '../../coordinator/coordinator.ts';
import type { ConnectionLimits } from '../../coordinator/fleet/connection-guard.ts';
import { defaultDatabaseUrl, openDatabase } from '../../prisma/db.ts';

/** A started bench coordinator and how to remove it. */
export interface SimCoordinator {
  coordinator: Coordinator;
  token: string;
  dataDir: string;
  /** The connection caps it runs with. */
  connectionLimits: Pick<ConnectionLimits, 'perAddress' | 'total'>;
  /** Closes the coordinator (stopping any run), the database, and removes the temp dir. Idempotent. */
  cleanup(): Promise<void>;
}

/** Connections the caps leave free above the fleet (reconnects that overlap the old socket's close). */
const CAP_HEADROOM = 64;

/**
 * Starts a coordinator that admits `workers` loopback connections (plus headroom).
 * @example const c = await startSimCoordinator(1024); try { ... } finally { await c.cleanup(); }
 */
export async function startSimCoordinator(workers: number): Promise<SimCoordinator> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-fleet-sim-'));
  const token = randomBytes(18).toString('base64url');
  const connectionLimits = { perAddress: workers + CAP_HEADROOM, total: workers + CAP_HEADROOM };
  let db: Awaited<ReturnType<typeof openDatabase>> | null = null;
  let coordinator: Coordinator | null = null;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    try {
      await coordinator?.close();
    } finally {
      try {
        await db?.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }
  };
  try {
    db = await openDatabase({ url: defaultDatabaseUrl(dataDir) });
    coordinator = await Coordinator.start({ port: 0, host: '127.0.0.1', dataDir, db, workerToken: token, connectionLimits });
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { coordinator, token, dataDir, connectionLimits, cleanup };
}
