import { reduceWeightedMean } from '../../aggregate/reduce-weighted-mean.ts';
import type { RunConfig } from '../../config/common-config.ts';
import { createFlatOptimizer } from '../../optim/flat-optimizer.ts';
import { lrAt } from '../../optim/lr-schedule.ts';
import type { OptimizerState } from '../../optim/optimizer-state.ts';
import { CrowdtrainError } from '../../protocol/errors.ts';
import { planShards, reassignOwner, type ShardPlan, type ShardRange } from '../../shard/shard-plan.ts';
import type { ShardOwners } from '../../shard/shard-owners.ts';
import { firstNonFinite } from '../../codec/float-bytes.ts';
import { bytesOf, float32Of } from '../../shard/shard-protocol.ts';
import type { RuleEvent, UpdateOutcome, UpdateRule, WorkerResult } from '../training-mode.ts';
import type { ShardedOptions } from './sharded-options.ts';

/** What the sharded rule is built from. */
export interface ShardedRuleDeps {
  runId: string;
  config: RunConfig;
  options: ShardedOptions;
  paramCount: number;
  /** The model's tensors in the flat vector (for `layer_aligned`); absent: one tensor. */
  layout?: { entries: readonly { offset: number; size: number }[] };
  owners: ShardOwners;
}

/**
 * `sharded`'s server rule (ZeRO stage 1 over the fleet). At the first update it waits for
 * `min_owners` owners, plans the ranges (core/shard/shard-plan.ts) and loads each range's values
 * and optimizer state (fresh, or from the checkpoint it was loaded with) onto its owner and
 * replicas. Each update it reduces the workers' results range by range (the weighted mean by
 * sample count, as DDP), computes the global norm from the ranges' squared sums to clip as DDP
 * does, takes the learning rate from the schedule and sends every holder of a range that range's
 * gradient; the first holder that answers gives the range's new values. Between updates the
 * coordinator holds no optimizer state: a checkpoint gathers it from the owners.
 *
 * An owner that leaves is replaced before the next update: its ranges' first live replica takes
 * over (its state is the owner's: every holder applied every step), and each range gets a new
 * replica loaded from a surviving holder. A range with no live holder fails the run with what to do.
 */
export function createShardedUpdateRule(deps: ShardedRuleDeps): UpdateRule {
  return new ShardedUpdateRule(deps);
}

class ShardedUpdateRule implements UpdateRule {
  private plan: ShardPlan | null = null;
  /** Optimizer state to load onto the owners at placement (from a checkpoint). */
  private pending: OptimizerState | null = null;
  /** Completed optimizer updates (every holder of every range is at this count between updates). */
  private updates = 0;
  /** Holders that answered a request wrongly: treated as gone even while connected. */
  private readonly distrusted = new Set<string>();
  /** Owners' names as they said hello (kept after they leave, for the Events that say so). */
  private readonly names = new Map<string, string>();
  private readonly optimizerName: string;
  private readonly slotNames: string[];

  constructor(private readonly d: ShardedRuleDeps) {
    const probe = createFlatOptimizer(d.config.optimizer, 1).state();
    this.optimizerName = probe.name;
    this.slotNames = Object.keys(probe.slots);
  }

  async apply(params: Float32Array, results: readonly WorkerResult[], step: number, scratch?: Float32Array): Promise<UpdateOutcome> {
    const events: RuleEvent[] = [];
    const plan = this.plan === null ? await this.place(params, events) : await this.repair(params, events);
    const { config } = this.d;
    const grads = plan.ranges.map((r) =>
      reduceWeightedMean(
        results.map((x) => ({ values: x.values.subarray(r.start, r.end), weight: x.sampleCount })),
        scratch?.subarray(r.start, r.end),
      ),
    );
    let squares = 0;
    for (const g of grads) for (let i = 0; i < g.length; i++) squares += g[i]! * g[i]!;
    const norm = Math.sqrt(squares);
    if (!Number.isFinite(norm)) throw new CrowdtrainError('NON_FINITE', `gradient norm of update ${step} is ${norm}`);
    // clipByGlobalNorm's rule (torch.nn.utils.clip_grad_norm_), applied by the owners.
    const scale = config.max_grad_norm !== null ? Math.min(1, config.max_grad_norm / (norm + 1e-6)) : 1;
    const lr = lrAt(config.lr_schedule, config.optimizer.lr, step, config.total_updates);
    const traffic = new Map<string, number>();
    const count = (owner: string, bytes: number) => traffic.set(owner, (traffic.get(owner) ?? 0) + bytes);
    const at = this.updates;
    await Promise.all(
      plan.ranges.map(async (r, i) => {
        const grad = grads[i]!;
        const holders = [r.owner, ...r.replicas];
        const msg = { runId: this.d.runId, index: r.index, step: at, lr, scale, grad: bytesOf(grad) };
        const answers = await Promise.allSettled(holders.map((h) => this.d.owners.step(h, msg)));
        let applied = false;
        const failures: string[] = [];
        answers.forEach((a, k) => {
          const holder = holders[k]!;
          count(holder, grad.byteLength);
          if (a.status === 'rejected') {
            failures.push(`${this.nameOf(holder)}: ${(a.reason as Error).message}`);
            this.distrusted.add(holder);
            return;
          }
          count(holder, a.value.params.byteLength);
          const values = float32Of(a.value.params);
          const problem = values.length !== r.end - r.start ? `sent ${values.length} values, expected ${r.end - r.start}` : a.value.updates !== at + 1 ? `is at update ${a.value.updates}, expected ${at + 1}` : nonFinite(values);
          if (problem !== null) {
            failures.push(`${this.nameOf(holder)}: ${problem}`);
            this.distrusted.add(holder);
            return;
          }
          if (!applied) params.set(values, r.start);
          applied = true;
        });
        if (!applied) {
          // Every holder gone mid-step: the range's state is only in the last checkpoint (a rewind repairs it).
          const live = new Set(this.d.owners.live());
          const code = holders.every((h) => !live.has(h)) ? 'SHARD_LOST' : 'INTERNAL';
          throw new CrowdtrainError(code, `no holder of shard range ${r.index} [${r.start}, ${r.end}) applied update ${step}: ${failures.join('; ')}`);
        }
      }),
    );
    this.updates = at + 1;
    const maxBytes = Math.max(0, ...traffic.values());
    return { lr, metrics: { grad_norm: norm, shard_owners: traffic.size, shard_bytes_per_owner_max: maxBytes }, events };
  }

