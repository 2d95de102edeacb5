// The bootstrap against the real Postgres: a start that fails halfway (Temporal unreachable,
// after the pools opened) stops what it had started, leaving no connection behind.
import { freePort } from './provision/ports';
import { createLogger } from './logger';
import { loadConfig } from './config';
import { startPieces } from './bootstrap';
import { createTestDatabase, eventually, type TestDatabase } from './test/harness';

jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

/** Sessions of this test's database opened by the bootstrap: its pools and the runner's. */
async function bootstrapSessions(): Promise<number> {
  const { rows } = await t.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name <> 'order-saga-test'
        AND (application_name LIKE 'order-saga-%' OR application_name LIKE 'projection%')`,
  );
  return rows[0]!.n;
}

test('a start that fails halfway closes the pools it opened', async () => {
  const nobody = `127.0.0.1:${await freePort()}`;
  const config = loadConfig({ DATABASE_URL: t.url, TEMPORAL_ADDRESS: nobody, LOG_LEVEL: 'silent' });
  let beforePiecesRan = false;
  await expect(
    startPieces(config, createLogger('silent', 'bootstrap-test'), {
      pieces: ['projector', 'api'],
      // The store exists and has been used: the pool holds connections when Temporal fails.
      beforePieces: async (store) => {
        await store.ping();
        beforePiecesRan = true;
      },
    }),
  ).rejects.toThrow();
  expect(beforePiecesRan).toBe(true);
  await eventually(
    async () => ((await bootstrapSessions()) === 0 ? true : undefined),
    // Well below the pool's 10 s idle timeout, which would close a leaked pool's idle
    // connections by itself.
    2_000,
    'the bootstrap pools to close',
  );
});
