import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import createDebug from 'debug';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/sqlite/client.ts';
import { PrismaClient as PostgresPrismaClient } from './generated/postgresql/client.ts';
import type { DatabaseProvider, ParsedDatabaseUrl } from './database-url.ts';
import { parseDatabaseUrl, redactDatabaseUrl } from './database-url.ts';
import { applyPendingMigrations, listMigrationsOnDisk } from './migrations.ts';

export { defaultDatabaseUrl, parseDatabaseUrl } from './database-url.ts';

const debug = createDebug('crowdtrain:db');

/**
 * The typed Prisma client of the tracking database. Both providers are generated from the same
 * models, so the SQLite client's type describes the PostgreSQL client exactly.
 */
export type TrackingPrismaClient = PrismaClient;

/** An open tracking database: the client, which provider serves it, and how to close it. */
export interface Database {
  prisma: TrackingPrismaClient;
  provider: DatabaseProvider;
  /** The normalised URL (absolute `file:` path for SQLite). */
  url: string;
  close(): Promise<void>;
}

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** `file:/abs/path.db` (SQLite) or `postgresql://...` (PostgreSQL). */
  url: string;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
}

/** How long SQLite waits on a locked database before failing a write (ms). */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;

/**
 * Opens the tracking database: creates the SQLite file's directory if needed, applies pending
 * migrations (a single cheap query when already up to date), enables WAL and a busy timeout on
 * SQLite, and returns the connected client.
 * @example
 * const db = await openDatabase({ url: defaultDatabaseUrl('./data') });
 * try { await db.prisma.experiment.count(); } finally { await db.close(); }
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const started = performance.now();
  const target = parseDatabaseUrl(opts.url);
  let prisma: TrackingPrismaClient;
  if (target.provider === 'sqlite') {
    await mkdir(dirname(target.filePath), { recursive: true });
    // The schema engine locks a SQLite file exclusively, which fails while any other connection
    // (ours included, in WAL mode) is open: migrate before the client connects.
    if (opts.migrate !== false && !(await isUpToDate(readSqliteMigrationRows(target.filePath), 'sqlite'))) {
      await applyPendingMigrations(target);
    }
    prisma = createClient(target);
    try {
      await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
      await prisma.$executeRawUnsafe('PRAGMA synchronous = NORMAL');
    } catch (err) {
      await prisma.$disconnect();
      throw err;
    }
  } else {
    prisma = createClient(target);
    try {
      if (opts.migrate !== false && !(await isUpToDate(readPrismaMigrationRows(prisma), 'postgresql'))) {
        await applyPendingMigrations(target);
      }
    } catch (err) {
      await prisma.$disconnect();
      throw err;
    }
  }
  debug('opened %s (%s) in %d ms', redactDatabaseUrl(target.url), target.provider, Math.round(performance.now() - started));
  let closed = false;
  return {
    prisma,
    provider: target.provider,
    url: target.url,
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
    },
  };
}

function createClient(target: ParsedDatabaseUrl): TrackingPrismaClient {
  if (target.provider === 'sqlite') {
    return new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: target.filePath, timeout: SQLITE_BUSY_TIMEOUT_MS }) });
  }
  const client = new PostgresPrismaClient({ adapter: new PrismaPg({ connectionString: target.url }) });
  // Same models, same generator: only the SQL dialect inside differs.
  return client as unknown as TrackingPrismaClient;
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished: boolean | number | bigint;
  rolled_back: boolean | number | bigint;
}

const MIGRATION_ROWS_SQL =
  'SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back FROM _prisma_migrations';

/** Reads `_prisma_migrations` over a short-lived read-only connection; null when there is none. */
function readSqliteMigrationRows(filePath: string): MigrationRow[] | null {
  if (!existsSync(filePath)) return null;
  const db = new BetterSqlite3(filePath, { readonly: true, fileMustExist: true, timeout: SQLITE_BUSY_TIMEOUT_MS });
  try {
    return db.prepare(MIGRATION_ROWS_SQL).all() as MigrationRow[];
  } catch {
    return null; // no migrations table yet
  } finally {
    db.close();
  }
}

async function readPrismaMigrationRows(prisma: TrackingPrismaClient): Promise<MigrationRow[] | null> {
  try {
    return await prisma.$queryRawUnsafe<MigrationRow[]>(MIGRATION_ROWS_SQL);
  } catch {
    return null; // no migrations table yet
  }
}

/**
 * True when every migration on disk is recorded as applied with the same checksum and nothing
 * failed; then the schema engine (hundreds of ms to load) need not run.
 */
async function isUpToDate(rowsOrPromise: MigrationRow[] | null | Promise<MigrationRow[] | null>, provider: DatabaseProvider): Promise<boolean> {
  const rows = await rowsOrPromise;
  if (rows === null) return false;
  const live = rows.filter((r) => !truthy(r.rolled_back));
  if (live.some((r) => !truthy(r.finished))) return false;
  const applied = new Map(live.map((r) => [r.migration_name, r.checksum]));
  const onDisk = await listMigrationsOnDisk(provider);
  if (applied.size !== onDisk.length) return false;
  return onDisk.every((m) => applied.get(m.name) === m.checksum);
}

function truthy(value: boolean | number | bigint): boolean {
  return value === true || value === 1 || value === 1n;
}
