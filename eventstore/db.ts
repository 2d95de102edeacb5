// Connection pools. Every app connection bounds idle-in-transaction time: one forgotten open
// transaction would otherwise hold back every reader of the global log (pg_snapshot_xmin).
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

export interface PoolOptions {
  max?: number;
  applicationName?: string;
  /**
   * Longest wait for a connection, from the pool or a new one (default: no limit). A worker
   * sets it below its activity timeout, so an attempt that gets no connection fails and is
   * retried instead of timing out while it queues.
   */
  connectionTimeoutMs?: number;
  /** Server-side limit per statement (Postgres statement_timeout; default: none). */
  statementTimeoutMs?: number;
  /** Client-side limit per query, for a server that never answers (default: none). */
  queryTimeoutMs?: number;
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'order-saga',
    options: '-c idle_in_transaction_session_timeout=60000',
    connectionTimeoutMillis: options.connectionTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.queryTimeoutMs,
  });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Nor may a checked-out one's: pg emits 'error' on a client whose connection drops mid-query
  // (besides failing the query), and pg-pool listens only while the client is idle. Kysely holds
  // clients checked out, so a Postgres restart crashed the API. The query still fails (503), and
  // pg-pool discards the broken client on release.
  pool.on('connect', (client) => client.on('error', () => undefined));
  trackConnections(pool);
  return pool;
}

const pools = new WeakMap<object, pg.Pool>();

export function createDb<DB>(pool: pg.Pool): Kysely<DB> {
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  return db;
}

/**
 * The pg pool behind a Kysely made by createDb: hot statements run on it as named (prepared)
 * statements, which Kysely cannot issue, so Postgres plans them once per connection.
 */
export function poolOf(db: object): pg.Pool | undefined {
  return pools.get(db);
}

/** int8 columns arrive as strings: parse them where a number is safe, and say so when not. */
export function toSafeNumber(value: string | number | bigint, column: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n))
    throw new Error(`${column} value ${String(value)} is not a safe integer`);
  return n;
}

const connections = new WeakMap<pg.Pool, Set<unknown>>();

function trackConnections(pool: pg.Pool): void {
  const open = new Set<unknown>();
  connections.set(pool, open);
  pool.on('connect', (client) => open.add(client));
  // pg-pool emits 'remove' once a client's end() has finished, i.e. its connection is closed.
  pool.on('remove', (client) => open.delete(client));
}

/**
 * Ends a pool made by createPool and resolves once every connection has closed. pg-pool's own
 * end() resolves as soon as it has *asked* its idle clients to end: a server stopped right after
 * it (the embedded Postgres when `npm start` stops, a test's own server) then terminates the
 * backends that have not read their Terminate yet, and each of those clients emits 57P01
 * "terminating connection due to administrator command".
 */
export async function closePool(pool: pg.Pool): Promise<void> {
  await pool.end();
  await connectionsClosed(pool);
}

/** Destroys a Kysely made by createDb, waiting for its pool's connections to close (closePool). */
export async function closeDb(db: { destroy(): Promise<void> }): Promise<void> {
  await db.destroy();
  const pool = poolOf(db);
  if (pool) await connectionsClosed(pool);
}

function connectionsClosed(pool: pg.Pool): Promise<void> {
  const open = connections.get(pool);
  return new Promise<void>((resolve) => {
    const check = () => {
      if (open && open.size > 0) return;
      pool.off('remove', check);
      resolve();
    };
    pool.on('remove', check);
    check();
  });
}
