/** API tokens: created once and shown once, stored as sha256, verified by scope, revoked (a part of TrackingStore). */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import createDebug from 'debug';
import { z } from 'zod';
import type { TrackingPrismaClient } from '../db.ts';
import { invalid, requireText } from './query-guards.ts';

const debug = createDebug('crowdtrain:db:tracking');

/** API token scopes; an admin token also satisfies the worker scope. */
export const TokenScopeSchema = z.enum(['worker', 'admin']);
/** One of the API token scopes. */
export type TokenScope = z.infer<typeof TokenScopeSchema>;

/** What {@link TrackingStore.verifyApiToken} returns for a valid token. */
export interface VerifiedToken {
  id: string;
  name: string;
  scope: TokenScope;
}

/** The API token queries of {@link TrackingStore}. */
export class TokenQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Creates an API token and returns it once (32 random bytes, base64url); only its sha256 is stored.
   * @example const { token } = await store.createApiToken('lab-gpu-1', 'worker');
   */
  async createApiToken(name: string, scope: TokenScope): Promise<{ token: string; id: string }> {
    requireText('token name', name);
    const parsed = TokenScopeSchema.safeParse(scope);
    if (!parsed.success) throw invalid(`token scope "${String(scope)}" is not one of ${TokenScopeSchema.options.join(', ')}`);
    const token = randomBytes(32).toString('base64url');
    const row = await this.prisma.apiToken.create({ data: { name, scope: parsed.data, hash: hashToken(token) }, select: { id: true } });
    debug('created %s token %s (%s)', parsed.data, row.id, name);
    return { token, id: row.id };
  }

  /**
   * Checks a presented token: returns its id, name and scope when it exists, is not revoked and
   * covers `scope` (admin covers worker), and records the use; otherwise null.
   */
  async verifyApiToken(token: string, scope?: TokenScope): Promise<VerifiedToken | null> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) return null;
    const hash = hashToken(token);
    const row = await this.prisma.apiToken.findUnique({ where: { hash } });
    if (row === null || row.revokedAt !== null) return null;
    const stored = Buffer.from(row.hash, 'hex');
    const presented = Buffer.from(hash, 'hex');
    if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) return null;
    const rowScope = TokenScopeSchema.safeParse(row.scope);
    if (!rowScope.success) return null;
    if (scope !== undefined && scope !== rowScope.data && rowScope.data !== 'admin') return null;
    await this.prisma.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } });
    return { id: row.id, name: row.name, scope: rowScope.data };
  }

  /** Revokes a token (idempotent); returns false when no such token exists. */
  async revokeApiToken(id: string): Promise<boolean> {
    const existing = await this.prisma.apiToken.findUnique({ where: { id }, select: { revokedAt: true } });
    if (existing === null) return false;
    if (existing.revokedAt === null) await this.prisma.apiToken.update({ where: { id }, data: { revokedAt: new Date() } });
    return true;
  }
}

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
