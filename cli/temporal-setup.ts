// `npm run temporal-setup`: one-shot provisioning of the Temporal namespace, beside
// `npm run migrate`: registers the saga's search attributes (an admin right, which a worker's
// credentials need not carry) and creates or updates the daily retention Schedule.
import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit } from '../config';
import { ensureSearchAttributes } from '../provision/temporal';
import { temporalConnectionOptions } from '../temporal/connection';
import { createDataConverter } from '../temporal/data-converter';
import { ensureRetentionSchedule } from '../temporal/retention-schedule';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const { namespace, taskQueue } = config.temporal;
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  try {
    await ensureSearchAttributes(connection, namespace);
    const client = new Client({
      connection,
      namespace,
      dataConverter: createDataConverter(config.eventStore),
    });
    const scheduleId = await ensureRetentionSchedule(client, { taskQueue });
    process.stdout.write(
      `Namespace ${namespace}: search attributes registered; schedule ${scheduleId} ensured\n`,
    );
  } finally {
    await connection.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
