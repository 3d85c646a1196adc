import { describe, expect, it } from 'vitest';
import { formatAgo, formatNumber, formatPercent, formatScalar, progressFraction, MISSING } from '../../../app/status-format.ts';
import { statusSchema } from '../../../app/status-schema.ts';
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

describe('statusSchema', () => {
  it('accepts the documented status body, a null run, and null fields', () => {
    expect(statusSchema.parse(JSON.parse(JSON.stringify(STATUS_FIXTURE)))).toEqual(STATUS_FIXTURE);
    const idle = statusSchema.parse({ version: '0.1.0', run: null, runs: [], join: { command: null, url: null } });
    expect(idle.run).toBeNull();
  });

  it('rejects a body whose fields have the wrong types', () => {
    const result = statusSchema.safeParse({ ...STATUS_FIXTURE, run: { ...STATUS_FIXTURE.run, step: '120' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['run', 'step']);
  });
});
