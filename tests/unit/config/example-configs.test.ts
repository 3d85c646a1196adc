import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../../core/config/run-config.ts';
import { parseSweepConfig } from '../../../core/sweep/sweep-config.ts';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../configs');

describe('the example configs under configs/', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  it('are there', () => expect(files.length).toBeGreaterThanOrEqual(3));
  for (const file of files) {
    it(`${file} is a valid ${file.startsWith('sweep-') ? 'sweep' : 'run'} config`, () => {
      const text = readFileSync(path.join(dir, file), 'utf8');
      if (file.startsWith('sweep-')) expect(parseSweepConfig(text, file).trials).toBeGreaterThan(0);
      else expect(parseRunConfig(text, file).total_updates).toBeGreaterThan(0);
    });
  }
});
