'use client';

import { useMemo } from 'react';
import { z } from 'zod';
import type { RunEvent } from '../../core/api/index.ts';
import { formatBytes, formatWhen } from './format.ts';

/** Bytes of one parameter value (float32) and of one optimizer-slot value. */
const BYTES_PER_VALUE = 4;

/** One owner's primary ranges as the `shard_plan` / `shard_owner_changed` Events describe them. */
const OwnerEntrySchema = z
  .object({
    owner: z.string().min(1),
    start: z.number().int().nonnegative(),
    end: z.number().int().nonnegative(),
    values: z.number().int().nonnegative(),
  })
  .refine((o) => o.end >= o.start, { message: 'end before start' });

/** Detail of a `shard_plan` Event (core/run/sharded/sharded-update-rule.ts, with the step the session adds). */
const ShardPlanDetailSchema = z.object({
  owners: z.array(OwnerEntrySchema).min(1),
  ranges: z.number().int().nonnegative(),
  replicas: z.number().int().nonnegative(),
  resumedAt: z.number().int().nullable().default(null),
  step: z.number().int().optional(),
});

/** Detail of a `shard_owner_changed` Event. */
const OwnerChangedDetailSchema = z.object({
  lost: z.array(z.string()),
  moves: z.array(z.object({ range: z.number().int(), owner: z.string(), replicas: z.array(z.string()) })),
  owners: z.array(OwnerEntrySchema).min(1),
  step: z.number().int().optional(),
});

/** The part of a run config that says how many optimizer slots each value has. */
const OptimizerOfConfigSchema = z.object({
  optimizer: z.object({ name: z.string(), momentum: z.number().optional() }),
});

/** An owner row of the shard plan, with the bytes it holds. */
export interface ShardOwnerRow {
  owner: string;
  start: number;
  end: number;
  values: number;
  paramBytes: number;
  /** null when the run's optimizer is not one this page knows. */
  optimizerBytes: number | null;
  /** Fraction of the parameter vector this owner holds as primary. */
  share: number;
}

/** An owner change as the list under the plan shows it. */
export interface ShardOwnerChange {
  id: number;
  time: string;
  step: number | null;
  /** null when the Event's detail is malformed. */
  lost: string[] | null;
}

/** What {@link readShardPlan} makes of a run's Events. */
export type ShardPlanView =
  | { state: 'none'; changes: ShardOwnerChange[] }
  | { state: 'unavailable'; reason: string; changes: ShardOwnerChange[] }
  | {
      state: 'ok';
      rows: ShardOwnerRow[];
      ranges: number | null;
      replicas: number | null;
      resumedAt: number | null;
      step: number | null;
      optimizer: { name: string; slots: number } | null;
      changes: ShardOwnerChange[];
    };

/**
 * Optimizer-state slots per parameter value of the run's optimizer: `sgd` with momentum > 0 keeps
 * one (the momentum buffer), plain `sgd` none, `adam`/`adamw` two (first and second moments).
 * null for a config without a known optimizer.
 */
export function optimizerSlots(config: unknown): { name: string; slots: number } | null {
  const parsed = OptimizerOfConfigSchema.safeParse(config);
  if (!parsed.success) return null;
  const { name, momentum } = parsed.data.optimizer;
  if (name === 'sgd') return { name: (momentum ?? 0) > 0 ? `sgd (momentum ${momentum})` : 'sgd', slots: (momentum ?? 0) > 0 ? 1 : 0 };
  if (name === 'adam' || name === 'adamw') return { name, slots: 2 };
  return null;
}

function firstIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  return issue ? `${issue.path.join('.') || 'detail'}: ${issue.message}` : 'invalid detail';
}

/**
 * The shard plan of a `mode: sharded` run from its Events: the owners of the latest `shard_plan` or
 * `shard_owner_changed` Event with their bytes (parameters, and optimizer state for the run's
 * optimizer), the range and replica counts of the latest `shard_plan`, and every owner change.
 * Each detail is validated: a malformed latest one makes the view `unavailable` with the reason.
 */
export function readShardPlan(events: readonly RunEvent[], config: unknown): ShardPlanView {
  const changes: ShardOwnerChange[] = events
    .filter((e) => e.kind === 'shard_owner_changed')
    .map((e) => {
      const parsed = OwnerChangedDetailSchema.safeParse(e.detail);
      return { id: e.id, time: e.time, step: parsed.success ? (parsed.data.step ?? null) : null, lost: parsed.success ? parsed.data.lost : null };
    });
  const latest = events.filter((e) => e.kind === 'shard_plan' || e.kind === 'shard_owner_changed').at(-1);
  if (!latest) return { state: 'none', changes };
  const parsed = latest.kind === 'shard_plan' ? ShardPlanDetailSchema.safeParse(latest.detail) : OwnerChangedDetailSchema.safeParse(latest.detail);
  if (!parsed.success) return { state: 'unavailable', reason: `${latest.kind} event ${latest.id}: ${firstIssue(parsed.error)}`, changes };
  // An owner change keeps the ranges and the replica count: those come from the latest plan.
  const planEvent = events.filter((e) => e.kind === 'shard_plan').at(-1);
  const plan = planEvent ? ShardPlanDetailSchema.safeParse(planEvent.detail) : null;
  const optimizer = optimizerSlots(config);
  const total = parsed.data.owners.reduce((a, o) => a + o.values, 0);
  const rows = parsed.data.owners.map((o) => ({
    ...o,
    paramBytes: o.values * BYTES_PER_VALUE,
    optimizerBytes: optimizer ? o.values * BYTES_PER_VALUE * optimizer.slots : null,
    share: total > 0 ? o.values / total : 0,
  }));
  return {
    state: 'ok',
    rows,
    ranges: plan?.success ? plan.data.ranges : null,
    replicas: plan?.success ? plan.data.replicas : null,
    resumedAt: latest.kind === 'shard_plan' && plan?.success ? plan.data.resumedAt : null,
    step: parsed.data.step ?? null,
    optimizer,
    changes,
  };
}

