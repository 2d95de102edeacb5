// A database outage longer than a step's bound, on a Temporal dev server of its own whose
// history limits are lowered (dynamic config) and a Postgres that refuses every write (the
// test database set read-only, its sessions ended, as a failover to a standby leaves it): each
// saga ends compensated (cancelled, STEP_UNAVAILABLE) or parked in compensation_failed, never
// terminated by Temporal; parking grows no history; once the database is back and the parked
// saga retried, stock and credit are conserved.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { loadConfig } from '../config';
import { freePort } from '../provision/ports';
import {
  ensureTemporalCli,
  startTemporalDevServer,
  type RunningTemporal,
} from '../provision/temporal';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { checkSagaInvariants } from '../test/saga-invariants';
import type { SagaState } from './types';

jest.setTimeout(60_000);

/** The lowered limit: Temporal terminates a workflow whose history grows past it. */
const HISTORY_LIMIT = 200;
const STEP_MAX_ATTEMPTS = 4;

let t: TestDatabase;
let temporal: RunningTemporal;
let worker: TestWorker;
let admin: pg.Client;
let database: string;

beforeAll(async () => {
  t = await createTestDatabase();
  database = new URL(t.url).pathname.slice(1);
  admin = new pg.Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
  await admin.connect();
  temporal = await startTemporalDevServer({
    cliPath: await ensureTemporalCli(loadConfig().temporal.cliPath, () => undefined),
    port: await freePort(),
    dynamicConfig: {
      'limit.historyCount.error': HISTORY_LIMIT,
      'limit.historyCount.warn': HISTORY_LIMIT / 2,
    },
  });
  worker = await startTestWorker(t.store, {
    temporalAddress: temporal.address,
    useLocalActivities: true,
    stepMaxAttempts: STEP_MAX_ATTEMPTS,
    compensationMaxAttempts: 3,
    paymentConfirmationTimeoutMs: 60_000,
  });
});

afterAll(async () => {
  await setReadOnly(false).catch(() => undefined);
  await worker?.stop();
  await temporal?.stop();
  await admin?.end();
  await t?.close();
});

/** Sets the test database read-only (or back) and ends its sessions, so new ones take it. */
async function setReadOnly(on: boolean): Promise<void> {
  await admin.query(
    on
      ? `ALTER DATABASE "${database}" SET default_transaction_read_only = on`
      : `ALTER DATABASE "${database}" RESET default_transaction_read_only`,
  );
  await admin.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [database],
  );
}

const id = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

function waitForState(orderId: string, check: (s: SagaState) => boolean, what: string) {
  return eventually(
    async () => {
      const state = await worker.orders.state(orderId);
      return check(state) ? state : undefined;
    },
    30_000,
    what,
  );
}

async function historyOf(orderId: string) {
  const handle = worker.client.workflow.getHandle(`order-${orderId}`);
  const events = (await handle.fetchHistory()).events ?? [];
  return { length: events.length, status: (await handle.describe()).status.name };
}

test('a write outage past the bound: sagas compensate or park, never terminated; conserved after the retry', async () => {
  const product = id('P-outage');
  const customer = id('c-outage');
  await restockProduct(t.store, product, 10);
  await grantCredit(t.store, customer, 1_000_000);

  // Reserved before the outage: it waits for its payment confirmation, holding 2 units.
  const held = id('held');
  await worker.orders.start({
    orderId: held,
    customerId: customer,
    items: [{ productId: product, quantity: 2, unitPriceCents: 100_000 }],
  });
  await waitForState(held, (s) => s.status === 'awaiting_payment_confirmation', 'awaiting');

  // Started during the outage: its create step never goes through.
  const fresh = id('fresh');
  await setReadOnly(true);
  try {
    await worker.orders.start({
      orderId: fresh,
      customerId: customer,
      items: [{ productId: product, quantity: 1, unitPriceCents: 500 }],
    });
    // Confirmed during the outage: the charge never goes through, nor does the release.
    await worker.orders.confirmPayment(held, 200_000);

    await expect(worker.orders.result(fresh)).resolves.toMatchObject({
      status: 'cancelled',
      reason: expect.stringMatching(
        /^STEP_UNAVAILABLE: create_order did not go through in 4 attempts: .*read-only transaction/,
      ),
    });
    const parked = await waitForState(
      held,
      (s) => s.status === 'compensation_failed',
      'the held order parked',
    );
    expect(parked.lastError).toMatch(/^compensation releaseInventory:.* failed: .*read-only/);
    // Parking waits for an operator on a condition: no workflow task, no event.
    const before = await historyOf(held);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await historyOf(held)).toEqual(before);
    expect(before).toMatchObject({ status: 'RUNNING' });
    expect(before.length).toBeLessThan(HISTORY_LIMIT / 4);
  } finally {
    await setReadOnly(false);
  }

  await worker.orders.retryCompensation(held);
  await expect(worker.orders.result(held)).resolves.toMatchObject({
    status: 'cancelled',
    reason: expect.stringMatching(
      /^STEP_UNAVAILABLE: process_payment did not go through in 4 attempts/,
    ),
  });
  const closed = await historyOf(held);
  expect(closed.status).toBe('COMPLETED'); // the workflow returned: not TERMINATED
  expect(closed.length).toBeLessThan(HISTORY_LIMIT / 2);

  const { ledger, violations } = await checkSagaInvariants(t.store);
  expect(violations).toEqual([]);
  expect(ledger.stock.get(product)).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
  expect(ledger.credit.get(customer)).toMatchObject({ available: 1_000_000, spent: 0 });
  expect(ledger.orders.get(held)).toMatchObject({ status: 'cancelled' });
  expect(ledger.orders.has(fresh)).toBe(false);
});
