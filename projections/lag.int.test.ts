// Projection lag against the real Postgres: a transaction left open anywhere holds every reader
// of the log back (pg_snapshot_xmin), and the events committed meanwhile count as lag, in
// events and in seconds; a scrape of /metrics costs one statement; a backlog beyond the count
// cap is estimated, not counted row by row.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { restockProduct } from '../catalog/catalog';
import { LAG_COUNT_CAP } from '../eventstore/log-sql';
import { createMetrics } from '../observability/metrics';
import { registerProjectionGauges } from '../monitors/projection-gauges';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { allProjections } from './index';
import { findInventory, projectionHealth, projectionStatus } from './read-models';
import { ProjectionRunner } from './runner';
import type { ProjectionDb } from './schema';

jest.setTimeout(120_000);

let t: TestDatabase;
let runner: ProjectionRunner | undefined;
let holder: pg.Client | undefined;

beforeEach(async () => {
  t = await createTestDatabase();
});
afterEach(async () => {
  await holder?.end().catch(() => undefined);
  holder = undefined;
  await runner?.stop();
  runner = undefined;
  await t.close();
});

const allCaughtUp = async () => {
  const status = await projectionStatus(t.db);
  return status.length === allProjections.length && status.every((p) => p.lagEvents === 0)
    ? true
    : undefined;
};

test('events committed behind an open transaction count as lag, in events and seconds', async () => {
  runner = new ProjectionRunner({
    databaseUrl: t.url,
    store: t.store,
    projections: allProjections,
    pollIntervalMs: 50,
  });
  await runner.start();
  await restockProduct(t.store, 'SKU-LAG', 5);
  await eventually(allCaughtUp, 30_000, 'projections to catch up');
  expect((await findInventory(t.db, 'SKU-LAG'))?.onHand).toBe(5);

  // A session that took an xid and stays in its transaction: every later commit is behind it.
  holder = new pg.Client({ connectionString: t.url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('SELECT pg_current_xact_id()');

  await restockProduct(t.store, 'SKU-LAG', 3);
  await restockProduct(t.store, 'SKU-LAG', 4);
  await new Promise((r) => setTimeout(r, 1100));

  const stalled = await projectionHealth(t.db);
  expect(stalled.projections.map((p) => p.name).sort()).toEqual(
    allProjections.map((p) => p.name).sort(),
  );
  for (const p of stalled.projections) {
    expect(p).toMatchObject({ lagEvents: 2, lagExact: true, status: 'running' });
    expect(p.lagSeconds).toBeGreaterThanOrEqual(1);
  }
  expect(stalled.oldestTransactionAgeSeconds).toBeGreaterThanOrEqual(1);
  // The stall is real: the read model has not moved.
  expect((await findInventory(t.db, 'SKU-LAG'))?.onHand).toBe(5);

  // The scrape shows it too, and costs one statement.
  let statements = 0;
  const countingDb = new Kysely<ProjectionDb>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: t.url, max: 2 }) }),
    log: (e) => {
      if (e.level === 'query') statements++;
    },
  });
  try {
    const metrics = createMetrics({ defaultMetrics: false });
    registerProjectionGauges(metrics.registry, countingDb);
    const text = await metrics.registry.metrics();
    expect(statements).toBe(1);
    expect(text).toContain('projection_lag_events{projection="inventory"} 2');
    const seconds = /projection_lag_seconds\{projection="inventory"\} ([\d.]+)/.exec(text);
    expect(Number(seconds?.[1])).toBeGreaterThanOrEqual(1);
    await metrics.registry.metrics();
    expect(statements).toBe(2);
  } finally {
    await countingDb.destroy();
  }

  await holder.query('ROLLBACK');
  await eventually(allCaughtUp, 30_000, 'projections to catch up after the commit');
  expect((await findInventory(t.db, 'SKU-LAG'))?.onHand).toBe(12);
});

test('a backlog beyond the count cap is estimated from global positions', async () => {
  const total = LAG_COUNT_CAP + 500;
  await t.pool.query(
    `INSERT INTO domain_events (event_id, aggregate_type, aggregate_id, version, event_type, event_data)
     SELECT gen_random_uuid(), 'Probe', 'p', i, 'ProbeHappened', '{}'::jsonb
     FROM generate_series(1, $1::int) i`,
    [total],
  );
  await t.pool.query(`INSERT INTO projection_checkpoints (name) VALUES ('probe')`);
  const { rows } = await t.pool.query<{ max: string }>(
    'SELECT max(global_position) AS max FROM domain_events',
  );
  const [far] = await projectionStatus(t.db);
  expect(far).toMatchObject({ name: 'probe', lagEvents: Number(rows[0]!.max), lagExact: false });
  expect(far!.lagEvents).toBeGreaterThanOrEqual(total);

  await t.pool.query(
    `UPDATE projection_checkpoints SET (transaction_id, global_position) =
       (SELECT transaction_id, global_position FROM domain_events ORDER BY global_position
        OFFSET 600 LIMIT 1)`,
  );
  const [near] = await projectionStatus(t.db);
  expect(near).toMatchObject({ lagEvents: total - 601, lagExact: true });
  expect(near!.lagSeconds).toBeGreaterThanOrEqual(0);
});
