/** Run leases: which coordinator trains a run now (the `RunLease` table). */
import type { TrackingPrismaClient } from '../db.ts';
import { prismaCode } from './query-guards.ts';

/** A live lease held by another coordinator. */
export interface LeaseHolder {
  holder: string;
  holderInfo: string;
  heartbeatAt: Date;
  expiresAt: Date;
}

/**
 * Lease queries, each one statement that is atomic on SQLite and PostgreSQL alike: taking a lease
 * is a conditional update (free, expired, or already ours) and, when there is no row, an insert
 * whose primary key refuses a concurrent taker.
 */
export class LeaseQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Takes (or renews) the lease of `runId` for `holder` until `now + ttlMs`. Resolves null when
   * taken, or the live lease of another coordinator when refused.
   */
  async acquire(runId: string, holder: string, holderInfo: string, ttlMs: number, now = new Date()): Promise<LeaseHolder | null> {
    const data = { holder, holderInfo, heartbeatAt: now, expiresAt: new Date(now.getTime() + ttlMs) };
    const takeable = { runId, OR: [{ holder }, { expiresAt: { lte: now } }] };
    // Two rounds: a lease released or expired between our statements is taken on the second.
    for (let round = 0; round < 2; round++) {
      if ((await this.prisma.runLease.updateMany({ where: takeable, data })).count === 1) return null;
      try {
        await this.prisma.runLease.create({ data: { runId, ...data } });
        return null;
      } catch (err) {
        if (prismaCode(err) !== 'P2002') throw err;
      }
      const held = await this.prisma.runLease.findUnique({ where: { runId } });
      if (held && held.holder !== holder && held.expiresAt > now) return held;
    }
    return (await this.prisma.runLease.findUnique({ where: { runId } })) ?? { holder: 'unknown', holderInfo: 'unknown', heartbeatAt: now, expiresAt: now };
  }

  /** Extends a lease `holder` still holds; false when it lost it (expired and taken by another). */
  async renew(runId: string, holder: string, ttlMs: number, now = new Date()): Promise<boolean> {
    const r = await this.prisma.runLease.updateMany({ where: { runId, holder }, data: { heartbeatAt: now, expiresAt: new Date(now.getTime() + ttlMs) } });
    return r.count === 1;
  }

  /** Gives the lease up (only if `holder` holds it). */
  async release(runId: string, holder: string): Promise<void> {
    await this.prisma.runLease.deleteMany({ where: { runId, holder } });
  }

  /** The lease of a run, if any (live or expired). */
  async get(runId: string): Promise<LeaseHolder | null> {
    return this.prisma.runLease.findUnique({ where: { runId } });
  }
}
