/**
 * Benchmark runner: `tsx bench/run.ts [NAME...]` (no name = every known bench). Each bench is
 * `bench/<name>.ts` whose default export is `() => Promise<BenchResult>`; results are printed and
 * written to `bench/results/<name>.json`. Exits 1 when a bench fails to run or misses its target.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeBenchResult, type BenchResult } from './bench-result.ts';

/** Every bench this runner knows, in the order `run.ts` with no argument runs them. */
export const KNOWN_BENCHES = ['aggregate', 'step-overhead', 'tab-overhead', 'hetero-fleet', 'diloco-comm', 'robust-aggregate', 'fleet-sim', 'shard-memory', 'shard-throughput'] as const;

const here = dirname(fileURLToPath(import.meta.url));

function isBenchResult(value: unknown): value is BenchResult {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r.name === 'string' && typeof r.value === 'number' && typeof r.baseline === 'number' && typeof r.ratio === 'number' && typeof r.unit === 'string';
}

/** Imports and runs one bench; returns its result, or throws with a message naming what is wrong. */
export async function runBench(name: string): Promise<BenchResult> {
  const file = join(here, `${name}.ts`);
  if (!existsSync(file)) throw new Error(`bench '${name}' is known but ${file} does not exist (not written yet?)`);
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  if (typeof mod.default !== 'function') throw new Error(`${file} has no default export () => Promise<BenchResult>`);
  const result: unknown = await (mod.default as () => Promise<unknown>)();
  if (!isBenchResult(result)) throw new Error(`bench '${name}' returned something that is not a BenchResult`);
  return result;
}

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((n) => !(KNOWN_BENCHES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    console.error(`unknown bench ${unknown.map((n) => `'${n}'`).join(', ')}; known benches: ${KNOWN_BENCHES.join(', ')}`);
    return 2;
  }
  const names = argv.length > 0 ? argv : [...KNOWN_BENCHES];
  let failed = 0;
  for (const name of names) {
    try {
      const result = await runBench(name);
      const path = writeBenchResult(result);
      const verdict = result.pass === undefined ? '' : result.pass ? ' PASS' : ' FAIL';
      console.log(
        `${name}: ${result.value.toPrecision(4)} ${result.unit} vs baseline ${result.baseline.toPrecision(4)} -> ratio ${result.ratio.toFixed(3)}` +
          `${result.target ? ` (target ${result.target})` : ''}${verdict}  [${path}]`,
      );
      if (result.pass === false) failed++;
    } catch (err) {
      failed++;
      console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
