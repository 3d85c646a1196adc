import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { chaosFixture } from './support/chaos-fixture.ts';

const chaos = chaosFixture();

/** Attack connections opened at once (issue 15, item 1). */
const ATTACKERS = 100;

/**
 * Starts the attacker child (its own process, so its buffers are not counted; killed after the
 * test); `tally` resolves once every connection sent all it could.
 */
function runAttack(url: string, connections = ATTACKERS): { child: ChildProcess; tally: Promise<Record<string, number>> } {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'support', 'preauth-attacker.mjs'), url, String(connections)], { stdio: ['ignore', 'pipe', 'inherit'] });
  chaos.onCleanup(() => void child.kill('SIGKILL'));
  const tally = new Promise<Record<string, number>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`attacker exited early (${code})`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as Record<string, number>));
  });
  return { child, tally };
}

describe('memory before authentication (issue 15, item 1)', () => {
  it('100 tokenless connections with never-completing binary attachments raise the coordinator RSS by < 50 MB; honest workers still join', async () => {
    const t = await chaos.start();
    // Warm up the connection code paths first (an honest join and a small attack): the first
    // connections of a process load and compile socket.io's and ws's code, which is not a cost per
    // connection. The measured figure is what 100 more attack connections add.
    await (await chaos.join({ name: 'warm-up' })).close();
    const warmUp = runAttack(t.coordinator.url, 10);
    await warmUp.tally;
    warmUp.child.kill('SIGKILL');
    const before = process.memoryUsage().rss;
    const tally = await runAttack(t.coordinator.url).tally;
    const after = process.memoryUsage().rss;
    const grewMb = (after - before) / 2 ** 20;
    console.log(`pre-auth attack: coordinator RSS ${(before / 2 ** 20).toFixed(0)} -> ${(after / 2 ** 20).toFixed(0)} MB (+${grewMb.toFixed(1)} MB); attackers ${JSON.stringify(tally)}`);
    expect(grewMb).toBeLessThan(50);
    expect(tally.open ?? 0).toBe(0);
    // Honest workers (the shared worker socket options) still join while the attacker is alive.
    for (const name of ['honest-a', 'honest-b']) await chaos.join({ name });
    expect(t.coordinator.workers().map((w) => w.name).sort()).toEqual(['honest-a', 'honest-b']);
  });
});
