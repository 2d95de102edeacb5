// A workflow stuck in a loop, on the product's worker in a process of its own (the saga's
// workflows plus one that never yields: test/fixtures/looping-workflow). The SDK's isolate
// timeout fails its workflow task with a clear error; the worker's main thread goes on: a saga
// beside it completes, its activities run, the HTTP server on the same thread answers, the
// SDK's stack trace query answers for a waiting saga, and SIGTERM stops the worker.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { createOrderClient, type OrderClient } from '../client/order-client';
import { freePort } from '../provision/ports';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { spawnWorkerProcess } from '../test/spawn-worker-process';
import { WORKFLOW_PRELOAD_MODULES } from './workflow-bundle';

jest.setTimeout(120_000);

const run = randomUUID().slice(0, 8);
const taskQueue = `stuck-${run}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stuck-workflow-'));
let database: TestDatabase;
let connection: Connection;
let client: Client;
let orders: OrderClient;
let child: ChildProcess | undefined;

beforeAll(async () => {
  const [db, bundle] = await Promise.all([
    createTestDatabase(),
    bundleWorkflowCode({
      workflowsPath: require.resolve('../test/fixtures/looping-workflow'),
      preloadModules: WORKFLOW_PRELOAD_MODULES,
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
    }),
  ]);
  database = db;
  fs.writeFileSync(path.join(dir, 'bundle.js'), bundle.code);
  connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  client = new Client({ connection, namespace: 'default' });
  orders = createOrderClient(client, {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 120_000,
  });
});

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await connection?.close();
  await database?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** How long GET /ping takes to answer, in ms. */
async function pingMs(port: number): Promise<number> {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/ping`, { signal: AbortSignal.timeout(5_000) });
  expect(await res.text()).toBe('pong');
  return performance.now() - started;
}

test('a looping workflow fails its task; sagas, activities, the HTTP server and SIGTERM go on', async () => {
  const sku = `STUCK-${run}`;
  const customerId = `stuck-customer-${run}`;
  await restockProduct(database.store, sku, 10);
  await grantCredit(database.store, customerId, 1_000_000);
  const port = await freePort();
  child = await spawnWorkerProcess({
    databaseUrl: database.url,
    taskQueue,
    workflowBundle: path.join(dir, 'bundle.js'),
    httpPort: port,
  });

  const looping = await client.workflow.start('loopWithoutAwaiting', {
    taskQueue,
    workflowId: `loop-${run}`,
  });
  // The SDK stops the activation at its isolate timeout and fails the workflow task.
  const failure = await eventually(
    async () => {
      const { events } = await looping.fetchHistory();
      return events?.find((e) => e.workflowTaskFailedEventAttributes)
        ?.workflowTaskFailedEventAttributes?.failure;
    },
    30_000,
    "the looping workflow's failed workflow task",
  );
  expect(failure?.message).toMatch(/Script execution timed out/);
  expect((await looping.describe()).status.name).toBe('RUNNING');

  // Meanwhile the server retries the looping task, and each attempt holds the workflow thread
  // until the timeout again: the main thread is not held.
  const pings: number[] = [];
  const small = await orders.start({
    orderId: `small-${run}`,
    customerId,
    items: [{ productId: sku, quantity: 1, unitPriceCents: 500 }],
  });
  const large = await orders.start({
    orderId: `large-${run}`,
    customerId,
    items: [{ productId: sku, quantity: 1, unitPriceCents: 200_000 }],
  });
  const completed = client.workflow.getHandle(small.workflowId).result();
  const pinging = (async () => {
    for (let i = 0; i < 20; i++) {
      pings.push(await pingMs(port));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  await expect(completed).resolves.toMatchObject({ status: 'completed' });
  await pinging;
  // Each answer within a second (a held main thread answers after the 5 s timeout, or never).
  expect(Math.max(...pings)).toBeLessThan(1_000);

  // The SDK's stack trace query (the Web UI's Stack Trace tab) answers for the waiting saga.
  const stack = await eventually(
    async () => {
      const trace = await client.workflow
        .getHandle(large.workflowId)
        .query<string>('__stack_trace');
      return trace.length > 0 ? trace : undefined;
    },
    30_000,
    "the waiting saga's stack trace",
  );
  expect(stack).toMatch(/orderSaga|order-saga/);

  // SIGTERM: the worker shuts down within its grace time and the process exits cleanly.
  const exit = new Promise<number | null>((resolve) =>
    child!.once('exit', (code) => resolve(code)),
  );
  const stopping = Date.now();
  child.kill('SIGTERM');
  expect(await exit).toBe(0);
  expect(Date.now() - stopping).toBeLessThan(20_000);
  await looping.terminate('test done');
  await client.workflow.getHandle(large.workflowId).terminate('test done');
});
