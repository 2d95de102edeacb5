// Upgrade drill from an unversioned release: the previous release (afbf374, before Worker
// Versioning) starts sagas into every waiting state (awaiting confirmation, with an added line,
// parked in compensation_failed), its worker stops, this release's worker starts on the same
// Postgres and Temporal as the first version of its Worker Deployment and is made current, the
// unversioned sagas move to it, and they are confirmed, cancelled, retried and skipped through
// this release's client. Each ends as it should, no workflow task fails, and the events, the orders
// read model, stock and credit agree.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { grantCredit, restockProduct } from '../../catalog/catalog';
import { createOrderClient } from '../../client/order-client';
import { createTestDatabase, eventually, refuseWrites, type TestDatabase } from '../harness';
import { checkSagaInvariants } from '../saga-invariants';
import { killAllAppProcesses } from './processes';
import {
  checkOutRelease,
  failedWorkflowTasks,
  ordersReadModel,
  startCurrentWorker,
  startReleaseWorker,
  startSagasWithRelease,
  temporalCli,
  workflowTaskBuildIds,
} from './upgrade';

jest.setTimeout(240_000);

const run = randomUUID().slice(0, 8);
const taskQueue = `drill-upgrade-${run}`;
const address = process.env.TEST_TEMPORAL_ADDRESS!;
let database: TestDatabase;
let connection: Connection;

beforeAll(async () => {
  database = await createTestDatabase();
  connection = await Connection.connect({ address });
});

afterAll(async () => {
  await killAllAppProcesses();
  await connection?.close();
  await database?.close();
});

test('sagas started by the previous release end right on this release (old worker stopped first)', async () => {
  const started = Date.now();
  const dir = checkOutRelease();
  const checkedOut = Date.now() - started;
  const env = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: taskQueue,
  };
  const client = new Client({ connection, namespace: 'default' });
  const options = {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 600_000,
  };
  const orders = createOrderClient(client, options);
  const customer = `drill-upgrade-customer-${run}`;
  await grantCredit(database.store, customer, 10_000_000);
  const ids = {
    confirm: `u-confirm-${run}`,
    cancel: `u-cancel-${run}`,
    retry: `u-retry-${run}`,
    skip: `u-skip-${run}`,
  };
  const sku = (name: string) => `U-${name}-${run}`;
  for (const name of Object.keys(ids)) await restockProduct(database.store, sku(name), 10);
  await restockProduct(database.store, sku('extra'), 10);
  const big = (name: keyof typeof ids) => ({
    orderId: ids[name],
    customerId: customer,
    items: [{ productId: sku(name), quantity: 2, unitPriceCents: 100_000 }],
  });

  // ---- the previous release --------------------------------------------------------------
  const oldWorker = await startReleaseWorker(dir, env);
  // Its compensations fail twice, then the saga parks in compensation_failed.
  const allowRetry = await refuseWrites(database.pool, 'ReservationReleased', sku('retry'));
  const allowSkip = await refuseWrites(database.pool, 'ReservationReleased', sku('skip'));
  await startSagasWithRelease(dir, address, { ...options, compensationMaxAttempts: 2 }, [
    big('confirm'),
    { ...big('cancel'), addItem: { productId: sku('extra'), quantity: 1, unitPriceCents: 500 } },
    big('retry'),
    big('skip'),
  ]);
  const status = async (orderId: string) =>
    (await client.workflow.getHandle(`order-${orderId}`).query<{ status: string }>('sagaState'))
      .status;
  const reaches = (orderId: string, wanted: string) =>
    eventually(
      async () => ((await status(orderId)) === wanted ? true : undefined),
      60_000,
      `${orderId} ${wanted}`,
    );
  for (const id of Object.values(ids)) await reaches(id, 'awaiting_payment_confirmation');
  // The previous release's cancel signal (a reason string) sends two into compensation.
  for (const id of [ids.retry, ids.skip]) {
    await client.workflow.getHandle(`order-${id}`).signal('cancelOrder', 'customer called');
    await reaches(id, 'compensation_failed');
  }
  await oldWorker.kill('SIGTERM');
  await allowRetry();
  await allowSkip();

  // ---- this release ----------------------------------------------------------------------
  const deployment = `drill-upgrade-${run}`;
  await startCurrentWorker({
    ...env,
    TEMPORAL_DEPLOYMENT_NAME: deployment,
    TEMPORAL_BUILD_ID: run,
  });
  await temporalCli(address, [
    ...['worker', 'deployment', 'set-current-version', '--deployment-name', deployment],
    ...['--build-id', run, '--yes'],
  ]);
  const confirming = await orders.state(ids.confirm);
  await orders.confirmPayment(ids.confirm, confirming.totalCents);
  await orders.cancel(ids.cancel, 'customer called');
  await orders.retryCompensation(ids.retry);
  await orders.skipCompensation(ids.skip, `releaseInventory:${sku('skip')}`, 'released by hand');
  const results = Object.fromEntries(
    await Promise.all(
      Object.entries(ids).map(async ([k, id]) => [k, (await orders.result(id)).status] as const),
    ),
  );
  expect(results).toEqual({
    confirm: 'completed',
    cancel: 'cancelled',
    retry: 'cancelled',
    skip: 'cancelled',
  });
  for (const id of Object.values(ids)) {
    expect(await failedWorkflowTasks(client, `order-${id}`)).toBe(0);
    // Unversioned sagas move to the current version: this release's worker ran their last tasks.
    expect(await workflowTaskBuildIds(client, `order-${id}`)).toEqual([undefined, run]);
  }

  // The events: each order ends once, stock and credit are conserved.
  const { ledger, violations } = await checkSagaInvariants(database.store);
  expect(violations).toEqual([]);
  expect([...Object.values(ids)].map((id) => ledger.orders.get(id)?.status)).toEqual([
    'completed',
    'cancelled',
    'cancelled',
    'cancelled',
  ]);
  expect(ledger.stock.get(sku('confirm'))).toMatchObject({ onHand: 8, reserved: 0 });
  for (const name of ['cancel', 'retry', 'extra'])
    expect(ledger.stock.get(sku(name))).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
  // The skipped release is left for the operator: its units stay reserved.
  expect(ledger.stock.get(sku('skip'))).toMatchObject({ onHand: 10, reserved: 2 });
  expect(ledger.credit.get(customer)).toMatchObject({ spent: 200_000 });

  // The orders read model, as GET /orders/:id serves it.
  expect(await ordersReadModel(database, env, Object.values(ids))).toEqual([
    'completed',
    'cancelled',
    'cancelled',
    'cancelled',
  ]);
  process.stderr.write(
    `[drill] upgrade from the previous release: ${Date.now() - started} ms (checkout ${checkedOut} ms)\n`,
  );
});
