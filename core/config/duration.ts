import { z } from 'zod';

/**
 * Parses a duration: "HH:MM:SS", "MM:SS", or a number with a unit ("90s", "15m", "2h", "1500ms"),
 * or a plain number of seconds. Returns milliseconds, or null when the text is not a duration.
 * @example parseDurationMs('24:00:00') === 86_400_000
 */
export function parseDurationMs(text: string | number): number | null {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text * 1000 : null;
  const s = text.trim();
  const clock = /^(\d+):([0-5]?\d)(?::([0-5]?\d))?$/.exec(s);
  if (clock) {
    const [, a, b, c] = clock;
    return c === undefined
      ? (Number(a) * 60 + Number(b)) * 1000
      : (Number(a) * 3600 + Number(b) * 60 + Number(c)) * 1000;
  }
  const unit = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(s);
  if (!unit) return null;
  const value = Number(unit[1]);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit[2] ?? 's'] ?? 1000;
  return value * mult;
}

/** zod schema for a duration field; output is milliseconds. */
export const DurationSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDurationMs(v);
  if (ms === null) {
    ctx.addIssue({
      code: 'custom',
      message: `"${String(v)}" is not a duration; use HH:MM:SS (e.g. "24:00:00") or a number with unit ms|s|m|h|d (e.g. "90s")`,
    });
    return z.NEVER;
  }
  return ms;
});
