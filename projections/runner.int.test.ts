// The runner against the real Postgres: read models equal an independent SQL fold of the log
// after a crash (SIGKILL mid-batch), with two runners racing, and across a live rebuild.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { allProjections, findProjection } from './index';
import { rebuildProjection } from './rebuild';
import { ProjectionRunner } from './runner';
import { appendHistory } from '../test/sample-history';
import { liveRows, READ_MODEL_TABLES, referenceRows } from '../test/sql-fold';

jest.setTimeout(120_000);

let t: TestDatabase;
const runners: ProjectionRunner[] = [];
const children: ChildProcess[] = [];

beforeEach(async () => {
  t = await createTestDatabase();
});
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.all(runners.splice(0).map((r) => r.stop()));
  await t.close();
});

function startRunner(options: { batchSize?: number } = {}): ProjectionRunner {
  const runner = new ProjectionRunner({
    databaseUrl: t.url,
    store: t.store,
    projections: allProjections,
    batchSize: options.batchSize ?? 100,
    pollIntervalMs: 100,
    standbyRetryMs: 100,
  });
  runners.push(runner);
  return runner;
}

async function startChild(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '../test/runner-child.ts'), t.url, '100'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('started') && resolve());
    child.once('exit', (code) => reject(new Error(`runner child exited with ${code}`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Every projection's checkpoint is at the end of the log. */
async function caughtUp(): Promise<void> {
  await eventually(
    async () => {
      const { rows } = await t.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM projection_checkpoints c WHERE status = 'running'
           AND NOT EXISTS (SELECT 1 FROM domain_events e
             WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position))`,
      );
      return Number(rows[0]!.n) === allProjections.length ? true : undefined;
    },
    60_000,
    'projections to catch up',
  );
}

/** Advisory locks granted in this test's database (only projection runners take them). */
async function advisoryLocksHeld(): Promise<number> {
  const { rows } = await t.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_locks
     WHERE locktype = 'advisory' AND granted
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return Number(rows[0]!.n);
}

async function snapshot(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of READ_MODEL_TABLES) out[table] = await liveRows(t.pool, table);
  return out;
}

async function expectEqualToReference(): Promise<void> {
  for (const table of READ_MODEL_TABLES) {
    const live = await liveRows(t.pool, table);
    expect(live.length).toBeGreaterThan(0);
    expect({ table, rows: live }).toEqual({ table, rows: await referenceRows(t.pool, table) });
  }
}

async function rebuildAll(): Promise<void> {
  for (const projection of allProjections)
    await rebuildProjection({
      databaseUrl: t.url,
      store: t.store,
      projection,
      batchSize: 300,
    });
}

test('a runner catches up and its read models equal a SQL fold of the log', async () => {
  await appendHistory(t.store, { orders: 120 });
  startRunner({ batchSize: 37 });
  await runners[0]!.start();
  await caughtUp();
  await expectEqualToReference();
  const { rows } = await t.pool.query<{ name: string; events_processed: string }>(
    `SELECT name, events_processed FROM projection_checkpoints ORDER BY name`,
  );
  const { rows: handled } = await t.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM domain_events WHERE event_type LIKE 'Order%'`,
  );
  expect(rows.find((r) => r.name === 'orders')?.events_processed).toBe(handled[0]!.n);
});

test('a runner killed with SIGKILL mid-batch and restarted equals a fresh rebuild', async () => {
  await appendHistory(t.store, { orders: 400 });
  const child = await startChild();
  // Wait until the child is inside a batch transaction that has written rows, then kill it.
  const inBatch = await eventually(
    async () => {
      const { rows } = await t.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity
         WHERE application_name = 'projection:orders' AND backend_xid IS NOT NULL`,
      );
      const { rows: cp } = await t.pool.query<{ p: string }>(
        `SELECT global_position AS p FROM projection_checkpoints WHERE name = 'orders'`,
      );
      return Number(rows[0]!.n) > 0 && Number(cp[0]?.p ?? 0) > 0 ? true : undefined;
    },
    30_000,
    'a batch in flight',
  );
  expect(inBatch).toBe(true);
  await kill(child);
  const { rows: before } = await t.pool.query<{ p: string }>(
    `SELECT max(global_position) AS p FROM domain_events`,
  );
  const { rows: at } = await t.pool.query<{ p: string }>(
    `SELECT global_position AS p FROM projection_checkpoints WHERE name = 'orders'`,
  );
  // Killed before the end: the restarted runner has work left.
  expect(Number(at[0]!.p)).toBeLessThan(Number(before[0]!.p));

  await startRunner().start();
  await caughtUp();
  const afterRestart = await snapshot();
  await runners[0]!.stop();
  await rebuildAll();
  expect(await snapshot()).toEqual(afterRestart);
  await expectEqualToReference();
});

test('two runners never both apply an event, and the standby takes over', async () => {
  const first = startRunner();
  const second = startRunner();
  await Promise.all([first.start(), second.start(), appendHistory(t.store, { orders: 100 })]);
  await caughtUp();
  for (const p of allProjections) {
    const states = [first.states.get(p.name), second.states.get(p.name)].sort();
    expect(states).toEqual(['active', 'standby']);
  }
  await expectEqualToReference();
  await Promise.all(runners.splice(0).map((r) => r.stop()));

  // The active runner dies without a goodbye; the standby takes over and finishes the work.
  // The child reports "started" before its sessions have taken their locks, and the log is
  // already caught up: wait until it holds every lock, or the standby could win one first.
  const child = await startChild();
  await eventually(
    async () => ((await advisoryLocksHeld()) === allProjections.length ? true : undefined),
    10_000,
    'the child to hold every projection lock',
  );
  const standby = startRunner();
  await standby.start();
  await eventually(
    async () =>
      allProjections.every((p) => standby.states.get(p.name) === 'standby') ? true : undefined,
    10_000,
    'standby',
  );
  await kill(child);
  await appendHistory(t.store, { orders: 60, from: 100, catalog: false });
  await caughtUp();
  for (const p of allProjections) expect(standby.states.get(p.name)).toBe('active');
  await expectEqualToReference();
});

test('an event a projection cannot apply stops it with the error; the others go on', async () => {
  await appendHistory(t.store, { orders: 10 });
  await t.store.appendToStream({ type: 'Order', id: 'ghost' }, 'any', [
    {
      type: 'OrderItemAdded',
      data: { order_id: 'ghost', product_id: 'p', quantity: 1, unit_price: 1, created_at: 'x' },
    },
  ]);
  await appendHistory(t.store, { orders: 5, from: 10, catalog: false });
  const runner = startRunner({ batchSize: 1000 });
  await runner.start();
  const failed = await eventually(async () => {
    const { rows } = await t.pool.query<{ status: string; last_error: string | null }>(
      `SELECT status, last_error FROM projection_checkpoints WHERE name = 'orders'`,
    );
    return rows[0]?.status === 'failed' ? rows[0] : undefined;
  });
  expect(failed.last_error).toMatch(
    /OrderItemAdded Order-ghost v1\): order ghost is not in the read model/,
  );
  expect(runner.states.get('orders')).toBe('failed');
  // Everything before the bad event was applied, nothing after it.
  const { rows } = await t.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM read_models.orders`,
  );
  expect(Number(rows[0]!.n)).toBe(10);
  // The other projections are unaffected and reach the end of the log.
  for (const table of ['inventory', 'customer_credit'])
    expect(await liveRows(t.pool, table)).toEqual(await referenceRows(t.pool, table));
  await eventually(async () => {
    const { rows: r } = await t.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM projection_checkpoints c WHERE name <> 'orders'
         AND NOT EXISTS (SELECT 1 FROM domain_events e
           WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position))`,
    );
    return r[0]!.n === '2' ? true : undefined;
  });
});

test('a rebuild while events keep arriving ends equal to the live read model', async () => {
  await appendHistory(t.store, { orders: 150 });
  await startRunner().start();
  await caughtUp();

  let writing = true;
  const writer = (async () => {
    for (let from = 150; writing; from += 10)
      await appendHistory(t.store, { orders: 10, from, catalog: false, concurrency: 2 });
  })();
  // Readers never see a half-built model: the order count never goes down.
  let lastCount = 0;
  let reads = 0;
  const reader = (async () => {
    while (writing) {
      const { rows } = await t.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM read_models.orders`,
      );
      expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(lastCount);
      lastCount = Number(rows[0]!.n);
      reads++;
    }
  })();
  for (const name of ['orders', 'inventory', 'customer_credit']) {
    const result = await rebuildProjection({
      databaseUrl: t.url,
      store: t.store,
      projection: findProjection(name)!,
      batchSize: 200,
    });
    expect(result.events).toBeGreaterThan(0);
  }
  writing = false;
  await Promise.all([writer, reader]);
  expect(reads).toBeGreaterThan(0);
  await caughtUp();
  await expectEqualToReference();
});
