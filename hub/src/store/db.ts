/** Opens the hub's metadata store: embedded PGlite by default, PostgreSQL when a database URL is given. */
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { StoreError } from '@sightline/shared';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import * as schema from './schema.ts';

/** Where and how to open the store. */
export interface StoreOptions {
  /** Hub data directory; PGlite keeps its files in `<dataDir>/pglite`. Default `./data`. */
  dataDir?: string;
  /** PostgreSQL URL (`postgres://user@host:5432/db`); switches from PGlite to PostgreSQL. Default env `DATABASE_URL`. */
  databaseUrl?: string;
  /** PostgreSQL only: schema holding the tables and the migrations journal. Default `public`. */
  schema?: string;
  /** PostgreSQL only: give up connecting after this many ms. Default 5000. */
  connectTimeoutMs?: number;
  /** PostgreSQL only: pool size. Default 10. */
  maxConnections?: number;
  /** PostgreSQL only: a query unanswered this long fails (and its batch is retried). Default 30000 ms. */
  queryTimeoutMs?: number;
}

/** The drizzle database both drivers share (PostgreSQL dialect). */
export type StoreDb = PgDatabase<PgQueryResultHKT, typeof schema>;

/** An open store. */
export interface Store {
  db: StoreDb;
  kind: 'pglite' | 'postgres';
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. Use this, not
   * `db.transaction`: on PostgreSQL it gives back a connection that died before or during the transaction.
   */
  transaction<T>(fn: (tx: StoreDb) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The folder holding drizzle-kit's SQL migrations (hub/migrations), found from src/ or dist/ alike. */
export function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (
      existsSync(join(dir, 'package.json')) &&
      existsSync(join(dir, 'migrations', 'meta', '_journal.json'))
    ) {
      return join(dir, 'migrations');
    }
    const up = dirname(dir);
    if (up === dir) throw new StoreError('STORE_UNAVAILABLE', 'hub migrations folder not found');
    dir = up;
  }
}

/** Opens (creating and migrating if needed) the store. */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  const url = options.databaseUrl ?? process.env.DATABASE_URL;
  return url ? openPostgres(url, options) : openPglite(resolve(options.dataDir ?? './data', 'pglite'));
}

/**
 * PostgreSQL settings for the embedded PGlite. shared_buffers 16MB instead of 128MB: PGlite's WebAssembly memory
 * only grows, so the default buffer pool ends up resident; 16MB measured 120-145 MiB less hub RSS after a restart
 * with the same ingest rate (docs/benchmarks.md, "Hub ingest").
 */
const PGLITE_CONF = ['shared_buffers=16MB'];

async function openPglite(dir: string): Promise<Store> {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new StoreError('STORE_UNAVAILABLE', `data dir ${dir} is not writable: ${why(err)}`, {
      cause: err,
    });
  }
  let client: PGlite;
  try {
    client = await PGlite.create(dir, { postgresqlconf: PGLITE_CONF });
  } catch (err) {
    throw new StoreError('STORE_UNAVAILABLE', `cannot open PGlite in ${dir}: ${why(err)}`, {
      cause: err,
    });
  }
  const db = drizzlePglite(client, { schema });
  try {
    await migratePglite(db, { migrationsFolder: migrationsFolder() });
  } catch (err) {
    await client.close().catch(() => {});
    throw new StoreError('STORE_UNAVAILABLE', `migrating PGlite in ${dir} failed: ${why(err)}`, {
      cause: err,
    });
  }
  const store = db as unknown as StoreDb;
  return {
    db: store,
    kind: 'pglite',
    transaction: (fn) => store.transaction((tx) => fn(tx as unknown as StoreDb)),
    close: () => client.close(),
  };
}

/** A short reason for a driver error (pg's connection errors can be AggregateErrors with no message). */
function why(err: unknown): string {
  if (err instanceof Error) {
    if (err.message) return err.message;
    const code = (err as { code?: unknown }).code;
    if (err instanceof AggregateError && err.errors.length) return why(err.errors[0]);
    if (typeof code === 'string') return code;
    return err.name;
  }
  return String(err);
}

