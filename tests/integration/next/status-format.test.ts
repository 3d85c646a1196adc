import { describe, expect, it } from 'vitest';
import { formatAgo, formatNumber, formatPercent, formatScalar, progressFraction, MISSING } from '../../../app/status-format.ts';
import { StatusSchema } from '../../../core/api/status.ts';
import { STATUS_FIXTURE } from './status-fixture.ts';

describe('status page formatters', () => {
  it('formats counts, percentages and scalars, and shows a dash for missing values', () => {
    expect(formatNumber(1280)).toBe('1,280');
    expect(formatNumber(350.24, 1)).toBe('350.2');
    expect(formatPercent(0.971)).toBe('97.1%');
    expect(formatScalar(0.001)).toBe('0.001');
    expect(formatScalar(0.213456)).toBe('0.2135');
    for (const missing of [null, undefined, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(formatNumber(missing)).toBe(MISSING);
      expect(formatPercent(missing)).toBe(MISSING);
      expect(formatScalar(missing)).toBe(MISSING);
    }
  });

  it('clamps progress to 0..1 and refuses unknown or non-positive totals', () => {
    expect(progressFraction(120, 600)).toBe(0.2);
    expect(progressFraction(700, 600)).toBe(1);
    expect(progressFraction(-5, 600)).toBe(0);
    expect(progressFraction(10, 0)).toBeNull();
    expect(progressFraction(null, 600)).toBeNull();
  });

  it('describes "last seen" times coarsely relative to the fetch time', () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(formatAgo('2026-11-25T11:59:56Z', now)).toBe('4 s ago');
    expect(formatAgo('2026-11-25T11:57:00Z', now)).toBe('3 min ago');
    expect(formatAgo('2026-11-25T09:00:00Z', now)).toBe('3 h ago');
    expect(formatAgo('2026-11-20T12:00:00Z', now)).toBe('5 d ago');
    expect(formatAgo('not a date', now)).toBe(MISSING);
    expect(formatAgo(null, now)).toBe(MISSING);
  });
});

describe('StatusSchema (core/api), as the status page parses GET /api/v1/status', () => {
  it('accepts the documented status body and an idle coordinator with no run', () => {
    expect(StatusSchema.parse(JSON.parse(JSON.stringify(STATUS_FIXTURE)))).toEqual(STATUS_FIXTURE);
    const idle = StatusSchema.parse({ ...STATUS_FIXTURE, activeRuns: [], workers: [], runs: [] });
    expect(idle.activeRuns).toEqual([]);
  });

  it('rejects a body whose fields have the wrong types, naming the path', () => {
    const result = StatusSchema.safeParse({ ...STATUS_FIXTURE, activeRuns: [{ ...STATUS_FIXTURE.activeRuns[0], step: '120' }] });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['activeRuns', 0, 'step']);
  });

  it('rejects a body missing a field the coordinator always sends', () => {
    const result = StatusSchema.safeParse({ ...STATUS_FIXTURE, join: { command: STATUS_FIXTURE.join.command, url: STATUS_FIXTURE.join.url } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['join', 'contributePath']);
  });
});