function ChangeList({ changes }: { changes: ShardOwnerChange[] }) {
  if (changes.length === 0) return <p className="mt-3 text-sm text-slate-500">No owner has left.</p>;
  return (
    <div className="mt-4">
      <h3 className="mb-1 text-sm font-semibold text-slate-800">Owner changes</h3>
      <ol className="space-y-1 text-sm">
        {changes.map((c) => (
          <li key={c.id} className="flex items-start gap-2" data-testid="shard-owner-change">
            <span className="w-40 shrink-0 tabular-nums text-slate-500">{formatWhen(c.time)}</span>
            {c.step !== null ? <span className="shrink-0 tabular-nums text-slate-500">step {c.step}</span> : null}
            <span className="break-all text-slate-700">{c.lost === null ? 'detail unavailable' : `lost ${c.lost.join(', ') || '–'}`}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

/**
 * The run page's shard plan of a `mode: sharded` run: one row per owner (range, values, parameter
 * and optimizer-state bytes, share of the vector), the range and replica counts, and the owner
 * changes. Malformed Event details show "shard plan unavailable" instead of the table.
 */
export function ShardPlanSection({ events, config }: { events: readonly RunEvent[]; config: unknown }) {
  const view = useMemo(() => readShardPlan(events, config), [events, config]);
  if (view.state === 'none') {
    return (
      <>
        <p className="text-sm text-slate-500">No shard plan yet: the first update places the ranges on the owners.</p>
        <ChangeList changes={view.changes} />
      </>
    );
  }
  if (view.state === 'unavailable') {
    return (
      <>
        <p className="text-sm text-rose-700" data-testid="shard-plan-unavailable" title={view.reason}>
          shard plan unavailable ({view.reason})
        </p>
        <ChangeList changes={view.changes} />
      </>
    );
  }
  const optimizerTitle = `optimizer state per optimizer: plain sgd keeps 0 slots per value, sgd with momentum 1, adam/adamw 2 (4 bytes each)${
    view.optimizer ? `; this run's ${view.optimizer.name}: ${view.optimizer.slots}` : "; this run's optimizer is unknown here"
  }`;
  return (
    <>
      <p className="mb-2 text-sm text-slate-600" data-testid="shard-plan-summary">
        {view.ranges !== null ? `${view.ranges.toLocaleString('en-US')} ranges` : 'ranges unknown'}, {view.replicas !== null ? `${view.replicas} replicas per range` : 'replicas unknown'}
        {view.step !== null ? ` · as of step ${view.step}` : ''}
        {view.resumedAt !== null ? ` · placed on resume from update ${view.resumedAt}` : ''}
      </p>
      <div className="overflow-x-auto">
        <table className="min-w-full text-sm" data-testid="shard-plan">
          <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
            <tr>
              <th className="py-2 pr-4">Owner</th>
              <th className="py-2 pr-4">Range</th>
              <th className="py-2 pr-4 text-right">Values</th>
              <th className="py-2 pr-4 text-right">Parameters</th>
              <th className="py-2 pr-4 text-right" title={optimizerTitle}>
                Optimizer state
              </th>
              <th className="py-2 pr-4 text-right">Share</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {view.rows.map((r, i) => (
              <tr key={`${i}-${r.owner}`} data-testid="shard-owner-row" data-start={r.start} data-end={r.end}>
                <td className="py-2 pr-4 font-medium" data-testid="shard-owner-name">
                  {r.owner}
                </td>
                <td className="py-2 pr-4 font-mono text-xs tabular-nums" data-testid="shard-owner-range">
                  [{r.start}, {r.end})
                </td>
                <td className="py-2 pr-4 text-right tabular-nums">{r.values.toLocaleString('en-US')}</td>
                <td className="py-2 pr-4 text-right tabular-nums">{formatBytes(r.paramBytes)}</td>
                <td className="py-2 pr-4 text-right tabular-nums" title={optimizerTitle}>
                  {formatBytes(r.optimizerBytes)}
                </td>
                <td className="py-2 pr-4 text-right tabular-nums">{(r.share * 100).toFixed(1)}%</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ChangeList changes={view.changes} />
    </>
  );
}
