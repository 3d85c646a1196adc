import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCoordinator, type TestCoordinator } from '../integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../integration/support/test-worker.ts';

let t: TestCoordinator | null = null;
const workers: TestWorker[] = [];
let attacker: ChildProcess | null = null;
afterEach(async () => {
  attacker?.kill('SIGKILL');
  attacker = null;
  for (const w of workers.splice(0)) await w.close();
  await t?.cleanup();
  t = null;
});

/** Attack connections opened at once (issue 15, item 1). */
const ATTACKERS = 100;

/** Runs the attacker child (its own process, so its buffers are not counted) and resolves with its tally once every connection sent all it could. */
function runAttack(url: string, connections = ATTACKERS): Promise<Record<string, number>> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'support', 'preauth-attacker.mjs'), url, String(connections)], { stdio: ['ignore', 'pipe', 'inherit'] });
  attacker = child;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`attacker exited early (${code})`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as Record<string, number>));
  });
}

describe('memory before authentication (issue 15, item 1)', () => {
  it('100 tokenless connections with never-completing binary attachments raise the coordinator RSS by < 50 MB; honest workers still join', async () => {
    t = await startTestCoordinator();
    // Warm up the connection code paths first (an honest join and a small attack): the first
    // connections of a process load and compile socket.io's and ws's code, which is not a cost per
    // connection. The measured figure is what 100 more attack connections add.
    workers.push(await joinTestWorker({ url: t.coordinator.url, token: t.token, name: 'warm-up' }));
    await workers.pop()?.close();
    await runAttack(t.coordinator.url, 10);
    attacker?.kill('SIGKILL');
    const before = process.memoryUsage().rss;
    const tally = await runAttack(t.coordinator.url);
    const after = process.memoryUsage().rss;
    const grewMb = (after - before) / 2 ** 20;
    console.log(`pre-auth attack: coordinator RSS ${(before / 2 ** 20).toFixed(0)} -> ${(after / 2 ** 20).toFixed(0)} MB (+${grewMb.toFixed(1)} MB); attackers ${JSON.stringify(tally)}`);
    expect(grewMb).toBeLessThan(50);
    expect(tally.open ?? 0).toBe(0);
    // Honest workers (the shared worker socket options) still join while the attacker is alive.
    for (const name of ['honest-a', 'honest-b']) workers.push(await joinTestWorker({ url: t.coordinator.url, token: t.token, name }));
    expect(t.coordinator.workers().map((w) => w.name).sort()).toEqual(['honest-a', 'honest-b']);
  });
});
