/** Text shown for a value the coordinator did not report. */
export const MISSING = '—';

function isFiniteNumber(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Formats a count or rate with at most `maxFractionDigits` decimals and thousands separators.
 * @example formatNumber(1280) // '1,280'
 */
export function formatNumber(value: number | null | undefined, maxFractionDigits = 0): string {
  if (!isFiniteNumber(value)) return MISSING;
  return value.toLocaleString('en-US', { maximumFractionDigits: maxFractionDigits });
}

/**
 * Formats a 0..1 fraction as a percentage with one decimal.
 * @example formatPercent(0.971) // '97.1%'
 */
export function formatPercent(value: number | null | undefined): string {
  if (!isFiniteNumber(value)) return MISSING;
  return `${(value * 100).toFixed(1)}%`;
}

/**
 * Formats a loss or learning rate to 4 significant digits without trailing zeros.
 * @example formatScalar(0.001) // '0.001'; formatScalar(0.213456) // '0.2135'
 */
export function formatScalar(value: number | null | undefined): string {
  if (!isFiniteNumber(value)) return MISSING;
  return String(Number(value.toPrecision(4)));
}

/**
 * Fraction of `total` done, clamped to 0..1; null when either is unknown or total is not positive.
 * @example progressFraction(120, 600) // 0.2
 */
export function progressFraction(done: number | null | undefined, total: number | null | undefined): number | null {
  if (!isFiniteNumber(done) || !isFiniteNumber(total) || total <= 0) return null;
  return Math.min(1, Math.max(0, done / total));
}

/**
 * Describes how long before `nowMs` the ISO time `iso` was, coarsely ("4 s ago", "3 min ago").
 * @example formatAgo('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:02:00Z')) // '2 min ago'
 */
export function formatAgo(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return MISSING;
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return MISSING;
  const seconds = Math.max(0, Math.round((nowMs - then) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} d ago`;
}

/**
 * Formats an ISO time as a short local date and time.
 * @example formatDateTime('2026-01-01T12:30:00Z') // '1/1/2026, 12:30 PM' in en-US, UTC
 */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return MISSING;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return MISSING;
  return date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}
