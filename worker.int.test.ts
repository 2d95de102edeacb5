// The production build: `tsc` output plus the workflow bundle made at build time. The compiled
// worker, run with plain `node`, loads that bundle (no webpack at start) and completes a saga.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { grantCredit, restockProduct } from './catalog/catalog';
import { createOrderClient } from './client/order-client';
import { freePort } from './provision/ports';
import { createTestDatabase, eventually, type TestDatabase } from './test/harness';

jest.setTimeout(240_000);

// Inside the repository, so the compiled files resolve node_modules; .data/ is ignored by git.
const outDir = path.join(__dirname, '.data', `build-test-${process.pid}`);
let database: TestDatabase;
let worker: ChildProcess | undefined;
let connection: Connection | undefined;

beforeAll(async () => {
  database = await createTestDatabase();
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
    { cwd: __dirname, stdio: 'inherit' },
  );
  execFileSync(process.execPath, [path.join(outDir, 'cli', 'build-workflow-bundle.js')], {
    cwd: __dirname,
    stdio: 'inherit',
  });
});

afterAll(async () => {
  worker?.kill('SIGKILL');
  await connection?.close();
  await database?.close();
  fs.rmSync(outDir, { recursive: true, force: true });
});

test('the compiled worker starts from the prebuilt bundle and completes a saga', async () => {
  const bundle = path.join(outDir, 'workflow-bundle.js');
  expect(fs.statSync(bundle).size).toBeGreaterThan(100_000);

  const taskQueue = `build-test-${process.pid}`;
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  const healthPort = await freePort();
  const child = spawn(process.execPath, [path.join(outDir, 'worker.js')], {
    env: {
      ...process.env,
      WORKER_HEALTH_ADDRESS: `127.0.0.1:${healthPort}`,
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  worker = child;
  const started = await new Promise<{ workflowBundle: string | null }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"worker started"'));
      if (line) resolve(JSON.parse(line) as { workflowBundle: string | null });
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  expect(started.workflowBundle).toBe(bundle);
  // WORKER_HEALTH_ADDRESS serves the worker's liveness (observability/worker-liveness.ts).
  const livez = await fetch(`http://127.0.0.1:${healthPort}/livez`);
  expect(await livez.json()).toMatchObject({ live: true, workerState: 'RUNNING' });
  expect(livez.status).toBe(200);

  await restockProduct(database.store, 'SKU-BUILD', 5);
  await grantCredit(database.store, 'cust-build', 10_000);
  connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const orders = createOrderClient(client, {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 10_000,
  });
  await orders.start({
    orderId: 'built-1',
    customerId: 'cust-build',
    items: [{ productId: 'SKU-BUILD', quantity: 2, unitPriceCents: 1_000 }],
  });
  await expect(orders.result('built-1')).resolves.toMatchObject({ status: 'completed' });
  const events = await database.store.readStream({ type: 'Order', id: 'built-1' });
  expect(events.map((e) => e.type)).toEqual(['OrderCreated', 'OrderItemAdded', 'OrderCompleted']);

  // A saga waiting for its payment confirmation answers the Web UI's Stack Trace query from
  // the prebuilt bundle, and runs on.
  await orders.start({
    orderId: 'built-2',
    customerId: 'cust-build',
    items: [{ productId: 'SKU-BUILD', quantity: 1, unitPriceCents: 200_000 }],
  });
  await eventually(
    async () =>
      (await orders.state('built-2')).status === 'awaiting_payment_confirmation' || undefined,
    20_000,
    'the saga awaiting its payment confirmation',
  );
  await expect(
    client.workflow.getHandle('order-built-2').query<string>('__stack_trace'),
  ).resolves.toMatch(/condition/);
  await expect(orders.cancel('built-2')).resolves.toMatchObject({ outcome: 'cancelled' });
  await expect(orders.result('built-2')).resolves.toMatchObject({ status: 'cancelled' });
});