  async state(): Promise<OptimizerState> {
    if (this.plan === null) return this.pending ?? createFlatOptimizer(this.d.config.optimizer, this.d.paramCount).state();
    const slots: Record<string, Float32Array> = {};
    for (const name of this.slotNames) slots[name] = new Float32Array(this.d.paramCount);
    await Promise.all(this.plan.ranges.map(async (r) => {
      const reply = await this.firstAnswer(r, (h) => this.d.owners.state(h, { runId: this.d.runId, index: r.index }), (s) => {
        if (s.name !== this.optimizerName) return `holds optimizer ${s.name}, expected ${this.optimizerName}`;
        if (s.updates !== this.updates) return `is at update ${s.updates}, expected ${this.updates}`;
        for (const name of this.slotNames) {
          const bytes = s.slots[name];
          if (bytes === undefined || bytes.byteLength !== (r.end - r.start) * 4) return `slot ${name} missing or of the wrong length`;
        }
        return null;
      });
      for (const name of this.slotNames) slots[name]!.set(float32Of(reply.slots[name]!), r.start);
    }));
    return { name: this.optimizerName, step: this.updates, slots };
  }

  load(state: OptimizerState): void {
    // The checkpoint's state is the unsharded optimizer's: checked by that optimizer, then loaded
    // onto whatever owners the first update finds (any number of them).
    createFlatOptimizer(this.d.config.optimizer, this.d.paramCount).load(state);
    this.pending = state;
    this.updates = state.step;
    this.plan = null;
  }

  dispose(): void {
    if (this.plan === null) return;
    const holders = new Set(this.plan.ranges.flatMap((r) => [r.owner, ...r.replicas]));
    for (const h of holders) this.d.owners.drop(h, { runId: this.d.runId });
    this.plan = null;
  }

  /** The first update: wait for the owners, plan, load every range onto its holders. */
  private async place(params: Float32Array, events: RuleEvent[]): Promise<ShardPlan> {
    const { options, owners } = this.d;
    const live = this.live();
    const chosen = live.length >= options.min_owners ? live : await owners.waitFor(options.min_owners, options.owner_wait * 1000);
    const usable = chosen.filter((o) => !this.distrusted.has(o));
    const layout = { totalSize: this.d.paramCount, entries: this.d.layout?.entries ?? [{ offset: 0, size: this.d.paramCount }] };
    const plan = planShards(layout, usable, { layerAligned: options.layer_aligned, replicas: options.replicas });
    const pending = this.pending;
    await Promise.all(plan.ranges.flatMap((r) => [r.owner, ...r.replicas].map((h) => this.loadRange(h, r, params, pending ? sliceState(pending, r) : undefined))));
    this.pending = null;
    this.plan = plan;
    events.push({ kind: 'shard_plan', detail: { owners: describeOwners(plan, (o) => this.nameOf(o)), ranges: plan.ranges.length, replicas: options.replicas, resumedAt: pending ? pending.step : null } });
    return plan;
  }

