// Failure drill: the pieces as separate processes, as the README's scale-out section runs them
// (two workers, two projectors, two APIs), on a real Temporal server persisting to Postgres
// (provision/temporal-cluster.ts: the production topology that docker-compose.yml describes).
// Under load one worker and the active projector are SIGKILLed: every saga still ends, the
// standby projector takes over, nothing is lost or applied twice, and both APIs agree.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { grantCredit, restockProduct } from '../../catalog/catalog';
import { createOrderClient } from '../../client/order-client';
import { allProjections } from '../../projections';
import { freePort } from '../../provision/ports';
import { startTemporalCluster, type TemporalCluster } from '../../provision/temporal-cluster';
import { createTestDatabase, eventually, type TestDatabase } from '../harness';
import { checkSagaInvariants } from '../saga-invariants';
import { type AppProcess, killAllAppProcesses, request, startAppProcess } from './processes';

jest.setTimeout(300_000);

const run = randomUUID().slice(0, 8);
const taskQueue = `drill-scale-${run}`;
let workDir: string;
let cluster: TemporalCluster | undefined;
let database: TestDatabase;
let connection: Connection | undefined;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'drill-scale-'));
  [cluster, database] = await Promise.all([
    startTemporalCluster({
      adminUrl: process.env.TEST_ADMIN_DATABASE_URL!,
      workDir,
      databasePrefix: `temporal_drill_${process.pid}_${run}`,
    }),
    createTestDatabase(),
  ]);
});

