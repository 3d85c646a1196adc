import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Reads a secret kept in `<dataDir>/<name>`, or generates one (24 random bytes, base64url) and
 * writes it there with mode 0600, so restarts keep the same value.
 * @example const { token, created } = await loadOrCreateSecretFile('./data', 'worker-token');
 */
export async function loadOrCreateSecretFile(dataDir: string, name: string): Promise<{ token: string; created: boolean }> {
  const file = path.join(dataDir, name);
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token.length >= 16) return { token, created: false };
  } catch {
    // not there yet
  }
  await mkdir(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { token, created: true };
}
