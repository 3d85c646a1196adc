import type { RunProgress } from './run/run-session.ts';

/**
 * The terminal's live progress when several runs train at once (submitted runs, sweep trials):
 * the latest progress of each running run, rendered as one line that names every run instead of
 * the runs' lines overwriting each other on one terminal line. Pure: the CLI writes the line.
 */

/** One run's progress line (the single-run form). */
export function formatProgress(p: RunProgress): string {
  const pct = ((100 * p.step) / p.totalUpdates).toFixed(0);
  const f = (v: number | null, d = 4) => (v === null ? '-' : v.toFixed(d));
  return (
    `step ${p.step}/${p.totalUpdates} (${pct}%) epoch ${p.epoch} loss ${f(p.trainLoss)} ` +
    `acc ${p.evalAccuracy === null ? '-' : (100 * p.evalAccuracy).toFixed(2) + '%'} ` +
    `lr ${p.lr === null ? '-' : p.lr.toExponential(2)} ${f(p.samplesPerSec, 0)} samples/s workers ${p.activeWorkers}`
  );
}

/** A run's part of the several-runs line: name, step and loss. */
function brief(p: RunProgress): string {
  const pct = ((100 * p.step) / p.totalUpdates).toFixed(0);
  return `${p.name} ${p.step}/${p.totalUpdates} (${pct}%) loss ${p.trainLoss === null ? '-' : p.trainLoss.toFixed(3)} w${p.activeWorkers}`;
}

/** The latest progress of every running run, in the order they started reporting. */
export class ProgressBoard {
  private readonly runs = new Map<string, RunProgress>();

  /** Takes a run's progress; a run that is no longer running leaves the board. */
  update(p: RunProgress): void {
    if (p.status === 'running') this.runs.set(p.runId, p);
    else this.runs.delete(p.runId);
  }

  /** Runs on the board. */
  get size(): number {
    return this.runs.size;
  }

  /**
   * The live line: one run's full progress, or `N runs: a 3/10 (30%) loss 0.512 w2 | b ...`, cut
   * to `width` characters with `…` (a terminal line that wraps cannot be overwritten with `\r`).
   */
  line(width = Infinity): string {
    const all = [...this.runs.values()];
    const text = all.length === 1 ? formatProgress(all[0]!) : `${all.length} runs: ${all.map(brief).join(' | ')}`;
    return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
  }
}
