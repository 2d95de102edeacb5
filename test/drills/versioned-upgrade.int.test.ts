// Upgrade and rollback drills with Worker Versioning, following docs/operations.md's release
// procedure with the `temporal worker deployment` commands: the previous versioned release
// (PREVIOUS_VERSIONED_RELEASE, checked out into a temporary folder) runs as one version of the
// deployment and starts sagas into every waiting state; this release's worker joins as a new
// version beside it, takes new sagas once ramped, and is made current while the old one runs. The old sagas finish on
// the old version (they are pinned), new sagas go to the new one. Then the rollback: sagas
// started on the new version wait, the old version is made current again, new sagas go to it,
// and the sagas pinned to the new version still finish on its workers. No workflow task fails,
// the events, the orders read model, stock and credit agree.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { grantCredit, restockProduct } from '../../catalog/catalog';
import { createOrderClient, type OrderClient } from '../../client/order-client';
import { createTestDatabase, eventually, refuseWrites, type TestDatabase } from '../harness';
import { checkSagaInvariants } from '../saga-invariants';
import { killAllAppProcesses } from './processes';
import {
  checkOutRelease,
  type DrillEnv,
  failedWorkflowTasks,
  ordersReadModel,
  PREVIOUS_VERSIONED_RELEASE,
  startCurrentWorker,
  startReleaseWorker,
  startSagasWithRelease,
  temporalCli,
  workflowTaskBuildIds,
} from './upgrade';

jest.setTimeout(240_000);

const run = randomUUID().slice(0, 8);
const address = process.env.TEST_TEMPORAL_ADDRESS!;
const deployment = `drill-order-saga-${run}`;
const OLD = `old-${run}`;
const NEW = `new-${run}`;
const customer = `drill-versioned-customer-${run}`;
const sku = (name: string) => `V-${name}-${run}`;
let database: TestDatabase;
let connection: Connection;
let client: Client;
let orders: OrderClient;
let env: DrillEnv;

const options = {
  taskQueue: `drill-versioned-${run}`,
  paymentConfirmationThresholdCents: 100_000,
  paymentConfirmationTimeoutMs: 600_000,
};

beforeAll(async () => {
  database = await createTestDatabase();
  connection = await Connection.connect({ address });
  client = new Client({ connection, namespace: 'default' });
  orders = createOrderClient(client, options);
  env = {
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: options.taskQueue,
    TEMPORAL_DEPLOYMENT_NAME: deployment,
  };
  await grantCredit(database.store, customer, 100_000_000);
});

afterAll(async () => {
  await killAllAppProcesses();
  await connection?.close();
  await database?.close();
});

/** docs/operations.md step 3 (and the rollback): `set-current-version`. */
const makeCurrent = (buildId: string) =>
  temporalCli(address, [
    'worker',
    'deployment',
    'set-current-version',
    '--deployment-name',
    deployment,
    '--build-id',
    buildId,
    '--yes',
  ]);

/** docs/operations.md step 2: `set-ramping-version`, a share of new sagas to `buildId`. */
const ramp = (buildId: string, percentage: number) =>
  temporalCli(address, [
    'worker',
    'deployment',
    'set-ramping-version',
    '--deployment-name',
    deployment,
    '--build-id',
    buildId,
    '--percentage',
    String(percentage),
    '--yes',
  ]);

/** The deployment's current and ramping versions and each version's drainage (`describe`). */
async function describeDeployment() {
  const out = await temporalCli(address, [
    'worker',
    'deployment',
    'describe',
    '--name',
    deployment,
    '--output',
    'json',
  ]);
  // The CLI's JSON names (temporal CLI 1.5.1).
  const info = JSON.parse(out) as {
    routingConfig?: { currentVersionBuildID?: string; rampingVersionBuildID?: string };
    versionSummaries?: { BuildID?: string; drainageStatus?: string }[];
  };
  return {
    current: info.routingConfig?.currentVersionBuildID,
    ramping: info.routingConfig?.rampingVersionBuildID || undefined,
    drainage: Object.fromEntries(
      (info.versionSummaries ?? []).map((v) => [v.BuildID, v.drainageStatus]),
    ),
  };
}

