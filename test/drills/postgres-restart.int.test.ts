// Failure drill: the Postgres under a running system stops and comes back while sagas are in
// flight. A Postgres of the drill's own (embedded, free port, temp data dir), never the
// machine's. The worker, the projector and the API run as separate processes against it.
// During the outage the API answers 503 problem+json, quickly, to every database read and
// write, and still accepts new orders (they go to Temporal). Afterwards every saga has ended,
// stock and credit are conserved, and the same projector process has caught up.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { grantCredit, restockProduct } from '../../catalog/catalog';
import { createOrderClient, type OrderClient } from '../../client/order-client';
import type { Kysely } from 'kysely';
import { createDb, createEventStore, createPool, type EventStoreTables } from '../../eventstore';
import { migrateToLatest } from '../../migrations';
import type { ProjectionDb } from '../../projections';
import { freePort } from '../../provision/ports';
import { eventually, type TestEventStore } from '../harness';
import { checkSagaInvariants } from '../saga-invariants';
import {
  type AppProcess,
  killAllAppProcesses,
  request,
  startAppProcess,
  startBundledWorker,
} from './processes';

jest.setTimeout(240_000);

const run = randomUUID().slice(0, 8);
const taskQueue = `drill-pg-${run}`;
let workDir: string;
let pgPort: number;
let postgres: AppProcess | undefined;
let databaseUrl: string;
let pool: ReturnType<typeof createPool>;
let store: TestEventStore;
let connection: Connection;
let orders: OrderClient;

/** Starts (or restarts, on the same data dir and port) the drill's Postgres. */
const startPostgres = async () => {
  postgres = await startAppProcess(
    'postgres',
    'test/drills/postgres-process.ts',
    {},
    'ready ',
    120_000,
    [path.join(workDir, 'pg'), String(pgPort)],
  );
  databaseUrl = /ready (\S+)/.exec(postgres.output())![1]!;
};

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'drill-pg-'));
  fs.chmodSync(workDir, 0o755); // the embedded Postgres runs as its own user when we are root
  pgPort = await freePort();
  await startPostgres();
  // The drill's own handle on the database survives the restart: pg reconnects per query.
  pool = createPool(databaseUrl, { max: 4, applicationName: 'drill' });
  const db = createDb<ProjectionDb>(pool);
  await migrateToLatest(db);
  store = Object.assign(createEventStore(db), { db: db as unknown as Kysely<EventStoreTables> });
  connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  orders = createOrderClient(new Client({ connection, namespace: 'default' }), {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 60_000,
  });
});

