// Runs the integration and chaos suites a second time against PostgreSQL when TEST_POSTGRES_URL
// is set (CI sets it via scripts/ci-postgres.sh); otherwise says so and succeeds.
import { spawnSync } from 'node:child_process';

if (!process.env.TEST_POSTGRES_URL) {
  console.log('test:postgres: TEST_POSTGRES_URL is not set; skipping the PostgreSQL pass (run `eval "$(bash scripts/ci-postgres.sh)"` as root to enable it)');
  process.exit(0);
}
const r = spawnSync('npx', ['vitest', 'run', '--project', 'integration'], {
  stdio: 'inherit',
  env: { ...process.env, CROWDTRAIN_TEST_DB: 'postgres' },
});
process.exit(r.status ?? 1);
