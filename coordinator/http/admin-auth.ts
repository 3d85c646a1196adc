import type http from 'node:http';
import { z } from 'zod';
import { describeZodError } from '../../core/protocol/messages.ts';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { tokensMatch } from '../worker-token.ts';
import { loadOrCreateSecretFile } from '../secret-file.ts';

/** Name of the file (inside the data dir) that keeps a generated admin token across restarts. */
export const ADMIN_TOKEN_FILE = 'admin-token';

/** CROWDTRAIN_ADMIN_TOKEN, when set: at least 16 characters, no whitespace. */
export const AdminTokenEnvSchema = z
  .string()
  .min(16, 'CROWDTRAIN_ADMIN_TOKEN must be at least 16 characters')
  .regex(/^\S+$/, 'CROWDTRAIN_ADMIN_TOKEN must not contain whitespace');

/** Where the admin token came from: the environment, the data dir file, or freshly generated. */
export type AdminTokenSource = 'env' | 'file' | 'generated';

/**
 * The admin token that guards every write of the REST API: CROWDTRAIN_ADMIN_TOKEN when set,
 * otherwise generated at first start and kept in `<dataDir>/admin-token` (mode 0600).
 * @example const { token, source } = await loadOrCreateAdminToken('./data', process.env.CROWDTRAIN_ADMIN_TOKEN);
 */
export async function loadOrCreateAdminToken(dataDir: string, fromEnv?: string): Promise<{ token: string; source: AdminTokenSource }> {
  if (fromEnv !== undefined && fromEnv !== '') {
    const parsed = AdminTokenEnvSchema.safeParse(fromEnv);
    if (!parsed.success) throw new CrowdtrainError('INVALID_CONFIG', `invalid environment: ${describeZodError(parsed.error)}`);
    return { token: parsed.data, source: 'env' };
  }
  const { token, created } = await loadOrCreateSecretFile(dataDir, ADMIN_TOKEN_FILE);
  return { token, source: created ? 'generated' : 'file' };
}

/** Outcome of {@link checkAdminRequest}: allowed, or the HTTP status and message to refuse with. */
export type AdminCheck = { ok: true } | { ok: false; status: 401 | 403; message: string };

/**
 * Checks a request's `Authorization: Bearer <token>` against the admin token: 401 when the
 * header is missing or malformed, 403 when the token is wrong (or no admin token is configured).
 */
export function checkAdminRequest(req: http.IncomingMessage, adminToken: string | null): AdminCheck {
  const header = req.headers.authorization;
  if (header === undefined || header.trim() === '') {
    return { ok: false, status: 401, message: 'this action needs the admin token: send "Authorization: Bearer <token>" (CROWDTRAIN_ADMIN_TOKEN or <data-dir>/admin-token)' };
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) {
    return { ok: false, status: 401, message: 'malformed Authorization header: expected "Bearer <admin token>"' };
  }
  if (adminToken === null) {
    return { ok: false, status: 403, message: 'this coordinator has no admin token configured, so writes through the API are disabled' };
  }
  if (!tokensMatch(match[1], adminToken)) {
    return { ok: false, status: 403, message: 'wrong admin token: use the token printed by the coordinator at start (or CROWDTRAIN_ADMIN_TOKEN)' };
  }
  return { ok: true };
}
