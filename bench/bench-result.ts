import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The outcome of one benchmark: `value` compared with a `baseline` measured in the same process. */
export interface BenchResult {
  name: string;
  value: number;
  baseline: number;
  ratio: number;
  unit: string;
  target?: string;
  pass?: boolean;
  details?: Record<string, unknown>;
}

/** Directory that receives `<name>.json` result files. */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

/**
 * Writes `bench/results/<name>.json` (pretty JSON with the date and machine) and returns its path.
 * @example writeBenchResult({ name: 'aggregate', value: 3.1e9, baseline: 5.2e9, ratio: 0.6, unit: 'B/s' });
 */
export function writeBenchResult(result: BenchResult, dir: string = RESULTS_DIR): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(result.name)) {
    throw new Error(`bench name '${result.name}' may only contain letters, digits, '_', '.' and '-'`);
  }
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${result.name}.json`);
  const record = {
    ...result,
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
  };
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}
