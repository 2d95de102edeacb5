// Worker Versioning against the real dev server: two releases of the worker (build ids v1 and
// v2 of one Worker Deployment) on one task queue. A saga is pinned to the version that started
// it and finishes there after another version becomes current; new sagas go to the current
// version; making v1 current again (a rollback) sends new sagas back to v1 while v2's sagas in
// flight finish on v2. No workflow task fails on the way.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { createOrderClient, type OrderClient } from '../client/order-client';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { createOrderWorker } from './order-worker';
import { setCurrentVersion } from './worker-deployment';

jest.setTimeout(120_000);

const run = randomUUID().slice(0, 8);
const taskQueue = `versioning-${run}`;
const deploymentName = `order-saga-${run}`;
const sku = `VERSIONED-${run}`;
const customerId = `versioned-customer-${run}`;
let database: TestDatabase;
let native: NativeConnection;
let connection: Connection;
let client: Client;
let orders: OrderClient;
const workers: { worker: Worker; running: Promise<void> }[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  await restockProduct(database.store, sku, 100);
  await grantCredit(database.store, customerId, 100_000_000);
  native = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
  connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
  client = new Client({ connection, namespace: 'default' });
  orders = createOrderClient(client, {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 120_000,
  });
});

afterAll(async () => {
  for (const { worker, running } of workers) {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
  }
  await native?.close();
  await connection?.close();
  await database?.close();
});

async function startRelease(buildId: string): Promise<Worker> {
  const worker = await createOrderWorker({
    connection: native,
    namespace: 'default',
    taskQueue,
    store: database.store,
    dbPoolMax: 20,
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
    deployment: { name: deploymentName, buildId, versioning: true },
  });
  workers.push({ worker, running: worker.run() });
  return worker;
}

/** A large order: it waits for its payment confirmation. */
async function startWaitingSaga(name: string): Promise<string> {
  const orderId = `${name}-${run}`;
  await orders.start({
    orderId,
    customerId,
    items: [{ productId: sku, quantity: 1, unitPriceCents: 200_000 }],
  });
  return orderId;
}

/** The saga's versioning, once its first workflow task has completed (that sets it). */
function versioningOf(orderId: string) {
  return eventually(
    async () => {
      const { raw } = await orders.describe(orderId);
      const info = raw.workflowExecutionInfo?.versioningInfo;
      return info?.behavior
        ? { behavior: info.behavior, buildId: info.deploymentVersion?.buildId }
        : undefined;
    },
    30_000,
    `the versioning of ${orderId}`,
  );
}

/** The build ids of the workers that completed the saga's workflow tasks, and any failure. */
async function workflowTasks(orderId: string) {
  const { events } = await client.workflow.getHandle(`order-${orderId}`).fetchHistory();
  return {
    buildIds: [
      ...new Set(
        (events ?? []).flatMap((e) => {
          const done = e.workflowTaskCompletedEventAttributes;
          return done ? [done.deploymentVersion?.buildId] : [];
        }),
      ),
    ],
    failed: (events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).length,
  };
}

async function confirmAndFinish(orderId: string): Promise<void> {
  await orders.confirmPayment(orderId, 200_000);
  await expect(orders.result(orderId)).resolves.toMatchObject({ status: 'completed' });
}

const PINNED = temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED;

test('sagas finish on the version that started them, through an upgrade and a rollback', async () => {
  await startRelease('v1');
  await setCurrentVersion(client, { deploymentName, buildId: 'v1' });
  const first = await startWaitingSaga('first');
  await expect(versioningOf(first)).resolves.toEqual({ behavior: PINNED, buildId: 'v1' });

  // Upgrade: v2 comes up beside v1 and becomes current.
  const v2 = await startRelease('v2');
  await setCurrentVersion(client, { deploymentName, buildId: 'v2' });
  const second = await startWaitingSaga('second');
  await expect(versioningOf(second)).resolves.toEqual({ behavior: PINNED, buildId: 'v2' });
  await confirmAndFinish(first);
  await expect(workflowTasks(first)).resolves.toEqual({ buildIds: ['v1'], failed: 0 });

  // Rollback: v1 is current again while v2's saga waits; new sagas start on v1.
  await setCurrentVersion(client, { deploymentName, buildId: 'v1' });
  const third = await startWaitingSaga('third');
  await expect(versioningOf(third)).resolves.toEqual({ behavior: PINNED, buildId: 'v1' });
  await confirmAndFinish(second);
  await expect(workflowTasks(second)).resolves.toEqual({ buildIds: ['v2'], failed: 0 });

  // v2 drained: once its last saga is done it can stop, and v1 carries on alone.
  v2.shutdown();
  await confirmAndFinish(third);
  await expect(workflowTasks(third)).resolves.toEqual({ buildIds: ['v1'], failed: 0 });
});