/** The URL with its password masked, for messages. */
function redact(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = '***';
  return copy.href;
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new StoreError(
      'STORE_URL_INVALID',
      'database URL is malformed (expected postgres://user@host:5432/db)',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new StoreError(
      'STORE_URL_INVALID',
      `database URL must start with postgres:// or postgresql://, got ${url.protocol}//`,
    );
  }
  if (!url.hostname) throw new StoreError('STORE_URL_INVALID', 'database URL has no host');
  return url;
}

/** The parts of pg's Pool used here (pg ships no types and @types/pg is not installed). */
interface PgPool {
  query(text: string): Promise<unknown>;
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(
    event: 'connect',
    listener: (client: { on(event: 'error', l: (err: Error) => void): unknown }) => void,
  ): unknown;
}

/** A connection checked out of the pool; release(err) with an error destroys it instead of reusing it. */
interface PgPoolClient {
  query(text: string): Promise<unknown>;
  release(err?: unknown): void;
}

/**
 * A transaction on a connection of its own. drizzle's pool transaction sends BEGIN before its try/finally, so a
 * connection that dies between checkout and BEGIN (a cut link) was never given back: pool.end() then waited for it
 * for ever, and ten such outages left the pool with nothing to hand out. Here the connection always goes back, and a
 * broken one (BEGIN or ROLLBACK failed) is destroyed rather than reused.
 */
async function pgTransaction<T>(
  pool: PgPool,
  bind: (client: PgPoolClient) => StoreDb,
  fn: (tx: StoreDb) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: unknown;
  try {
    try {
      await client.query('begin');
    } catch (err) {
      broken = err;
      throw err;
    }
    try {
      const result = await fn(bind(client));
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch((rollbackErr: unknown) => {
        broken = rollbackErr;
      });
      throw err;
    }
  } finally {
    client.release(broken);
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

async function openPostgres(raw: string, options: StoreOptions): Promise<Store> {
  const url = parseUrl(raw);
  const where = redact(url);
  const schemaName = options.schema ?? 'public';
  if (!SCHEMA_NAME.test(schemaName)) {
    throw new StoreError(
      'STORE_URL_INVALID',
      `schema name ${JSON.stringify(schemaName)} is not a plain identifier`,
    );
  }
  const db = drizzlePg({
    connection: {
      connectionString: url.href,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      // A query on a connection that died without a FIN (a cut link, a proxy gone) would wait for ever and hold the
      // edge's batches behind it: give up after this long, so the batch is retried on a fresh connection.
      query_timeout: options.queryTimeoutMs ?? 30_000,
      keepAlive: true,
      max: options.maxConnections ?? 10,
      options: `-c search_path=${schemaName}`,
    },
    schema,
  });
  const pool = db.$client as PgPool;
  pool.on('error', () => {}); // idle-client errors surface on the next query instead of crashing the hub
  // A client checked out of the pool (in a transaction, between two queries) whose connection dies emits 'error'
  // with no listener of the pool's attached: without this one that crashed the hub. Its queries still reject.
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    await pool.query(`create schema if not exists "${schemaName}"`);
  } catch (err) {
    await pool.end().catch(() => {});
    throw new StoreError('STORE_UNAVAILABLE', `cannot reach PostgreSQL at ${where}: ${why(err)}`, {
      cause: err,
    });
  }
  try {
    await migratePg(db, { migrationsFolder: migrationsFolder(), migrationsSchema: schemaName });
  } catch (err) {
    await pool.end().catch(() => {});
    throw new StoreError('STORE_UNAVAILABLE', `migrating PostgreSQL at ${where} failed: ${why(err)}`, {
      cause: err,
    });
  }
  return {
    db: db as unknown as StoreDb,
    kind: 'postgres',
    transaction: (fn) =>
      pgTransaction(
        pool,
        (client) => drizzlePg({ client: client as never, schema }) as unknown as StoreDb,
        fn,
      ),
    close: () => pool.end(),
  };
}
