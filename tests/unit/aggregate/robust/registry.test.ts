import { describe, expect, it } from 'vitest';
import { AGGREGATORS, AggregatorSpecSchema, createAggregator } from '../../../../core/aggregate/robust/index.ts';
import { splitAggregatorState, withAggregatorState } from '../../../../core/aggregate/robust/aggregator-state.ts';
import { batcherNetwork, pruneNetwork } from '../../../../core/aggregate/robust/sorting-network.ts';
import { validateRunConfig } from '../../../../core/config/run-config.ts';
import { createDdpUpdateRule } from '../../../../core/run/ddp/ddp-update-rule.ts';
import { ddpMode } from '../../../../core/run/ddp/ddp-mode.ts';
import { modeSetup } from '../../../../core/run/modes.ts';
import { inputs } from './support.ts';

const minimal = { name: 'r', model: { type: 'mlp', hidden: [4] }, dataset: { name: 'synthetic' }, optimizer: { name: 'sgd', lr: 0.1 }, batch_size: 4, total_updates: 1 };

describe('aggregator registry', () => {
  it('every entry is keyed by its name and parses its defaults', () => {
    for (const [key, def] of Object.entries(AGGREGATORS)) {
      expect(def.name).toBe(key);
      const required = key === 'centered_clipping' ? { tau: 1 } : key === 'norm_bounding' ? { max_norm: 1 } : {};
      expect(AggregatorSpecSchema.parse({ name: key, ...required }).name).toBe(key);
    }
  });

  it('an unknown name lists the registered ones; an unknown option is named', () => {
    expect(() => createAggregator({ name: 'fedmedian' } as never, 1)).toThrow(/must be one of mean, median, trimmed_mean, krum, multi_krum, bulyan, centered_clipping, norm_bounding/);
    expect(() => createAggregator({ name: 'median', beta: 0.1 } as never, 1)).toThrow(/beta/);
  });

  it('the ddp section selects an aggregator per run; absent it is the mean', () => {
    const cfg = validateRunConfig({ ...minimal, ddp: { aggregator: { name: 'trimmed_mean', beta: 0.25 } } });
    expect(modeSetup(ddpMode, cfg, { datasetSize: 10, paramCount: 3 }).options).toEqual({ aggregator: { name: 'trimmed_mean', beta: 0.25 } });
    expect(() => validateRunConfig({ ...minimal, ddp: { aggregator: { name: 'nope' } } })).toThrow(/ddp\.aggregator\.name.*must be one of/);
    expect(modeSetup(ddpMode, validateRunConfig(minimal), { datasetSize: 10, paramCount: 3 }).options).toEqual({});
  });

  it('checks shapes and weights, and never aliases the output', () => {
    const agg = createAggregator({ name: 'median' }, 2);
    expect(() => agg.aggregate([], new Float32Array(2))).toThrow(/at least 1 input/);
    expect(() => agg.aggregate(inputs([[1, 2, 3]]), new Float32Array(2))).toThrow(/input 0 has 3 values, expected 2/);
    expect(() => agg.aggregate(inputs([[1, 2]], [0]), new Float32Array(2))).toThrow(/weight 0/);
    const shared = inputs([[1, 2]]);
    expect(() => agg.aggregate(shared, shared[0]!.values)).toThrow(/overlaps input 0/);
  });

  it('the guard excludes a non-finite input with the bad index and reruns; all non-finite is an error', () => {
    for (const spec of [{ name: 'mean' }, { name: 'trimmed_mean', beta: 0.2 }, { name: 'centered_clipping', tau: 1 }, { name: 'norm_bounding', max_norm: 1 }] as const) {
      const out = new Float32Array(2);
      const report = createAggregator(spec, 2).aggregate(inputs([[1, 1], [Infinity, 0], [1, NaN]]), out);
      expect(Array.from(out).every(Number.isFinite), spec.name).toBe(true);
      expect(report.inputs.map((o) => o.excluded), spec.name).toEqual([false, true, true]);
      expect(report.inputs[2]!.reason).toMatch(/value 1 is NaN/);
    }
    expect(() => createAggregator({ name: 'mean' }, 1).aggregate(inputs([[NaN], [Infinity]]), new Float32Array(1))).toThrow(/every one of the 2 inputs/);
  });

  it('aggregator state rides in the rule state under aggregator.* and splits back', () => {
    const agg = createAggregator({ name: 'centered_clipping', tau: 1, iterations: 1, momentum: 1 }, 1);
    agg.aggregate(inputs([[3]]), new Float32Array(1));
    const state = withAggregatorState({ name: 'sgd', step: 4, slots: { m: Float32Array.of(9) } }, agg);
    expect(Object.keys(state.slots).sort()).toEqual(['aggregator.center', 'm']);
    const split = splitAggregatorState(state);
    expect(split.optimizer).toEqual({ name: 'sgd', step: 4, slots: { m: Float32Array.of(9) } });
    expect(Array.from(split.aggregator.center!)).toEqual([1]);
    expect(() => createAggregator({ name: 'median' }, 1).load({ center: Float32Array.of(1) })).toThrow(/keeps no state/);
  });

  it('the ddp rule with a robust aggregator reports rule metrics and round-trips its state', () => {
    const cfg = validateRunConfig(minimal);
    const rule = createDdpUpdateRule(cfg, 1, { name: 'krum', f: 1 });
    const params = Float32Array.of(0);
    const results = [0, 1, 2, 3, 10].map((v, k) => ({ workerId: `w${k}`, sampleCount: 4, loss: 0, accuracy: 0, computeMs: 1, values: Float32Array.of(v) }));
    const outcome = rule.apply(params, results, 0);
    expect(outcome.metrics).toMatchObject({ aggregator_excluded: 4, aggregator_clipped: 0, grad_norm: 1 });
    expect(params[0]).toBeCloseTo(-0.1, 6); // sgd lr 0.1 on Krum's pick, 1
    const cc = createDdpUpdateRule(cfg, 1, { name: 'centered_clipping', tau: 1, iterations: 1, momentum: 1 });
    cc.apply(Float32Array.of(0), results.slice(0, 1).map((r) => ({ ...r, values: Float32Array.of(5) })), 0);
    const again = createDdpUpdateRule(cfg, 1, { name: 'centered_clipping', tau: 1, iterations: 1, momentum: 1 });
    again.load(cc.state());
    expect(Array.from(again.state().slots['aggregator.center']!)).toEqual([1]);
    // The default rule keeps exactly the optimizer's state.
    expect(Object.keys(createDdpUpdateRule(cfg, 1).state().slots)).toEqual([]);
  });
});

describe('sorting networks', () => {
  it('Batcher networks sort every 0/1 input (the 0-1 principle) for n = 1..12; pruned ones place the asked ranks', () => {
    for (let n = 1; n <= 12; n++) {
      const full = batcherNetwork(n);
      const median = pruneNetwork(full, n, [(n - 1) >> 1, n >> 1]);
      for (let bits = 0; bits < 1 << n; bits++) {
        const run = (net: Int32Array) => {
          const w = Array.from({ length: n }, (_, k) => (bits >> k) & 1);
          for (let c = 0; c < net.length; c += 2) {
            const [a, b] = [net[c]!, net[c + 1]!];
            if (w[a]! > w[b]!) [w[a], w[b]] = [w[b]!, w[a]!];
          }
          return w;
        };
        const sorted = Array.from({ length: n }, (_, k) => (bits >> k) & 1).sort();
        expect(run(full)).toEqual(sorted);
        const m = run(median);
        expect([m[(n - 1) >> 1], m[n >> 1]]).toEqual([sorted[(n - 1) >> 1], sorted[n >> 1]]);
      }
    }
  });
});
