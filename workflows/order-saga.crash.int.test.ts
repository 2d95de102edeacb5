// Crash: the worker process is killed with SIGKILL while sagas are in flight (activities
// running, sagas waiting for a payment confirmation), and a new worker process takes over.
// Every saga still ends completed or cancelled, no event is written twice, and the saga's
// invariants (stock and credit conserved) hold.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { createOrderClient, type OrderClient } from '../client/order-client';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { spawnWorkerProcess } from '../test/spawn-worker-process';
import { checkSagaInvariants } from '../test/saga-invariants';

jest.setTimeout(120_000);

const run = randomUUID().slice(0, 8);
const taskQueue = `crash-${run}`;
let database: TestDatabase;
let connection: Connection;
let orders: OrderClient;
const children: ChildProcess[] = [];

async function startWorkerProcess(): Promise<ChildProcess> {
  const child = await spawnWorkerProcess({ databaseUrl: database.url, taskQueue });
  children.push(child);
  return child;
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

function kill(child: ChildProcess): Promise<void> {
  if (exited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  orders = createOrderClient(new Client({ connection, namespace: 'default' }), {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 120_000,
  });
});

afterAll(async () => {
  for (const child of children) await kill(child);
  await connection?.close();
  await database?.close();
});

async function count(eventType: string, aggregateId?: string): Promise<number> {
  const { rows } = await database.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM domain_events
      WHERE event_type = $1 AND ($2::text IS NULL OR aggregate_id = $2)`,
    [eventType, aggregateId ?? null],
  );
  return Number(rows[0]!.n);
}

test('sagas survive a SIGKILL of their worker and a restart', async () => {
  const [plenty, scarce, big] = [`PLENTY-${run}`, `SCARCE-${run}`, `BIG-${run}`];
  await restockProduct(database.store, plenty, 100);
  await restockProduct(database.store, scarce, 3);
  await restockProduct(database.store, big, 10);
  const customers = [0, 1, 2].map((i) => `crash-customer-${i}-${run}`);
  for (const c of customers) await grantCredit(database.store, c, 10_000_00);
  // Slow reservations of one product, so that the kill lands while activities run.
  await database.pool.query(`
    CREATE FUNCTION slow_reservation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.event_type = 'StockReserved' AND NEW.aggregate_id = '${plenty}' THEN
        PERFORM pg_sleep(0.2);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER slow_reservation BEFORE INSERT ON domain_events
      FOR EACH ROW EXECUTE FUNCTION slow_reservation();`);

  const first = await startWorkerProcess();
  const small = Array.from({ length: 12 }, (_, i) => `plenty-${i}-${run}`);
  const contested = Array.from({ length: 6 }, (_, i) => `scarce-${i}-${run}`);
  const large = Array.from({ length: 4 }, (_, i) => `big-${i}-${run}`);
  const start = (orderId: string, i: number, productId: string, unitPriceCents: number) =>
    orders.start({
      orderId,
      customerId: customers[i % customers.length]!,
      items: [{ productId, quantity: 1, unitPriceCents }],
    });
  await Promise.all([
    ...large.map((id, i) => start(id, i, big, 200_000)),
    ...small.map((id, i) => start(id, i, plenty, 500)),
    ...contested.map((id, i) => start(id, i, scarce, 700)),
  ]);

  // Kill once some reservations went through, while the large orders wait for confirmation.
  await eventually(
    async () => ((await count('StockReserved', plenty)) >= 2 ? true : undefined),
    30_000,
    'reservations in flight',
  );
  await kill(first);
  const completedAtKill = await count('OrderCompleted');
  expect(completedAtKill).toBeLessThan(small.length + contested.length);

  await startWorkerProcess();
  // A confirmation answers the saga's question: wait until each asks it again.
  const confirm = async (id: string) => {
    await eventually(
      async () =>
        (await orders.state(id)).status === 'awaiting_payment_confirmation' ? true : undefined,
      30_000,
      `${id} awaiting confirmation`,
    );
    await orders.confirmPayment(id, 200_000);
  };
  await Promise.all(large.slice(0, 2).map(confirm));
  await Promise.all(large.slice(2).map((id) => orders.cancel(id, 'customer called')));

  const results = new Map(
    await Promise.all(
      [...small, ...contested, ...large].map(async (id) => [id, await orders.result(id)] as const),
    ),
  );
  const statuses = (ids: string[]) => ids.map((id) => results.get(id)!.status);
  expect(statuses(small)).toEqual(small.map(() => 'completed'));
  expect(statuses(contested).filter((s) => s === 'completed')).toHaveLength(3);
  expect(statuses(contested).filter((s) => s === 'cancelled')).toHaveLength(3);
  expect(statuses(large)).toEqual(['completed', 'completed', 'cancelled', 'cancelled']);

  const { ledger, violations } = await checkSagaInvariants(database.store);
  expect(violations).toEqual([]);
  expect(ledger.stock.get(plenty)).toMatchObject({ onHand: 88, reserved: 0, available: 88 });
  expect(ledger.stock.get(scarce)).toMatchObject({ onHand: 0, reserved: 0, available: 0 });
  expect(ledger.stock.get(big)).toMatchObject({ onHand: 8, reserved: 0, available: 8 });
  const spent = customers.reduce((sum, c) => sum + ledger.credit.get(c)!.spent, 0);
  expect(spent).toBe(12 * 500 + 3 * 700 + 2 * 200_000);
  // One OrderCreated per saga: the retried activities wrote nothing twice.
  expect(await count('OrderCreated')).toBe(small.length + contested.length + large.length);
});
