import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./backend-child.ts', import.meta.url));

/** Output of one backend-child run: its parsed RESULT line (if any), exit code and stderr. */
export interface ChildRun {
  code: number | null;
  result: unknown;
  stderr: string;
}

/**
 * Runs `backend-child.ts <mode>` in a fresh Node process with `env` added, resolving when it exits.
 * @example const run = await runBackendChild('auto', { VK_ICD_FILENAMES: SWIFTSHADER_ICD });
 */
export function runBackendChild(mode: string, env: Record<string, string | undefined>): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT:'));
      resolve({ code, result: line === undefined ? undefined : JSON.parse(line.slice('RESULT:'.length)), stderr });
    });
  });
}