const status = async (orderId: string) => (await orders.state(orderId)).status;
const reaches = (orderId: string, wanted: string) =>
  eventually(
    async () => ((await status(orderId)) === wanted ? true : undefined),
    60_000,
    `${orderId} ${wanted}`,
  );

/** The saga's pinned version and the build ids of every worker that completed its tasks. */
async function versionsOf(orderId: string) {
  const handle = client.workflow.getHandle(`order-${orderId}`);
  const { raw } = await handle.describe();
  const pinned = raw.workflowExecutionInfo?.versioningInfo;
  return {
    behavior: pinned?.behavior,
    pinnedTo: pinned?.deploymentVersion?.buildId,
    ranOn: await workflowTaskBuildIds(client, `order-${orderId}`),
    failedTasks: await failedWorkflowTasks(client, `order-${orderId}`),
  };
}

const PINNED = 1; // temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED
const onlyOn = (buildId: string) => ({
  behavior: PINNED,
  pinnedTo: buildId,
  ranOn: [buildId],
  failedTasks: 0,
});

const big = (orderId: string, product: string) => ({
  orderId,
  customerId: customer,
  items: [{ productId: sku(product), quantity: 2, unitPriceCents: 100_000 }],
});
const small = (orderId: string, product: string) => ({
  orderId,
  customerId: customer,
  items: [{ productId: sku(product), quantity: 1, unitPriceCents: 500 }],
});

const old = {
  confirm: `v-old-confirm-${run}`,
  cancel: `v-old-cancel-${run}`,
  retry: `v-old-retry-${run}`,
  skip: `v-old-skip-${run}`,
};
const started: Record<string, string> = {};

test('upgrade: both versions live, the old sagas finish on the old version, new ones start on the new', async () => {
  const dir = checkOutRelease(PREVIOUS_VERSIONED_RELEASE);
  for (const name of [...Object.keys(old), 'extra', 'new']) {
    await restockProduct(database.store, sku(name), 10);
  }
  // ---- the previous release: the deployment's first version, so it makes itself current ----
  await startReleaseWorker(dir, { ...env, TEMPORAL_BUILD_ID: OLD });
  await expect(describeDeployment()).resolves.toMatchObject({ current: OLD });
  const allowRetry = await refuseWrites(database.pool, 'ReservationReleased', sku('retry'));
  const allowSkip = await refuseWrites(database.pool, 'ReservationReleased', sku('skip'));
  await startSagasWithRelease(dir, address, { ...options, compensationMaxAttempts: 2 }, [
    big(old.confirm, 'confirm'),
    {
      ...big(old.cancel, 'cancel'),
      addItem: { productId: sku('extra'), quantity: 1, unitPriceCents: 500 },
    },
    big(old.retry, 'retry'),
    big(old.skip, 'skip'),
  ]);
  for (const id of Object.values(old)) await reaches(id, 'awaiting_payment_confirmation');
  for (const id of [old.retry, old.skip]) {
    await orders.cancel(id, 'customer called');
    await reaches(id, 'compensation_failed');
  }
  await allowRetry();
  await allowSkip();

  // ---- this release beside it (step 1), ramped (2), promoted (3) while the old one runs -----
  await startCurrentWorker({ ...env, TEMPORAL_BUILD_ID: NEW });
  // Until it is ramped or promoted, new sagas still go to the current version.
  started.beforeRamp = `v-old-before-ramp-${run}`;
  await orders.start(small(started.beforeRamp, 'new'));
  await expect(orders.result(started.beforeRamp)).resolves.toMatchObject({ status: 'completed' });
  // A ramp of 100 % sends every new saga there, and the old version stays current.
  await ramp(NEW, 100);
  await expect(describeDeployment()).resolves.toMatchObject({ current: OLD, ramping: NEW });
  started.ramped = `v-new-ramped-${run}`;
  await orders.start(small(started.ramped, 'new'));
  await expect(orders.result(started.ramped)).resolves.toMatchObject({ status: 'completed' });
  await makeCurrent(NEW);
  const promoted = await describeDeployment();
  expect(promoted).toMatchObject({ current: NEW, ramping: undefined });
  // Step 4: the old version drains (sagas are still pinned to it).
  expect(promoted.drainage[OLD]).toBe('draining');

  started.fresh = `v-new-after-upgrade-${run}`;
  await orders.start(small(started.fresh, 'new'));
  await orders.confirmPayment(old.confirm, (await orders.state(old.confirm)).totalCents);
  await orders.cancel(old.cancel, 'customer called');
  await orders.retryCompensation(old.retry);
  await orders.skipCompensation(old.skip, `releaseInventory:${sku('skip')}`, 'released by hand');
  const results = await Promise.all(
    [...Object.values(old), started.fresh].map(async (id) => (await orders.result(id)).status),
  );
  expect(results).toEqual(['completed', 'cancelled', 'cancelled', 'cancelled', 'completed']);
  for (const id of Object.values(old)) {
    expect({ id, ...(await versionsOf(id)) }).toEqual({ id, ...onlyOn(OLD) });
  }
  expect(await versionsOf(started.beforeRamp)).toEqual(onlyOn(OLD));
  expect(await versionsOf(started.ramped)).toEqual(onlyOn(NEW));
  expect(await versionsOf(started.fresh)).toEqual(onlyOn(NEW));
});

