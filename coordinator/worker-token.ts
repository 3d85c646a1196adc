import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The worker join token: from CROWDTRAIN_TOKEN when set, otherwise generated at first start and
 * kept in `<dataDir>/worker-token` (mode 0600) so restarts keep the same join command.
 */
export async function loadOrCreateWorkerToken(dataDir: string, fromEnv?: string): Promise<{ token: string; source: 'env' | 'file' | 'generated' }> {
  if (fromEnv) return { token: fromEnv, source: 'env' };
  const file = path.join(dataDir, 'worker-token');
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token.length >= 16) return { token, source: 'file' };
  } catch {
    // not there yet
  }
  await mkdir(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { token, source: 'generated' };
}

/** Constant-time token comparison (hashes first so lengths never leak). */
export function tokensMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
