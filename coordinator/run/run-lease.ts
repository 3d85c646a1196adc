import os from 'node:os';
import createDebug from 'debug';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { LeaseQueries } from '../../prisma/queries/lease-queries.ts';
import { loadOrCreateSecretFile } from '../secret-file.ts';

const debug = createDebug('crowdtrain:lease');

/** How long a run's lease lives without a heartbeat; a second coordinator may take the run over after it. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/** Who holds leases: a coordinator's id (kept in its data dir, so a restart is the same holder) and a line saying where it runs. */
export interface LeaseIdentity {
  id: string;
  info: string;
}

/**
 * This coordinator's lease identity: the id in `<dataDir>/coordinator-id` (created at first start),
 * so a coordinator restarted on the same data dir — after kill -9, say — takes its own runs back at
 * once, while one on another data dir waits for the lease to expire.
 */
export async function coordinatorIdentity(dataDir: string, url: string): Promise<LeaseIdentity> {
  const { token } = await loadOrCreateSecretFile(dataDir, 'coordinator-id');
  return { id: token, info: `${os.hostname()} pid ${process.pid} (${url}, data dir ${dataDir})` };
}

/**
 * The lease of one run while this coordinator trains it: taken before the session opens (a run
 * another live coordinator holds is refused with RUN_CONFLICT naming it), renewed every third of
 * its lifetime, released when the run ends. `onLost` is called if a renewal finds the lease gone
 * (it expired, e.g. the database was unreachable, and another coordinator took the run).
 */
export class RunLease {
  private timer: NodeJS.Timeout | null = null;
  private released = false;

  private constructor(
    private readonly queries: LeaseQueries,
    readonly runId: string,
    private readonly identity: LeaseIdentity,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lease of `runId`, or throws RUN_CONFLICT naming the coordinator that holds it and when its lease expires. */
  static async take(queries: LeaseQueries, runId: string, identity: LeaseIdentity, ttlMs: number, onLost: (reason: string) => void): Promise<RunLease> {
    const held = await queries.acquire(runId, identity.id, identity.info, ttlMs);
    if (held) {
      throw new CrowdtrainError(
        'RUN_CONFLICT',
        `run ${runId} is being trained by another coordinator (${held.holderInfo}; last heartbeat ${held.heartbeatAt.toISOString()}); ` +
          `it can be taken over after its lease expires at ${held.expiresAt.toISOString()}`,
      );
    }
    const lease = new RunLease(queries, runId, identity, ttlMs);
    lease.timer = setInterval(() => {
      void queries.renew(runId, identity.id, ttlMs).then(
        (ok) => {
          if (ok || lease.released) return;
          lease.stopTimer();
          onLost(`the lease of run ${runId} expired and was taken by another coordinator`);
        },
        (err: unknown) => debug('could not renew the lease of %s: %O', runId, err),
      );
    }, Math.max(50, Math.floor(ttlMs / 3)));
    lease.timer.unref();
    return lease;
  }

  /** Gives the lease up (idempotent). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopTimer();
    await this.queries.release(this.runId, this.identity.id);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
