import { timingSafeEqual, createHash } from 'node:crypto';
import { loadOrCreateSecretFile } from './secret-file.ts';

/**
 * The worker join token: from CROWDTRAIN_TOKEN when set, otherwise generated at first start and
 * kept in `<dataDir>/worker-token` (mode 0600) so restarts keep the same join command.
 */
export async function loadOrCreateWorkerToken(dataDir: string, fromEnv?: string): Promise<{ token: string; source: 'env' | 'file' | 'generated' }> {
  if (fromEnv) return { token: fromEnv, source: 'env' };
  const { token, created } = await loadOrCreateSecretFile(dataDir, 'worker-token');
  return { token, source: created ? 'generated' : 'file' };
}

/** Constant-time token comparison (hashes first so lengths never leak). */
export function tokensMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
