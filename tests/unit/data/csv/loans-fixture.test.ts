import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOANS_DIR, loansCsvFiles } from '../../../fixtures/csv/generate-loans.ts';

describe('the loans fixture', () => {
  it('is exactly what its generator writes (tests/fixtures/csv/generate-loans.ts)', () => {
    for (const f of loansCsvFiles()) expect(readFileSync(path.join(LOANS_DIR, f.name), 'utf8')).toBe(f.text);
  });
});
