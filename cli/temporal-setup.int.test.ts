// `npm run temporal-setup` against the real dev server: the namespace ends with the saga's
// search attributes and this task queue's retention Schedule, and running it again is a no-op.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { retentionScheduleId } from '../temporal/retention-schedule';

jest.setTimeout(60_000);

test('provisions search attributes and the retention schedule, idempotently', async () => {
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  const taskQueue = `setup-test-${process.pid}`;
  const run = () =>
    execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'temporal-setup.ts')], {
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue },
      encoding: 'utf8',
    });
  expect(run()).toContain(`schedule ${retentionScheduleId(taskQueue)} ensured`);
  expect(run()).toContain('search attributes registered');

  const connection = await Connection.connect({ address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({
      namespace: 'default',
    });
    expect(Object.keys(customAttributes ?? {})).toEqual(
      expect.arrayContaining(['CustomerId', 'OrderStatus', 'OrderTotalCents']),
    );
    const handle = new Client({ connection }).schedule.getHandle(retentionScheduleId(taskQueue));
    expect((await handle.describe()).action).toMatchObject({
      workflowType: 'eventStoreRetention',
      taskQueue,
    });
    await handle.delete();
  } finally {
    await connection.close();
  }
});
