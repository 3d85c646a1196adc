/**
 * Offline migration tool (Prisma's schema engine as WebAssembly; no native binary, no network).
 *
 *   npx tsx prisma/migrate.ts deploy [--url URL]          apply pending migrations (DATABASE_URL, else file:./data/crowdtrain.db)
 *   npx tsx prisma/migrate.ts status [--url URL]          compare the database with the migrations on disk
 *   npx tsx prisma/migrate.ts diff --name NAME [--postgres-url URL] [--sqlite-only]
 *                                                         new migration for both providers from prisma/schema.prisma
 *   npx tsx prisma/migrate.ts check [--postgres-url URL]  fail when a history or the postgres schema lags the schema
 *   npx tsx prisma/migrate.ts sync-schema                 regenerate prisma/postgres/schema.prisma
 *
 * PostgreSQL diffs replay the history on a throwaway database, so they need a server where the
 * user may CREATE DATABASE: --postgres-url, else SHADOW_DATABASE_URL, else TEST_POSTGRES_URL
 * (`eval "$(bash scripts/ci-postgres.sh)"` provides one).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CrowdtrainError } from '../core/protocol/errors.ts';
import type { ParsedDatabaseUrl } from './database-url.ts';
import { defaultDatabaseUrl, parseDatabaseUrl, redactDatabaseUrl } from './database-url.ts';
import { applyPendingMigrations, migrationStatus, migrationTimestamp, pendingSchemaChange, writeMigration } from './migrations.ts';
import { syncPostgresSchema } from './postgres-schema.ts';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

const USAGE = 'usage: migrate.ts deploy|status [--url URL] | diff --name NAME [--postgres-url URL] [--sqlite-only] | check [--postgres-url URL] | sync-schema';

function targetUrl(url: string | undefined): ParsedDatabaseUrl {
  return parseDatabaseUrl(url ?? process.env.DATABASE_URL ?? defaultDatabaseUrl('data'));
}

function postgresShadowHost(url: string | undefined): ParsedDatabaseUrl | null {
  const chosen = url ?? process.env.SHADOW_DATABASE_URL ?? process.env.TEST_POSTGRES_URL;
  if (chosen === undefined || chosen === '') return null;
  const parsed = parseDatabaseUrl(chosen);
  if (parsed.provider !== 'postgresql') {
    throw new CrowdtrainError('INVALID_CONFIG', `--postgres-url must be a PostgreSQL URL, got "${redactDatabaseUrl(chosen)}"`);
  }
  return parsed;
}

/** Runs `fn` with a scratch SQLite database (the engine needs a main connection; the shadow is in memory). */
async function withScratchSqlite<T>(fn: (target: ParsedDatabaseUrl) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'crowdtrain-migrate-'));
  try {
    return await fn(parseDatabaseUrl(`file:${join(dir, 'scratch.db')}`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function normaliseName(name: string | undefined): string {
  const normalised = (name ?? '').trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (normalised.length === 0) throw new CrowdtrainError('INVALID_CONFIG', `diff needs --name NAME (letters, digits, _), got "${name ?? ''}"`);
  return normalised;
}

async function diff(name: string, postgresUrl: string | undefined, sqliteOnly: boolean): Promise<number> {
  const folder = `${migrationTimestamp()}_${name}`;
  if (await syncPostgresSchema()) console.log('updated prisma/postgres/schema.prisma');
  const pgHost = sqliteOnly ? null : postgresShadowHost(postgresUrl);
  if (!sqliteOnly && pgHost === null) {
    throw new CrowdtrainError(
      'INVALID_CONFIG',
      'the PostgreSQL migration needs a server for its shadow database: pass --postgres-url, set SHADOW_DATABASE_URL or TEST_POSTGRES_URL ' +
        '(eval "$(bash scripts/ci-postgres.sh)"), or pass --sqlite-only and create the PostgreSQL migration later',
    );
  }
  const sqliteSql = await withScratchSqlite((t) => pendingSchemaChange(t));
  const pgSql = pgHost === null ? '' : await pendingSchemaChange(pgHost);
  if (sqliteSql === '' && pgSql === '') {
    console.log('no schema changes: both migration histories already match prisma/schema.prisma');
    return 0;
  }
  if (sqliteSql !== '') console.log(`created prisma/migrations/${await writeMigration('sqlite', folder, sqliteSql)}/migration.sql`);
  if (pgSql !== '') console.log(`created prisma/postgres/migrations/${await writeMigration('postgresql', folder, pgSql)}/migration.sql`);
  console.log('regenerate the clients with: node scripts/postinstall.mjs');
  return 0;
}

async function check(postgresUrl: string | undefined): Promise<number> {
  let failures = 0;
  if (await syncPostgresSchema()) {
    console.error('prisma/postgres/schema.prisma was stale (now regenerated): commit it');
    failures++;
  }
  const sqliteSql = await withScratchSqlite((t) => pendingSchemaChange(t));
  if (sqliteSql !== '') {
    console.error(`prisma/migrations lags prisma/schema.prisma; run migrate.ts diff. Missing SQL:\n${sqliteSql}`);
    failures++;
  } else console.log('sqlite: migration history matches the schema');
  const pgHost = postgresShadowHost(postgresUrl);
  if (pgHost === null) console.log('postgresql: skipped (no --postgres-url, SHADOW_DATABASE_URL or TEST_POSTGRES_URL)');
  else {
    const pgSql = await pendingSchemaChange(pgHost);
    if (pgSql !== '') {
      console.error(`prisma/postgres/migrations lags the schema; run migrate.ts diff. Missing SQL:\n${pgSql}`);
      failures++;
    } else console.log('postgresql: migration history matches the schema');
  }
  return failures === 0 ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      name: { type: 'string' },
      'postgres-url': { type: 'string' },
      'sqlite-only': { type: 'boolean', default: false },
    },
  });
  const command = positionals[0];
  switch (command) {
    case 'deploy': {
      const target = targetUrl(values.url);
      if (target.provider === 'sqlite') await mkdir(dirname(target.filePath), { recursive: true });
      const applied = await applyPendingMigrations(target);
      console.log(
        applied.length === 0
          ? `${redactDatabaseUrl(target.url)}: up to date`
          : `${redactDatabaseUrl(target.url)}: applied ${applied.length} migration(s): ${applied.join(', ')}`,
      );
      return 0;
    }
    case 'status': {
      const target = targetUrl(values.url);
      const status = await migrationStatus(target);
      const history = status.history;
      console.log(`database: ${redactDatabaseUrl(target.url)} (${target.provider})`);
      if (!status.hasMigrationsTable) console.log('no _prisma_migrations table: nothing applied yet');
      if (status.failedMigrationNames.length > 0) console.log(`failed: ${status.failedMigrationNames.join(', ')}`);
      if (status.editedMigrationNames.length > 0) console.log(`edited after being applied: ${status.editedMigrationNames.join(', ')}`);
      if (history === null) console.log('up to date');
      else if (history.diagnostic === 'databaseIsBehind') console.log(`pending: ${history.unappliedMigrationNames.join(', ')}`);
      else if (history.diagnostic === 'migrationsDirectoryIsBehind') console.log(`applied but not on disk: ${history.unpersistedMigrationNames.join(', ')}`);
      else console.log(`histories diverge after ${history.lastCommonMigrationName ?? '(none)'}: not on disk ${history.unpersistedMigrationNames.join(', ')}; pending ${history.unappliedMigrationNames.join(', ')}`);
      return history === null && status.failedMigrationNames.length === 0 ? 0 : 1;
    }
    case 'diff':
      return diff(normaliseName(values.name), values['postgres-url'], values['sqlite-only']);
    case 'check':
      return check(values['postgres-url']);
    case 'sync-schema':
      console.log((await syncPostgresSchema()) ? 'updated prisma/postgres/schema.prisma' : 'prisma/postgres/schema.prisma is up to date');
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
