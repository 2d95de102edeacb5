// The connection budget enforced at start, against the real Postgres: a process whose pools
// could exceed DB_CONNECTION_BUDGET, or a budget the server cannot honour, fails before it
// opens anything that stays open; a worker-only process's bootstrap pool is small.
import net from 'node:net';
import { startPieces } from './bootstrap';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { createTestDatabase, eventually, type TestDatabase } from './test/harness';

jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sessions = async () =>
  (
    await t.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name LIKE 'order-saga-worker%'`,
    )
  ).rows[0]!.n;

const start = async (env: Record<string, string>) =>
  startPieces(
    loadConfig({
      DATABASE_URL: t.url,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      LOG_LEVEL: 'silent',
      ...env,
    }),
    createLogger('silent', 'budget-test'),
    { pieces: ['worker'] },
  );

test('a worker whose pools exceed DB_CONNECTION_BUDGET does not start', async () => {
  await expect(start({ WORKER_DB_POOL_MAX: '50' })).rejects.toThrow(
    /^DB_CONNECTION_BUDGET=40 is below the 54 connections this process can open/,
  );
  expect(await sessions()).toBe(0);
});

test('a budget above the server max_connections does not start', async () => {
  const { rows } = await t.pool.query<{ usable: number }>(
    `SELECT current_setting('max_connections')::int
            - current_setting('superuser_reserved_connections')::int AS usable`,
  );
  const budget = rows[0]!.usable + 1;
  await expect(
    start({ WORKER_DB_POOL_MAX: '20', DB_CONNECTION_BUDGET: String(budget) }),
  ).rejects.toThrow(
    `DB_CONNECTION_BUDGET=${budget} is more than the ${budget - 1} connections the server accepts`,
  );
  await eventually(async () => ((await sessions()) === 0 ? true : undefined), 2000);
});

test('within the budget, the start goes on to Temporal (unreachable here) and closes its pool', async () => {
  const failure = await start({ WORKER_DB_POOL_MAX: '20', DB_CONNECTION_BUDGET: '24' }).then(
    () => undefined,
    (err: Error) => err,
  );
  expect(failure).toBeInstanceOf(Error);
  expect(failure!.message).not.toMatch(/DB_CONNECTION_BUDGET/);
  await eventually(async () => ((await sessions()) === 0 ? true : undefined), 2000);
});
