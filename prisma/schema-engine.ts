import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import pg from 'pg';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { ParsedDatabaseUrl } from './database-url.ts';

const debug = createDebug('crowdtrain:db:schema-engine');

type SchemaEngineClass = typeof SchemaEngine;
type WasmExports = Record<string, unknown> & { __wbindgen_start?: () => void };

let engineClass: Promise<SchemaEngineClass> | undefined;

/**
 * Loads Prisma's schema engine (WebAssembly build, no native binary, no network) once per process.
 * Node 20 cannot import the package entry (it imports a .wasm module), so the module is
 * instantiated by hand; its timers are unref'd so an idle engine never keeps the process alive.
 */
export function loadSchemaEngine(): Promise<SchemaEngineClass> {
  engineClass ??= instantiateSchemaEngine();
  return engineClass;
}

async function instantiateSchemaEngine(): Promise<SchemaEngineClass> {
  const started = performance.now();
  const require = createRequire(import.meta.url);
  const bgPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const bg = (await import('@prisma/schema-engine-wasm/schema_engine_bg')) as unknown as Record<string, unknown> & {
    __wbg_set_wasm(wasm: unknown): void;
    SchemaEngine: SchemaEngineClass;
  };
  const g = globalThis as { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } };
  g.PRISMA_WASM_PANIC_REGISTRY ??= {
    set_message(message: string) {
      debug('schema engine panic: %s', message);
    },
  };
  const imports: Record<string, unknown> = { ...bg };
  for (const name of Object.keys(bg)) {
    if (name.startsWith('__wbg_setTimeout_')) {
      imports[name] = (callback: () => void, ms: number) => {
        const timer = setTimeout(callback, ms >>> 0);
        timer.unref();
        return timer;
      };
    }
  }
  const bytes = await readFile(join(dirname(bgPath), 'schema_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, {
    './schema_engine_bg.js': imports as WebAssembly.ModuleImports,
  });
  const exports = instance.exports as WasmExports;
  bg.__wbg_set_wasm(exports);
  exports.__wbindgen_start?.();
  debug('schema engine loaded in %d ms', Math.round(performance.now() - started));
  return bg.SchemaEngine;
}

/** A schema engine connected to one database, with the function that releases it. */
export interface ConnectedSchemaEngine {
  engine: SchemaEngine;
  /** The error's message with the engine's opaque "External error id#N" replaced by the driver's own message. */
  describeError(err: unknown): string;
  close(): Promise<void>;
}

/**
 * Connects Prisma's schema engine to a database through a driver adapter.
 * `schema` is the provider's Prisma schema (path and content), which selects the SQL dialect.
 * @example const { engine, close } = await connectSchemaEngine(parseDatabaseUrl(url), schema);
 */
export async function connectSchemaEngine(
  target: ParsedDatabaseUrl,
  schema: { path: string; content: string },
): Promise<ConnectedSchemaEngine> {
  const Engine = await loadSchemaEngine();
  const factory = target.provider === 'sqlite' ? sqliteMigrationFactory(target.filePath) : postgresMigrationFactory(target.url);
  const bound = bindMigrationAwareSqlAdapterFactory(factory.factory);
  const log = (message: string) => debug('%s', message);
  const describeError = (err: unknown): string => {
    const message = err instanceof Error ? err.message : String(err);
    return message.replace(/External error id#(\d+)/g, (whole, id: string) => {
      const record = bound.errorRegistry.consumeError(Number(id));
      if (record === undefined) return whole;
      return record.error instanceof Error ? record.error.message : String(record.error);
    });
  };
  let engine: SchemaEngine;
  try {
    engine = await Engine.new({ datamodels: [[schema.path, schema.content]] }, log, bound);
  } catch (err) {
    await factory.close();
    throw new Error(describeError(err), { cause: err });
  }
  return {
    engine,
    describeError,
    async close() {
      engine.free();
      await factory.close();
    },
  };
}

/** An adapter factory that also remembers every connection it opened so they can all be closed. */
interface TrackedFactory {
  factory: SqlMigrationAwareDriverAdapterFactory;
  close(): Promise<void>;
}

function tracked(open: Set<SqlDriverAdapter>, adapter: SqlDriverAdapter): SqlDriverAdapter {
  open.add(adapter);
  const dispose = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    if (!open.delete(adapter)) return;
    await dispose();
  };
  return adapter;
}

async function closeAll(open: Set<SqlDriverAdapter>): Promise<void> {
  for (const adapter of [...open]) await adapter.dispose();
}

function isMultiStatementError(err: unknown): boolean {
  return err instanceof Error && /more than one statement/i.test(err.message);
}

