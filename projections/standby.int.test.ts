// A standby runner against the real Postgres: it waits for the projection's lock on one
// connection (no reconnect loop) and takes over as soon as the active runner's session ends.
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { findProjection } from './index';
import { ProjectionRunner } from './runner';

jest.setTimeout(60_000);

let t: TestDatabase;
const runners: ProjectionRunner[] = [];
beforeEach(async () => {
  t = await createTestDatabase();
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
  await t.close();
});

const start = async (standbyRetryMs: number) => {
  const runner = new ProjectionRunner({
    databaseUrl: t.url,
    store: t.store,
    projections: [findProjection('orders')!],
    pollIntervalMs: 50,
    standbyRetryMs,
    listen: false,
  });
  runners.push(runner);
  await runner.start();
  return runner;
};

/** Backends of this database running the orders projection: pid and when each connected. */
const sessions = async () =>
  (
    await t.pool.query<{ pid: number; since: string }>(
      `SELECT pid, backend_start::text AS since FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'projection:orders'
       ORDER BY pid`,
    )
  ).rows;

test('a standby keeps one connection while it waits, and takes over when the holder stops', async () => {
  const active = await start(100);
  await eventually(async () => (active.states.get('orders') === 'active' ? true : undefined));
  const standby = await start(100);
  await eventually(async () => (standby.states.get('orders') === 'standby' ? true : undefined));
  const before = await sessions();
  expect(before).toHaveLength(2);
  // Many lock waits (100 ms each) later, still the same two sessions: no reconnect per try.
  await new Promise((r) => setTimeout(r, 1200));
  expect(await sessions()).toEqual(before);
  expect(standby.states.get('orders')).toBe('standby');

  await active.stop();
  runners.splice(runners.indexOf(active), 1);
  await eventually(
    async () => (standby.states.get('orders') === 'active' ? true : undefined),
    5000,
  );
  const after = await sessions();
  expect(after).toHaveLength(1);
  // The standby took the lock on the connection it waited on.
  expect(before.map((s) => s.pid)).toContain(after[0]!.pid);
});

test('stopping a standby ends its wait at once', async () => {
  const active = await start(100);
  await eventually(async () => (active.states.get('orders') === 'active' ? true : undefined));
  const standby = await start(30_000);
  await eventually(async () => (standby.states.get('orders') === 'standby' ? true : undefined));
  const stopping = Date.now();
  await standby.stop();
  runners.splice(runners.indexOf(standby), 1);
  expect(standby.states.get('orders')).toBe('stopped');
  expect(Date.now() - stopping).toBeLessThan(10_000);
  // Its backend is gone too (cancelled, not left waiting out its 30 s lock_timeout).
  await eventually(async () => ((await sessions()).length === 1 ? true : undefined), 5000);
});