afterAll(async () => {
  // SIGTERM first: a SIGKILLed postgres-process would leave its Postgres running.
  await postgres?.kill('SIGTERM');
  await killAllAppProcesses();
  await connection?.close();
  await pool?.end();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

async function count(eventType: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM domain_events WHERE event_type = $1',
    [eventType],
  );
  return Number(rows[0]!.n);
}

test('Postgres restarted under in-flight sagas: 503s meanwhile, every saga ends, nothing lost', async () => {
  const started = Date.now();
  const [plenty, scarce] = [`PLENTY-${run}`, `SCARCE-${run}`];
  const customers = [0, 1, 2].map((i) => `drill-pg-customer-${i}-${run}`);
  await restockProduct(store, plenty, 50);
  await restockProduct(store, scarce, 2);
  for (const c of customers) await grantCredit(store, c, 100_000);

  const env = {
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS!,
    TEMPORAL_TASK_QUEUE: taskQueue,
  };
  const apiPort = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  const [, projector] = await Promise.all([
    startBundledWorker('worker', env),
    startAppProcess('projector', 'projections/main.ts', env, 'projection runner started'),
    startAppProcess(
      'api',
      'api/server.ts',
      { ...env, PORT: String(apiPort) },
      'HTTP API listening',
    ),
  ]);
  const startOrder = async (orderId: string, i: number, productId: string) => {
    const res = await request(api, 'POST', '/orders', {
      orderId,
      customerId: customers[i % customers.length],
      items: [{ productId, quantity: 1, unitPriceCents: 700 }],
    });
    expect(res.status).toBe(202);
  };

  // Before the outage: sagas start, and Postgres goes down as soon as the first writes land.
  const before = Array.from({ length: 8 }, (_, i) => `pg-before-${i}-${run}`);
  const contested = Array.from({ length: 4 }, (_, i) => `pg-scarce-${i}-${run}`);
  await Promise.all([
    ...before.map((id, i) => startOrder(id, i, plenty)),
    ...contested.map((id, i) => startOrder(id, i, scarce)),
  ]);
  await eventually(
    async () => ((await count('OrderCreated')) >= 1 ? true : undefined),
    30_000,
    'the first saga writes',
  );
  const endedBeforeOutage = (await count('OrderCompleted')) + (await count('OrderCancelled'));
  // Reads in progress when Postgres goes: they poll the read model for a version it never
  // reaches, so the shutdown lands mid-request.
  const inProgress = Promise.all(
    before
      .slice(0, 4)
      .map((id) =>
        request(api, 'GET', `/orders/${id}?minVersion=1000000&waitMs=10000`, undefined, 25_000),
      ),
  );
  await new Promise((r) => setTimeout(r, 300));
  await postgres!.kill('SIGTERM');
  const outageStarted = Date.now();

  // During the outage: reads and catalog writes get a quick 503 problem+json; orders are
  // still accepted, since they go to Temporal.
  const during = Array.from({ length: 3 }, (_, i) => `pg-during-${i}-${run}`);
  await Promise.all(during.map((id, i) => startOrder(id, i, plenty)));
  const probes: { path: string; status: number; contentType: string; ms: number }[] = [];
  while (Date.now() - outageStarted < 3000) {
    const results = await Promise.all(
      [
        ['GET', `/orders/${before[0]}`],
        [`GET`, `/orders?limit=5`],
        ['GET', `/products/${plenty}`],
        ['GET', `/customers/${customers[0]}/credit`],
        ['GET', '/projections'],
        ['GET', '/ready'],
        ['POST', `/products/${plenty}/restock`],
      ].map(async ([method, p]) => ({
        path: `${method} ${p}`,
        ...(await request(
          api,
          method as 'GET' | 'POST',
          p!,
          method === 'POST' ? { quantity: 1 } : undefined,
        )),
      })),
    );
    probes.push(...results);
    await new Promise((r) => setTimeout(r, 200));
  }
  const unexpected = probes.filter(
    (p) => p.status !== 503 || !p.contentType.startsWith('application/problem+json'),
  );
  expect(unexpected).toEqual([]);
  // The reads caught by the shutdown end with a 503 too, long before their 10 s wait is up.
  const caught = (await inProgress).map((r) => ({
    status: r.status,
    problem: r.contentType.startsWith('application/problem+json'),
    quick: r.ms < 8000,
  }));
  expect(caught).toEqual(caught.map(() => ({ status: 503, problem: true, quick: true })));
  // Bounded answers, not hangs (the bound leaves room for a machine busy with other tests).
  expect(Math.max(...probes.map((p) => p.ms))).toBeLessThan(4000);

  await startPostgres();
  const restartedAt = new Date();

  // Every saga ends, the failed restock wrote nothing, and the invariants hold.
  const all = [...before, ...contested, ...during];
  const results = await resultsWithin(all, 90_000);
  expect(endedBeforeOutage).toBeLessThan(all.length);
  const status = new Map(all.map((id, i) => [id, results[i]!.status]));
  expect([...before, ...during].map((id) => status.get(id))).toEqual(
    [...before, ...during].map(() => 'completed'),
  );
  expect(contested.filter((id) => status.get(id) === 'completed')).toHaveLength(2);
  expect(contested.filter((id) => status.get(id) === 'cancelled')).toHaveLength(2);
  const { rows: after } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM domain_events
      WHERE created_at >= $1 AND event_type IN ('OrderCompleted', 'OrderCancelled')`,
    [restartedAt],
  );
  expect(Number(after[0]!.n)).toBeGreaterThan(0); // sagas really were in flight across it
  const { ledger, violations } = await checkSagaInvariants(store);
  expect(violations).toEqual([]);
  const completedPlenty = before.length + during.length;
  expect(ledger.stock.get(plenty)).toEqual(
    expect.objectContaining({ onHand: 50 - completedPlenty, reserved: 0 }),
  );
  expect(ledger.stock.get(scarce)).toEqual(
    expect.objectContaining({ onHand: 0, reserved: 0, available: 0 }),
  );
  const spent = customers.reduce((sum, c) => sum + ledger.credit.get(c)!.spent, 0);
  expect(spent).toBe((completedPlenty + 2) * 700);

  // The same projector process caught up, without a restart: the API shows what the log says.
  await eventually(
    async () => {
      const res = await request(api, 'GET', '/projections');
      const items = (res.body as { items?: { lagEvents: number; status: string }[] }).items;
      return res.status === 200 && items?.length && items.every((p) => p.lagEvents === 0)
        ? true
        : undefined;
    },
    30_000,
    'projections at the head of the log',
  );
  expect(projector.child.exitCode).toBeNull();
  for (const id of all) {
    const res = await request(api, 'GET', `/orders/${id}`);
    expect([id, res.status, (res.body as { status?: string }).status]).toEqual([
      id,
      200,
      status.get(id),
    ]);
  }
  const stock = await request(api, 'GET', `/products/${plenty}`);
  expect(stock.body).toMatchObject({ onHand: 50 - completedPlenty, reserved: 0 });
  for (const c of customers) {
    const credit = await request(api, 'GET', `/customers/${c}/credit`);
    expect(credit.body).toMatchObject({
      availableCents: ledger.credit.get(c)!.available,
      spentCents: ledger.credit.get(c)!.spent,
    });
  }
  process.stderr.write(
    `[drill] postgres restart: ${Date.now() - started} ms, ${probes.length} probes during the outage, slowest ${Math.max(...probes.map((p) => p.ms))} ms\n`,
  );
});

/** Every saga's result; past the deadline, fails with where each unfinished saga stands. */
async function resultsWithin(ids: string[], ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void Promise.all(
        ids.map(async (id) => {
          const s = await orders.state(id).catch((err: Error) => ({ status: err.message }));
          return `${id}: ${JSON.stringify(s)}`;
        }),
      ).then((lines) => reject(new Error(`sagas still open after ${ms} ms:\n${lines.join('\n')}`)));
    }, ms);
  });
  try {
    return await Promise.race([Promise.all(ids.map((id) => orders.result(id))), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
