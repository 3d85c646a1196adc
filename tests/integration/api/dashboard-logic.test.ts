import { describe, expect, it } from 'vitest';
import { downsampleMinMax, formatValue, logTicks, niceTicks, smoothEma } from '../../../app/_dashboard/chart-math.ts';
import { diffParams } from '../../../app/_dashboard/compare-view.tsx';
import { fieldErrors } from '../../../app/_dashboard/new-run-form.tsx';
import { orderMetricKeys } from '../../../app/_dashboard/use-run-metrics.ts';
import { checkAdminRequest } from '../../../coordinator/http/admin-auth.ts';
import type http from 'node:http';

describe('dashboard logic', () => {
  it('smoothEma is the identity at 0 and debiased at the start', () => {
    expect(smoothEma([3, 1, 2], 0)).toEqual([3, 1, 2]);
    const s = smoothEma([2, 2, 2, 2], 0.9);
    for (const v of s) expect(v).toBeCloseTo(2, 12);
    const mixed = smoothEma([0, 10], 0.5);
    expect(mixed[0]).toBe(0);
    expect(mixed[1]).toBeCloseTo((0.5 * 0 * 0.5 + 0.5 * 10) / (1 - 0.25), 12);
  });

  it('downsampleMinMax keeps spikes and x order, and leaves short series alone', () => {
    const pts = Array.from({ length: 10_000 }, (_, i) => ({ x: i, y: i === 5_000 ? 100 : Math.sin(i) }));
    const out = downsampleMinMax(pts, 500);
    expect(out.length).toBeLessThanOrEqual(500);
    expect(out.some((p) => p.y === 100)).toBe(true);
    for (let i = 1; i < out.length; i++) expect(out[i]!.x).toBeGreaterThan(out[i - 1]!.x);
    expect(downsampleMinMax(pts.slice(0, 10), 500)).toHaveLength(10);
  });

  it('ticks and value formatting', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(logTicks(0.003, 20)).toEqual([0.001, 0.01, 0.1, 1, 10, 100]);
    expect(formatValue(null)).toBe('–');
    expect(formatValue(0.98765)).toBe('0.9877');
    expect(formatValue(12_345)).toBe('12,345');
    expect(formatValue(1e-5)).toBe('1.00e-5');
  });

  it('diffParams separates differing (or missing) params from shared ones', () => {
    expect(diffParams([{ params: { lr: '0.1', seed: '1', only: 'x' } }, { params: { lr: '0.2', seed: '1' } }])).toEqual({ differing: ['lr', 'only'], same: ['seed'] });
  });

  it('fieldErrors splits the coordinator config error by field', () => {
    expect(fieldErrors('invalid run config: batch_size: Too small; optimizer.lr: expected number')).toEqual([
      ['batch_size', 'Too small'],
      ['optimizer.lr', 'expected number'],
    ]);
    expect(fieldErrors('run x is still training')).toEqual([]);
  });

  it('orderMetricKeys puts the usual curves first', () => {
    expect(orderMetricKeys(['zeta', 'lr', 'eval_accuracy', 'train_loss', 'alpha'])).toEqual(['train_loss', 'eval_accuracy', 'lr', 'alpha', 'zeta']);
  });

  it('checkAdminRequest: 401 without or with a malformed header, 403 with a wrong token or none configured, ok with the right one', () => {
    const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as http.IncomingMessage;
    const token = 'the-right-admin-token';
    expect(checkAdminRequest(req(), token)).toMatchObject({ ok: false, status: 401 });
    expect(checkAdminRequest(req('Token abc'), token)).toMatchObject({ ok: false, status: 401 });
    expect(checkAdminRequest(req('Bearer wrong-token-value'), token)).toMatchObject({ ok: false, status: 403 });
    expect(checkAdminRequest(req(`Bearer ${token}`), null)).toMatchObject({ ok: false, status: 403 });
    expect(checkAdminRequest(req(`bearer ${token}`), token)).toEqual({ ok: true });
  });
});