afterAll(async () => {
  await killAllAppProcesses();
  await connection?.close();
  await cluster?.stop();
  await database?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

const occurrences = (text: string, part: string) => text.split(part).length - 1;

async function count(eventType: string): Promise<number> {
  const { rows } = await database.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM domain_events WHERE event_type = $1',
    [eventType],
  );
  return Number(rows[0]!.n);
}

test('2 workers, 2 projectors, 2 APIs on a Temporal cluster: a worker and the active projector SIGKILLed under load', async () => {
  const started = Date.now();
  const [plenty, scarce] = [`PLENTY-${run}`, `SCARCE-${run}`];
  const customers = [0, 1, 2, 3].map((i) => `drill-scale-customer-${i}-${run}`);
  await restockProduct(database.store, plenty, 200);
  await restockProduct(database.store, scarce, 5);
  for (const c of customers) await grantCredit(database.store, c, 1_000_000);

  const env = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: cluster!.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
  };
  // The first projector takes every projection's lock before the second one starts.
  const startProjector = (name: string) =>
    startAppProcess(name, 'projections/main.ts', env, 'projection runner started');
  const projectors = [await startProjector('projector-a')];
  const apiPorts = [await freePort(), await freePort()];
  const [workerA, workerB] = await Promise.all([
    startAppProcess('worker-a', 'worker.ts', env, 'worker started', 120_000),
    startAppProcess('worker-b', 'worker.ts', env, 'worker started', 120_000),
    ...apiPorts.map((port, i) =>
      startAppProcess(`api-${i}`, 'api/server.ts', { ...env, PORT: String(port) }, 'listening'),
    ),
  ]);
  const active = async (p: AppProcess, state: 'active' | 'on standby') =>
    eventually(
      async () =>
        occurrences(p.output(), `"projection ${state}"`) >= allProjections.length
          ? true
          : undefined,
      30_000,
      `${p.name}: every projection ${state}`,
    );
  await active(projectors[0]!, 'active');
  projectors.push(await startProjector('projector-b'));
  await active(projectors[1]!, 'on standby');
  const [api0, api1] = apiPorts.map((port) => `http://127.0.0.1:${port}`) as [string, string];

  let n = 0;
  const startOrders = (prefix: string, count: number, productId: string) =>
    Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const orderId = `${prefix}-${i}-${run}`;
        const res = await request(n++ % 2 ? api1 : api0, 'POST', '/orders', {
          orderId,
          customerId: customers[i % customers.length],
          items: [{ productId, quantity: 1, unitPriceCents: 900 }],
        });
        expect([orderId, res.status]).toEqual([orderId, 202]);
        return orderId;
      }),
    );
  const wave1 = [...(await startOrders('w1', 12, plenty)), ...(await startOrders('s1', 4, scarce))];

  // Under load: kill once sagas are completing and the active projector is applying them.
  await eventually(
    async () => ((await count('OrderCompleted')) >= 2 ? true : undefined),
    60_000,
    'the first completed sagas',
  );
  const [wave2] = await Promise.all([
    startOrders('w2', 12, plenty).then(async (ids) => [
      ...ids,
      ...(await startOrders('s2', 4, scarce)),
    ]),
    workerA.kill('SIGKILL'),
    projectors[0]!.kill('SIGKILL'),
  ]);
  const all = [...wave1, ...wave2];
  const endedAtKill = (await count('OrderCompleted')) + (await count('OrderCancelled'));
  expect(endedAtKill).toBeLessThan(all.length);

  connection = await Connection.connect({ address: cluster!.address });
  const orders = createOrderClient(new Client({ connection, namespace: 'default' }), {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 60_000,
  });
  const results = await Promise.all(all.map((id) => orders.result(id)));
  const status = new Map(all.map((id, i) => [id, results[i]!.status]));
  const onPlenty = all.filter((id) => id.startsWith('w'));
  const onScarce = all.filter((id) => id.startsWith('s'));
  expect(onPlenty.map((id) => status.get(id))).toEqual(onPlenty.map(() => 'completed'));
  expect(onScarce.filter((id) => status.get(id) === 'completed')).toHaveLength(5);
  expect(onScarce.filter((id) => status.get(id) === 'cancelled')).toHaveLength(3);
  expect(workerB.child.exitCode).toBeNull();

  const { ledger, violations } = await checkSagaInvariants(database.store);
  expect(violations).toEqual([]);
  expect(await count('OrderCreated')).toBe(all.length);
  expect(ledger.stock.get(plenty)).toMatchObject({ onHand: 200 - 24, reserved: 0 });
  expect(ledger.stock.get(scarce)).toMatchObject({ onHand: 0, reserved: 0, available: 0 });

  // The standby projector took every projection over and caught up; both APIs agree with
  // each other and with the event log.
  await active(projectors[1]!, 'active');
  await eventually(
    async () => {
      const res = await request(api1, 'GET', '/projections');
      const items = (res.body as { items?: { lagEvents: number }[] }).items;
      return res.status === 200 && items?.length && items.every((p) => p.lagEvents === 0)
        ? true
        : undefined;
    },
    60_000,
    'projections at the head of the log',
  );
  const both = async (pathname: string) => {
    const [a, b] = await Promise.all([
      request(api0, 'GET', pathname),
      request(api1, 'GET', pathname),
    ]);
    expect([pathname, a.status]).toEqual([pathname, 200]);
    expect([pathname, b.body]).toEqual([pathname, a.body]);
    return a.body as Record<string, unknown>;
  };
  for (const id of all) {
    expect(await both(`/orders/${id}`)).toMatchObject({ status: status.get(id) });
  }
  expect(await both(`/products/${plenty}`)).toMatchObject({ onHand: 176, reserved: 0 });
  expect(await both(`/products/${scarce}`)).toMatchObject({ onHand: 0, reserved: 0 });
  for (const c of customers) {
    expect(await both(`/customers/${c}/credit`)).toMatchObject({
      availableCents: ledger.credit.get(c)!.available,
      spentCents: ledger.credit.get(c)!.spent,
    });
  }
  const stats = await both('/stats/orders');
  expect(stats).toMatchObject({
    completed: { count: 29, revenueCents: 29 * 900 },
    cancelled: expect.objectContaining({ count: 3 }),
    pending: expect.objectContaining({ count: 0 }),
  });
  process.stderr.write(`[drill] scale-out: ${Date.now() - started} ms\n`);
});