test('rollback: the old version current again, new sagas go to it, the new version drains its own', async () => {
  // Sagas started on the new version, waiting when the rollback comes.
  started.pinnedConfirm = `v-new-confirm-${run}`;
  started.pinnedCancel = `v-new-cancel-${run}`;
  await orders.start(big(started.pinnedConfirm, 'new'));
  await orders.start(big(started.pinnedCancel, 'new'));
  for (const id of [started.pinnedConfirm, started.pinnedCancel]) {
    await reaches(id, 'awaiting_payment_confirmation');
  }

  await makeCurrent(OLD);
  const rolledBack = await describeDeployment();
  expect(rolledBack.current).toBe(OLD);
  expect(rolledBack.drainage[NEW]).toBe('draining');

  started.afterRollback = `v-old-after-rollback-${run}`;
  await orders.start(small(started.afterRollback, 'new'));
  await expect(orders.result(started.afterRollback)).resolves.toMatchObject({
    status: 'completed',
  });
  await orders.confirmPayment(started.pinnedConfirm, 200_000);
  await orders.cancel(started.pinnedCancel, 'changed my mind');
  await expect(orders.result(started.pinnedConfirm)).resolves.toMatchObject({
    status: 'completed',
  });
  await expect(orders.result(started.pinnedCancel)).resolves.toMatchObject({
    status: 'cancelled',
  });
  expect(await versionsOf(started.afterRollback)).toEqual(onlyOn(OLD));
  for (const id of [started.pinnedConfirm, started.pinnedCancel]) {
    expect({ id, ...(await versionsOf(id)) }).toEqual({ id, ...onlyOn(NEW) });
  }

  // Both drills: each order ended once, stock and credit are conserved, the read model agrees.
  const { ledger, violations } = await checkSagaInvariants(database.store);
  expect(violations).toEqual([]);
  expect(ledger.stock.get(sku('confirm'))).toMatchObject({ onHand: 8, reserved: 0 });
  for (const name of ['cancel', 'retry', 'extra'])
    expect(ledger.stock.get(sku(name))).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
  // The skipped release is left for the operator: its units stay reserved.
  expect(ledger.stock.get(sku('skip'))).toMatchObject({ onHand: 10, reserved: 2 });
  // Four small orders and one large one completed on 'new'.
  expect(ledger.stock.get(sku('new'))).toMatchObject({ onHand: 4, reserved: 0, available: 4 });
  expect(ledger.credit.get(customer)).toMatchObject({ spent: 200_000 + 4 * 500 + 200_000 });
  const all = [...Object.values(old), ...Object.values(started)];
  expect(await ordersReadModel(database, env, all)).toEqual(
    all.map((id) => ledger.orders.get(id)?.status),
  );
  expect(all.map((id) => ledger.orders.get(id)?.status)).toEqual([
    'completed',
    'cancelled',
    'cancelled',
    'cancelled',
    'completed',
    'completed',
    'completed',
    'completed',
    'cancelled',
    'completed',
  ]);
});
