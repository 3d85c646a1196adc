import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { leaveOneOutMedians } from '../../../core/aggregate/gradient-agreement.ts';

/** The median of the others, computed the obvious way (the oracle). */
function naive(xs: readonly number[]): number[] {
  return xs.map((_, i) => {
    const s = xs.filter((_, j) => j !== i).sort((a, b) => a - b);
    const mid = s.length >> 1;
    return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  });
}

describe('leaveOneOutMedians', () => {
  it('is the median of the others, by hand', () => {
    expect(leaveOneOutMedians([1, 2, 3, 10])).toEqual([3, 3, 2, 2]);
    expect(leaveOneOutMedians([5, 1, 3])).toEqual([2, 4, 3]);
    expect(leaveOneOutMedians([7, 7, 7])).toEqual([7, 7, 7]);
  });
  it('equals the one-sort-per-element oracle on random inputs (ties and duplicates included)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 5 }).map((x) => x / 2), { minLength: 2, maxLength: 40 }), (xs) => {
        expect(leaveOneOutMedians(xs)).toEqual(naive(xs));
      }),
    );
  });
});
