// Failure drill: the Temporal dev server, file-backed as `npm start` runs it, is SIGKILLed
// while sagas are in flight (activities running, sagas waiting on a payment-confirmation
// timer) and started again on the same file. The same worker process carries on: every saga
// ends, nothing is written twice (event ids unique, one effect per saga and step) and the
// invariants hold (stock and credit conserved).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { grantCredit, restockProduct } from '../../catalog/catalog';
import { createOrderClient, type OrderClient } from '../../client/order-client';
import { loadConfig } from '../../config';
import { freePort } from '../../provision/ports';
import {
  ensureTemporalCli,
  startTemporalDevServer,
  type RunningTemporal,
} from '../../provision/temporal';
import { createTestDatabase, eventually, type TestDatabase } from '../harness';
import { checkSagaInvariants } from '../saga-invariants';
import { killAllAppProcesses, startBundledWorker } from './processes';

jest.setTimeout(240_000);

const run = randomUUID().slice(0, 8);
const taskQueue = `drill-temporal-${run}`;
let workDir: string;
let database: TestDatabase;
let temporal: RunningTemporal | undefined;
let connection: Connection | undefined;

async function startServer(port: number): Promise<RunningTemporal> {
  const cli = await ensureTemporalCli(loadConfig().temporal.cliPath, () => undefined);
  // The drill kills the server by pid: it needs the CLI binary, not the SDK's download.
  if (!cli) throw new Error('the Temporal CLI is needed for this drill (see .ci/run)');
  return startTemporalDevServer({
    cliPath: cli,
    port,
    dbFile: path.join(workDir, 'temporal.db'),
    logFile: path.join(workDir, 'temporal.log'),
  });
}

function orderClient(address: string): Promise<OrderClient> {
  return Connection.connect({ address }).then((c) => {
    connection = c;
    return createOrderClient(new Client({ connection: c, namespace: 'default' }), {
      taskQueue,
      paymentConfirmationThresholdCents: 100_000,
      paymentConfirmationTimeoutMs: 120_000,
    });
  });
}

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'drill-temporal-'));
  database = await createTestDatabase();
});

afterAll(async () => {
  await killAllAppProcesses();
  await connection?.close();
  await temporal?.stop();
  await database?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

async function count(eventType: string): Promise<number> {
  const { rows } = await database.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM domain_events WHERE event_type = $1',
    [eventType],
  );
  return Number(rows[0]!.n);
}

test('Temporal dev server SIGKILLed and restarted on its file: every saga ends, nothing twice', async () => {
  const started = Date.now();
  const port = await freePort();
  temporal = await startServer(port);
  const [plenty, scarce, big] = [`PLENTY-${run}`, `SCARCE-${run}`, `BIG-${run}`];
  const customers = [0, 1, 2].map((i) => `drill-temporal-customer-${i}-${run}`);
  await restockProduct(database.store, plenty, 50);
  await restockProduct(database.store, scarce, 2);
  await restockProduct(database.store, big, 5);
  for (const c of customers) await grantCredit(database.store, c, 1_000_000);

  const worker = await startBundledWorker('worker', {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
  });
  let orders = await orderClient(temporal.address);
  const start = (orderId: string, i: number, productId: string, unitPriceCents: number) =>
    orders.start({
      orderId,
      customerId: customers[i % customers.length]!,
      items: [{ productId, quantity: 1, unitPriceCents }],
    });
  const small = Array.from({ length: 8 }, (_, i) => `t-small-${i}-${run}`);
  const contested = Array.from({ length: 4 }, (_, i) => `t-scarce-${i}-${run}`);
  // Above the threshold: these wait for confirmPayment on a durable timer across the crash.
  const large = Array.from({ length: 2 }, (_, i) => `t-large-${i}-${run}`);
  await Promise.all([
    ...large.map((id, i) => start(id, i, big, 200_000)),
    ...small.map((id, i) => start(id, i, plenty, 500)),
    ...contested.map((id, i) => start(id, i, scarce, 700)),
  ]);

  // SIGKILL once the first sagas have written, while the others are mid-way.
  await eventually(
    async () => ((await count('StockReserved')) >= 1 ? true : undefined),
    30_000,
    'the first reservations',
  );
  const pid = temporal.pid!;
  await connection!.close();
  connection = undefined;
  process.kill(pid, 'SIGKILL');
  await eventually(
    async () => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true; // gone
      }
    },
    10_000,
    'the server to die',
  );
  const endedAtKill = (await count('OrderCompleted')) + (await count('OrderCancelled'));
  const all = [...small, ...contested, ...large];
  expect(endedAtKill).toBeLessThan(all.length);

  temporal = await startServer(port);
  orders = await orderClient(temporal.address);
  // A confirmation answers the saga's question: send it once the saga asks again.
  const awaiting = await eventually(
    async () => {
      const state = await orders.state(large[0]!);
      return state.status === 'awaiting_payment_confirmation' ? state : undefined;
    },
    60_000,
    'the large order to await its confirmation',
  );
  await orders.confirmPayment(large[0]!, awaiting.totalCents);
  await orders.cancel(large[1]!, 'customer called');

  const results = await Promise.all(all.map((id) => orders.result(id)));
  const status = new Map(all.map((id, i) => [id, results[i]!.status]));
  expect(small.map((id) => status.get(id))).toEqual(small.map(() => 'completed'));
  expect(contested.filter((id) => status.get(id) === 'completed')).toHaveLength(2);
  expect(contested.filter((id) => status.get(id) === 'cancelled')).toHaveLength(2);
  expect(large.map((id) => status.get(id))).toEqual(['completed', 'cancelled']);
  // The same worker process reconnected by itself.
  expect(worker.child.exitCode).toBeNull();

  const { ledger, violations } = await checkSagaInvariants(database.store);
  expect(violations).toEqual([]); // includes: no duplicate event id, no effect written twice
  const { rows } = await database.pool.query<{ events: string; ids: string }>(
    'SELECT count(*) AS events, count(DISTINCT event_id) AS ids FROM domain_events',
  );
  expect(rows[0]!.ids).toBe(rows[0]!.events);
  expect(await count('OrderCreated')).toBe(all.length);
  expect(ledger.stock.get(plenty)).toMatchObject({ onHand: 42, reserved: 0, available: 42 });
  expect(ledger.stock.get(scarce)).toMatchObject({ onHand: 0, reserved: 0, available: 0 });
  expect(ledger.stock.get(big)).toMatchObject({ onHand: 4, reserved: 0, available: 4 });
  const spent = customers.reduce((sum, c) => sum + ledger.credit.get(c)!.spent, 0);
  expect(spent).toBe(8 * 500 + 2 * 700 + 200_000);
  process.stderr.write(`[drill] temporal restart: ${Date.now() - started} ms\n`);
});
