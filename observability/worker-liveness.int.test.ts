// GET /livez against a real worker on the Temporal dev server: 200 while it runs, 503 with the
// reason after its event loop was held up and once the worker stopped.
import { randomUUID } from 'node:crypto';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { createLogger } from '../logger';
import { createOrderWorker } from '../temporal/order-worker';
import { installTemporalRuntime } from '../temporal/runtime';
import {
  type LivenessReport,
  startWorkerLiveness,
  type WorkerLivenessServer,
} from './worker-liveness';

jest.setTimeout(60_000);

let t: TestDatabase;
let connection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
let liveness: WorkerLivenessServer;

beforeAll(async () => {
  installTemporalRuntime(createLogger('warn', 'liveness-test'));
  t = await createTestDatabase();
  connection = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  worker = await createOrderWorker({
    connection,
    namespace: 'default',
    taskQueue: `liveness-${randomUUID()}`,
    store: t.store,
    dbPoolMax: 5,
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
  });
  running = worker.run();
  liveness = await startWorkerLiveness(worker, '127.0.0.1:0', {
    maxEventLoopLagMs: 1_000,
    windowMs: 3_000,
    tickMs: 50,
  });
});

afterAll(async () => {
  await liveness?.close();
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await connection?.close();
  await t?.close();
});

async function livez(): Promise<{ status: number; body: LivenessReport }> {
  const res = await fetch(`http://${liveness.address}/livez`);
  return { status: res.status, body: (await res.json()) as LivenessReport };
}

function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until); // busy: nothing else runs on this thread meanwhile
}

test('a running worker is live: 200, RUNNING, both pollers polling', async () => {
  const { status, body } = await livez();
  expect(body.reasons).toEqual([]);
  expect(status).toBe(200);
  expect(body).toMatchObject({
    live: true,
    reasons: [],
    workerState: 'RUNNING',
    workflowPollerState: 'POLLING',
    activityPollerState: 'POLLING',
  });
  expect(body.eventLoopLagMs).toBeLessThan(1_000);
});

test('after the event loop is held up: 503 naming the delay, live again once the window passes', async () => {
  blockEventLoop(2_500);
  const blocked = await livez();
  expect(blocked.status).toBe(503);
  expect(blocked.body.live).toBe(false);
  expect(blocked.body.eventLoopLagMs).toBeGreaterThanOrEqual(2_400);
  expect(blocked.body.reasons.join('\n')).toMatch(/event loop delayed \d+ ms \(limit 1000 ms\)/);
  // The lag leaves the 3 s window; the worker never stopped polling.
  const again = await eventually(
    async () => {
      const r = await livez();
      return r.status === 200 ? r : undefined;
    },
    10_000,
    'a 200 from /livez',
  );
  expect(again.body.reasons).toEqual([]);
});

test('a stopped worker is not live: 503 naming its state and its pollers', async () => {
  worker.shutdown();
  await running;
  const { status, body } = await livez();
  expect(status).toBe(503);
  expect(body.workerState).toBe('STOPPED');
  expect(body.reasons).toEqual(
    expect.arrayContaining([
      'worker is STOPPED',
      'workflow poller is SHUTDOWN',
      'activity poller is SHUTDOWN',
    ]),
  );
});

test('other paths are 404', async () => {
  const res = await fetch(`http://${liveness.address}/health`);
  expect(res.status).toBe(404);
});
