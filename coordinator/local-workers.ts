import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import createDebug from 'debug';

const debug = createDebug('crowdtrain:local-workers');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Options for spawning headless workers on this machine. */
export interface LocalWorkerOptions {
  url: string;
  token: string;
  backend: string;
  namePrefix?: string;
  /** Where worker output goes: inherit (prefixed lines), or ignore. */
  output?: 'inherit' | 'ignore';
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** The workers' disk cache of downloaded train splits (`--cache-dir`; default the worker's own). */
  cacheDir?: string;
}

/**
 * Lines the native WebGPU (Dawn/Vulkan) probe of `--backend auto` prints on machines without a
 * usable GPU driver. Harmless; hidden from the coordinator's console for local workers.
 */
const BACKEND_PROBE_NOISE = [/XDG_RUNTIME_DIR is invalid/, /^Warning: Vulkan /, /While initializing adapter/, /at InitializeImpl/, /^\s*$/];

/** Whether a worker stderr line is known native-probe noise. */
export function isBackendProbeNoise(line: string): boolean {
  return BACKEND_PROBE_NOISE.some((re) => re.test(line));
}

/** The path of the worker CLI entry point. */
export const WORKER_CLI = path.join(root, 'worker-node', 'cli.ts');

/** Spawns one headless worker process (node + tsx running worker-node/cli.ts). */
export function spawnLocalWorker(i: number, o: LocalWorkerOptions): ChildProcess {
  const args = [
    '--import',
    'tsx',
    WORKER_CLI,
    '--url',
    o.url,
    '--backend',
    o.backend,
    '--name',
    `${o.namePrefix ?? 'local'}-${i + 1}`,
    ...(o.output === 'ignore' ? ['--quiet'] : []),
    ...(o.cacheDir ? ['--cache-dir', o.cacheDir] : []),
    ...(o.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...o.env, CROWDTRAIN_TOKEN: o.token },
    stdio: o.output === 'inherit' ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'ignore', 'pipe'],
  });
  const prefix = `[worker ${i + 1}] `;
  const forward = (stream: NodeJS.ReadableStream | null, to: NodeJS.WritableStream) => {
    if (!stream) return;
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (to === process.stderr && o.output !== 'inherit' && isBackendProbeNoise(line)) continue;
        if (o.output === 'inherit' || to === process.stderr) to.write(`${prefix}${line}\n`);
      }
    });
  };
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
  child.on('exit', (code, signal) => debug('local worker %d exited (%s)', i + 1, signal ?? code));
  return child;
}

/** Stops spawned workers (SIGTERM, then SIGKILL after a grace period) and waits for them. */
export async function stopLocalWorkers(children: ChildProcess[], graceMs = 3000): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}