/**
 * This engine build does not know the adapter's SocketTimeout error kind (SQLITE_BUSY); turn it
 * into a plain error whose message survives the trip through the engine.
 */
function explainBusy(err: unknown, filePath: string): unknown {
  const cause = (err as { cause?: { kind?: unknown; originalMessage?: unknown } } | null)?.cause;
  if (cause?.kind !== 'SocketTimeout') return err;
  return new Error(
    `SQLite database ${filePath} is locked (${typeof cause.originalMessage === 'string' ? cause.originalMessage : 'SQLITE_BUSY'}): migrations need it exclusively; ` +
      'stop other processes that have it open and retry',
    { cause: err },
  );
}

/**
 * Adapts a better-sqlite3 connection to the engine: whole migration scripts go to executeScript
 * (better-sqlite3 prepares one statement at a time) and lock timeouts get a readable message.
 */
function adaptSqliteForEngine(adapter: SqlDriverAdapter, filePath: string): SqlDriverAdapter {
  const executeRaw = adapter.executeRaw.bind(adapter);
  const queryRaw = adapter.queryRaw.bind(adapter);
  const executeScript = adapter.executeScript.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await executeScript(script);
    } catch (err) {
      throw explainBusy(err, filePath);
    }
  };
  adapter.executeRaw = async (query: SqlQuery) => {
    try {
      return await executeRaw(query);
    } catch (err) {
      if (!isMultiStatementError(err) || query.args.length > 0) throw explainBusy(err, filePath);
      await adapter.executeScript(query.sql);
      return 0;
    }
  };
  adapter.queryRaw = async (query: SqlQuery) => {
    try {
      return await queryRaw(query);
    } catch (err) {
      if (!isMultiStatementError(err) || query.args.length > 0) throw explainBusy(err, filePath);
      await adapter.executeScript(query.sql);
      return { columnNames: [], columnTypes: [], rows: [] };
    }
  };
  return adapter;
}

function sqliteMigrationFactory(filePath: string): TrackedFactory {
  const open = new Set<SqlDriverAdapter>();
  const inner = new PrismaBetterSqlite3({ url: filePath, timeout: 10_000 });
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: 'sqlite',
    adapterName: inner.adapterName,
    connect: async () => {
      await mkdir(dirname(filePath), { recursive: true });
      return tracked(open, adaptSqliteForEngine(await inner.connect(), filePath));
    },
    connectToShadowDb: async () => tracked(open, adaptSqliteForEngine(await inner.connectToShadowDb(), ':memory:')),
  };
  return { factory, close: () => closeAll(open) };
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

type QueryResultLike = { fields?: { dataTypeID: number }[] };

function patchCharColumns(result: unknown): void {
  for (const field of (result as QueryResultLike | undefined)?.fields ?? []) {
    if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
  }
}

/**
 * The engine reads Postgres catalogs whose `"char"` columns (OID 18) @prisma/adapter-pg cannot
 * decode; reporting them as text is exact for these one-byte codes.
 */
function patchClientQuery(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (err: unknown, result: unknown) => {
        patchCharColumns(result);
        (callback as (e: unknown, r: unknown) => void)(err, result);
      };
      return query(...args);
    }
    const ret = query(...args);
    if (ret instanceof Promise) {
      return ret.then((result: unknown) => {
        patchCharColumns(result);
        return result;
      });
    }
    return ret;
  };
}

function patchedPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool({ max: 2, ...config });
  pool.on('connect', patchClientQuery);
  pool.on('error', (err) => debug('idle pool client error: %s', err.message));
  return pool;
}

function postgresMigrationFactory(url: string): TrackedFactory {
  const open = new Set<SqlDriverAdapter>();
  const connectTo = async (connectionString: string) =>
    new PrismaPg(patchedPool({ connectionString }), { disposeExternalPool: true }).connect();
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: async () => tracked(open, await connectTo(url)),
    // adapter-pg's own shadow database would connect to the main database when given a
    // connection string; create a real throwaway database and drop it on dispose.
    connectToShadowDb: async () => {
      const admin = await connectTo(url);
      const name = `prisma_shadow_${randomUUID().replaceAll('-', '')}`;
      await admin.executeScript(`CREATE DATABASE "${name}"`);
      const shadowUrl = new URL(url);
      shadowUrl.pathname = `/${name}`;
      const shadow = await connectTo(shadowUrl.toString());
      const dispose = shadow.dispose.bind(shadow);
      shadow.dispose = async () => {
        try {
          await dispose();
        } finally {
          await admin.executeScript(`DROP DATABASE IF EXISTS "${name}"`);
          await admin.dispose();
        }
      };
      return tracked(open, shadow);
    },
  };
  return { factory, close: () => closeAll(open) };
}
