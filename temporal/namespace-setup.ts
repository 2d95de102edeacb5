// Provisioning of a Temporal namespace for the saga, once per release (`npm run
// temporal-setup`) or at `npm start`: the search attributes where missing (an admin right) and
// the daily retention Schedule, created or brought up to date.
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { ensureSearchAttributes } from '../provision/temporal';
import { temporalConnectionOptions } from './connection';
import { createDataConverter } from './data-converter';
import { ensureRetentionSchedule } from './retention-schedule';

/** Returns the retention Schedule's id. */
export async function setupNamespace(config: Config, address?: string): Promise<string> {
  const { namespace, taskQueue } = config.temporal;
  const connection = await Connection.connect(
    temporalConnectionOptions({ ...config.temporal, address: address ?? config.temporal.address }),
  );
  try {
    await ensureSearchAttributes(connection, namespace);
    const client = new Client({
      connection,
      namespace,
      dataConverter: createDataConverter(config.eventStore),
    });
    return await ensureRetentionSchedule(client, { taskQueue });
  } finally {
    await connection.close();
  }
}
