import { SweepDetailSchema, SweepListSchema, type SweepDecision, type SweepSummary, type SweepTrial } from '../../../core/api/sweeps.ts';
import { SweepViewQueries, type SweepEventRecord, type SweepObjective, type SweepViewRecord } from '../../../prisma/queries/sweep-view-queries.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { HttpError } from '../http-io.ts';
import { jsonRoute, type Route } from '../route.ts';
import { METRIC_KEY, RUN_ID } from './run-lookup.ts';

/** How many sweeps `GET /api/v1/sweeps` lists (the most recent). */
export const SWEEP_LIST_LIMIT = 200;

/** What a trial's sweep Events say: its trial id and suggestion, the step a scheduler stopped it at, and the last decision. */
export interface TrialEventFacts {
  trialId: string | null;
  params: Record<string, unknown>;
  stoppedAt: number | null;
  lastDecision: SweepDecision | null;
}

const asRecord = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const numberOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const intOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);
const stringOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * Folds one trial's sweep Events (oldest first) into its facts: `sweep_trial_started` gives the
 * trial id and params, `sweep_trial_stopped` the rung step, `sweep_trial_ended` how it ended; the
 * last decision is the stop when there was one (an end follows it), else the end, else the start.
 */
export function trialEventFacts(events: readonly SweepEventRecord[]): TrialEventFacts {
  const facts: TrialEventFacts = { trialId: null, params: {}, stoppedAt: null, lastDecision: null };
  let stopped: SweepDecision | null = null;
  for (const e of events) {
    const d = asRecord(e.detail);
    const time = e.time.toISOString();
    if (e.kind === 'sweep_trial_started') {
      facts.trialId = stringOrNull(d.trial);
      facts.params = asRecord(d.params);
      facts.lastDecision ??= { kind: 'started', step: null, status: null, value: null, time };
    } else if (e.kind === 'sweep_trial_stopped') {
      facts.stoppedAt = intOrNull(d.step);
      stopped = { kind: 'stopped', step: facts.stoppedAt, status: null, value: numberOrNull(d.value), time };
    } else if (e.kind === 'sweep_trial_ended') {
      facts.stoppedAt ??= intOrNull(d.stoppedAt);
      facts.lastDecision = { kind: 'ended', step: null, status: stringOrNull(d.status), value: numberOrNull(d.value), time };
    }
  }
  if (stopped) facts.lastDecision = { ...stopped, status: facts.lastDecision?.kind === 'ended' ? facts.lastDecision.status : null };
  return facts;
}

/** The index of the best value by `mode` (the first on ties), or -1 when every value is null. */
export function bestIndex(values: readonly (number | null)[], mode: 'min' | 'max'): number {
  let best = -1;
  values.forEach((v, i) => {
    if (v === null) return;
    const b = best < 0 ? null : values[best]!;
    if (b === null || (mode === 'min' ? v < b : v > b)) best = i;
  });
  return best;
}

/** A sweep's trials as core/api SweepTrials, with each trial's best value of the objective's metric (null without an objective). */
async function trialViews(q: SweepViewQueries, sweep: SweepViewRecord, objective: SweepObjective | null): Promise<SweepTrial[]> {
  const ids = sweep.trials.map((t) => t.id);
  const events = await q.trialEvents(ids);
  const facts = new Map(ids.map((id) => [id, trialEventFacts(events.filter((e) => e.runId === id))]));
  const best = objective
    ? await q.bestMetricByRun(
        ids.map((id) => ({ runId: id, maxStep: facts.get(id)?.stoppedAt ?? null })),
        objective.metric,
        objective.mode,
      )
    : new Map<string, number>();
  const now = Date.now();
  return sweep.trials.map((t) => {
    const f = facts.get(t.id)!;
    const end = t.endedAt?.getTime() ?? (t.status === 'running' || t.status === 'paused' ? now : null);
    return {
      runId: t.id,
      trialId: f.trialId,
      name: t.name,
      status: t.status,
      params: f.params,
      step: t.step,
      totalUpdates: t.totalUpdates,
      bestValue: best.get(t.id) ?? null,
      lastDecision: f.lastDecision,
      startedAt: t.startedAt?.toISOString() ?? null,
      endedAt: t.endedAt?.toISOString() ?? null,
      durationMs: t.startedAt && end !== null ? end - t.startedAt.getTime() : null,
    };
  });
}

function summaryView(sweep: SweepViewRecord, objective: SweepObjective | null, trials: readonly SweepTrial[]): SweepSummary {
  const i = objective ? bestIndex(trials.map((t) => t.bestValue), objective.mode) : -1;
  const best = i >= 0 ? trials[i]! : null;
  return {
    id: sweep.id,
    name: sweep.name,
    status: sweep.status,
    algorithm: sweep.algorithm,
    metric: objective?.metric ?? null,
    mode: objective?.mode ?? null,
    trials: sweep.trials.length,
    bestRunId: best?.runId ?? null,
    bestValue: best?.bestValue ?? null,
    createdAt: sweep.createdAt.toISOString(),
  };
}

/** The objective `?metric=…&mode=…` names (both or neither; 400 otherwise), else null. */
export function objectiveQuery(url: URL): SweepObjective | null {
  const metric = url.searchParams.get('metric');
  const mode = url.searchParams.get('mode');
  if (metric === null && mode === null) return null;
  if (metric === null || !METRIC_KEY.test(metric)) throw new HttpError(400, 'INVALID_MESSAGE', `metric: "${metric ?? ''}" is not a metric key (1-128 letters, digits or _ . / -)`);
  if (mode !== 'min' && mode !== 'max') throw new HttpError(400, 'INVALID_MESSAGE', `mode: "${mode ?? ''}" must be min or max`);
  return { metric, mode };
}

/**
 * Sweeps (read-only, public like the other reads): the list with each sweep's best trial, and one
 * sweep with its trials. The best trial is chosen by the sweep's stored objective; the detail route
 * also takes one as `?metric=…&mode=…` (which replaces the stored one).
 */
export function sweepRoutes(c: CoordinatorApi): Route[] {
  let made: SweepViewQueries | null = null;
  const queries = () => (made ??= new SweepViewQueries(c.database.prisma));
  return [
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/sweeps$/,
      response: SweepListSchema,
      async handle() {
        const q = queries();
        const sweeps = await q.listSweeps(SWEEP_LIST_LIMIT);
        const views: SweepSummary[] = [];
        for (const s of sweeps) views.push(summaryView(s, s.objective, s.objective ? await trialViews(q, s, s.objective) : []));
        return { status: 200, body: { sweeps: views } };
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/sweeps\/([^/]+)$/,
      response: SweepDetailSchema,
      async handle({ params, url }) {
        const id = params[0] ?? '';
        if (!RUN_ID.test(id)) throw new HttpError(400, 'INVALID_MESSAGE', `"${id}" is not a sweep id`);
        const asked = objectiveQuery(url);
        const q = queries();
        const sweep = await q.getSweepView(id);
        if (!sweep) throw new HttpError(404, 'RUN_NOT_FOUND', `no sweep with id ${id}`);
        const objective = asked ?? sweep.objective;
        const trials = await trialViews(q, sweep, objective);
        return { status: 200, body: { sweep: { ...summaryView(sweep, objective, trials), searchSpace: asRecord(sweep.searchSpace) }, trials } };
      },
    }),
  ];
}
