// What an unexpected error thrown by our own workflow code does, under the order worker's
// options (worker.ts). The choice: a bug (a plain Error, a TypeError) is left to Temporal's
// default and fails the workflow *task*, which is retried until a fixed worker is deployed, so
// a saga never drops the compensations it owes; invalid input and business refusals are
// ApplicationFailures and close the workflow. Inside the saga's steps an error of any kind
// sends it down its compensation path (order-saga.workflow.ts).
import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { createOrderWorker } from '../temporal/order-worker';

jest.setTimeout(90_000);
Runtime.install({ logger: new DefaultLogger('ERROR') });
const { EventType } = temporal.api.enums.v1;

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.close();
});

test('a bug retries the workflow task (the saga stays open); a refusal fails the workflow', async () => {
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../test/fixtures/buggy-saga'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const taskQueue = `buggy-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await createOrderWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    store: database.store,
    dbPoolMax: 20,
    workflowBundle: { code },
  });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  await worker.runUntil(async () => {
    const bug = await client.workflow.start('buggyWorkflow', {
      workflowId: `buggy-${randomUUID()}`,
      taskQueue,
      args: ['bug'],
    });
    // The task is retried: the workflow stays open, the failure is in its history once.
    const attempt = await eventually(
      async () => {
        const raw = (await bug.describe()).raw;
        const n = raw.pendingWorkflowTask?.attempt ?? 0;
        return n >= 2 ? n : undefined;
      },
      30_000,
      'a second attempt of the workflow task',
    );
    expect(attempt).toBeGreaterThanOrEqual(2);
    expect((await bug.describe()).status.name).toBe('RUNNING');
    const events = (await bug.fetchHistory()).events ?? [];
    const failed = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
    expect(failed?.workflowTaskFailedEventAttributes?.failure?.message).toMatch(
      /Cannot read properties of undefined/,
    );
    await bug.terminate('test over');

    const refusal = await client.workflow.start('buggyWorkflow', {
      workflowId: `refusal-${randomUUID()}`,
      taskQueue,
      args: ['refusal'],
    });
    const err = await refusal.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'REFUSED' });
  });
  await connection.close();
  await nativeConnection.close();
});