  /** Before an update: replace holders that left (or answered wrongly) from the survivors. */
  private async repair(params: Float32Array, events: RuleEvent[]): Promise<ShardPlan> {
    let plan = this.plan!;
    const live = this.live();
    const liveSet = new Set(live);
    const lost = [...new Set(plan.ranges.flatMap((r) => [r.owner, ...r.replicas]))].filter((h) => !liveSet.has(h));
    if (lost.length === 0) return plan;
    const before = plan;
    for (const owner of lost) {
      const next = reassignOwner(plan, owner, live);
      if (next.orphaned.length > 0) {
        const ranges = next.orphaned.map((i) => `${i} [${plan.ranges[i]!.start}, ${plan.ranges[i]!.end})`).join(', ');
        throw new CrowdtrainError(
          'SHARD_LOST',
          `shard owner ${this.nameOf(owner)} is gone and held shard ranges ${ranges} with no live replica (sharded.replicas: ${this.d.options.replicas}); ` +
            'their optimizer state is only in the last checkpoint (set sharded.replicas >= 1 to survive an owner leaving without a rewind)',
        );
      }
      plan = next.plan;
    }
    for (const owner of lost) this.d.owners.drop(owner, { runId: this.d.runId });
    // New holders get the range's current values (the coordinator's, equal to every holder's) and the state of a survivor.
    const loads: Promise<void>[] = [];
    const moves: { range: number; owner: string; replicas: string[] }[] = [];
    for (const r of plan.ranges) {
      const old = before.ranges[r.index]!;
      const had = new Set([old.owner, ...old.replicas]);
      const added = [r.owner, ...r.replicas].filter((h) => !had.has(h));
      if (old.owner !== r.owner || added.length > 0) moves.push({ range: r.index, owner: this.nameOf(r.owner), replicas: r.replicas.map((h) => this.nameOf(h)) });
      if (added.length === 0) continue;
      loads.push(
        (async () => {
          const [first, ...rest] = [r.owner, ...r.replicas].filter((h) => had.has(h));
          const s = await this.firstAnswer({ ...r, owner: first!, replicas: rest }, (h) => this.d.owners.state(h, { runId: this.d.runId, index: r.index }), () => null);
          const state: OptimizerState = { name: s.name, step: s.updates, slots: Object.fromEntries(Object.entries(s.slots).map(([k, v]) => [k, float32Of(v).slice()])) };
          await Promise.all(added.map((h) => this.loadRange(h, r, params, state)));
        })(),
      );
    }
    await Promise.all(loads);
    this.plan = plan;
    events.push({ kind: 'shard_owner_changed', detail: { lost: lost.map((o) => this.nameOf(o)), moves, owners: describeOwners(plan, (o) => this.nameOf(o)) } });
    return plan;
  }

  private async loadRange(owner: string, r: ShardRange, params: Float32Array, state: OptimizerState | undefined): Promise<void> {
    await this.d.owners.load(owner, {
      runId: this.d.runId,
      index: r.index,
      start: r.start,
      end: r.end,
      optimizer: { ...this.d.config.optimizer },
      updates: this.updates,
      params: bytesOf(params.subarray(r.start, r.end)),
      slots: state ? Object.fromEntries(Object.entries(state.slots).map(([k, v]) => [k, bytesOf(v)])) : undefined,
    });
  }

  /** Asks the range's holders in order until one gives an answer `check` accepts (null = fine). */
  private async firstAnswer<T>(r: ShardRange, ask: (holder: string) => Promise<T>, check: (answer: T) => string | null): Promise<T> {
    const failures: string[] = [];
    for (const h of [r.owner, ...r.replicas]) {
      try {
        const answer = await ask(h);
        const problem = check(answer);
        if (problem === null) return answer;
        failures.push(`${this.nameOf(h)} ${problem}`);
        this.distrusted.add(h);
      } catch (err) {
        failures.push(`${this.nameOf(h)}: ${(err as Error).message}`);
      }
    }
    throw new CrowdtrainError('INTERNAL', `no holder of shard range ${r.index} [${r.start}, ${r.end}) answered: ${failures.join('; ')}`);
  }

  private live(): string[] {
    const live = this.d.owners.live();
    for (const o of live) {
      const name = this.d.owners.nameOf(o);
      if (name !== null) this.names.set(o, name);
    }
    return live.filter((o) => !this.distrusted.has(o));
  }

  private nameOf(owner: string): string {
    const name = this.d.owners.nameOf(owner) ?? this.names.get(owner) ?? null;
    return name !== null && name !== owner ? `${name} (${owner})` : owner;
  }
}

/** The optimizer state of one range (views, not copies: sent at once). */
function sliceState(state: OptimizerState, r: { start: number; end: number }): OptimizerState {
  return { name: state.name, step: state.step, slots: Object.fromEntries(Object.entries(state.slots).map(([k, v]) => [k, v.subarray(r.start, r.end)])) };
}

/** Each owner's primary ranges, for Events: `{ owner, start, end, values }`. */
function describeOwners(plan: ShardPlan, nameOf: (o: string) => string): { owner: string; start: number; end: number; values: number }[] {
  const out = new Map<string, { owner: string; start: number; end: number; values: number }>();
  for (const r of plan.ranges) {
    const e = out.get(r.owner);
    if (e) {
      e.end = Math.max(e.end, r.end);
      e.values += r.end - r.start;
    } else out.set(r.owner, { owner: nameOf(r.owner), start: r.start, end: r.end, values: r.end - r.start });
  }
  return [...out.values()];
}

/** What an owner's values have wrong, if a value is not finite. */
function nonFinite(values: Float32Array): string | null {
  const i = firstNonFinite(values);
  return i < 0 ? null : `sent a non-finite value at ${i}`;
}
