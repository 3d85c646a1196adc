import { spawn } from 'node:child_process';
import { stat, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CrowdtrainError } from '../core/protocol/errors.ts';

/** Paths under the Next.js project directory whose changes make a build stale (core/, with the shared worker loop and socket transport, is bundled into /contribute). */
export const NEXT_BUILD_INPUTS = ['app', 'public', 'next.config.js', 'postcss.config.mjs', 'core'] as const;

async function mtimeOrNull(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Returns the first file or directory under `path` modified after `sinceMs`, or null. */
async function findNewerThan(path: string, sinceMs: number): Promise<string | null> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  // A directory's own mtime changes when an entry is added, removed or renamed.
  if (info.mtimeMs > sinceMs) return path;
  if (!info.isDirectory()) return null;
  for (const entry of await readdir(path)) {
    const found = await findNewerThan(join(path, entry), sinceMs);
    if (found) return found;
  }
  return null;
}

/**
 * Why `dir` needs `next build`: `.next/BUILD_ID` is missing or an input is newer; null when up to date.
 * @example if (await nextBuildStaleReason(process.cwd())) console.log('will build');
 */
export async function nextBuildStaleReason(dir: string): Promise<string | null> {
  const buildIdPath = join(dir, '.next', 'BUILD_ID');
  const builtAt = await mtimeOrNull(buildIdPath);
  if (builtAt === null) return `${buildIdPath} is missing`;
  for (const input of NEXT_BUILD_INPUTS) {
    const newer = await findNewerThan(join(dir, input), builtAt);
    if (newer) return `${newer} is newer than ${buildIdPath}`;
  }
  return null;
}

function pipeLines(stream: NodeJS.ReadableStream, log: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split(/\r?\n/);
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') log(line);
  });
  stream.on('end', () => {
    if (pending.trim() !== '') log(pending);
  });
}

/**
 * Runs `next build` in `dir` (local binary, telemetry off, NODE_ENV=production) unless
 * `.next/BUILD_ID` exists and nothing in {@link NEXT_BUILD_INPUTS} is newer.
 * Each output line of the build goes to `log`. Throws INTERNAL when the build fails.
 * @example await ensureNextBuild(process.cwd(), (line) => console.log(`[next] ${line}`));
 */
export async function ensureNextBuild(dir: string, log: (line: string) => void = (line) => console.log(line)): Promise<void> {
  const root = resolve(dir);
  const reason = await nextBuildStaleReason(root);
  if (reason === null) return;
  log(`next build: ${reason}; building ${root}`);

  const nextBin = createRequire(join(root, 'package.json')).resolve('next/dist/bin/next');
  const started = Date.now();
  const exitCode = await new Promise<number | null>((resolvePromise, reject) => {
    const child = spawn(process.execPath, [nextBin, 'build'], {
      cwd: root,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pipeLines(child.stdout, log);
    pipeLines(child.stderr, log);
    child.once('error', reject);
    child.once('close', (code, signal) => resolvePromise(signal ? null : code));
  });
  if (exitCode !== 0) {
    throw new CrowdtrainError('INTERNAL', `next build in ${root} failed with exit code ${exitCode ?? 'null (killed by a signal)'}`);
  }
  log(`next build: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
  ensureNextBuild(repoRoot).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
