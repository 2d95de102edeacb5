// Provisioning of a Temporal namespace for the saga, once per release (`npm run
// temporal-setup`) or at `npm start`: the search attributes where missing (an admin right) and
// the daily retention Schedule, created or brought up to date.
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { ensureSearchAttributes } from '../provision/temporal';
import { temporalConnectionOptions } from './connection';
import { ensureRetentionSchedule } from './retention-schedule';

/** Returns the retention Schedule's id. */
export async function setupNamespace(config: Config, address?: string): Promise<string> {
  const { namespace, taskQueue } = config.temporal;
  const connection = await Connection.connect(
    temporalConnectionOptions({ ...config.temporal, address: address ?? config.temporal.address }),
  );
  try {
    await ensureSearchAttributes(connection, namespace);
    // The Schedule's only argument is an empty object, so it is stored as plain JSON: setup runs
    // before the database (and its data keys) may exist, and the master key encrypts nothing
    // but data keys. Workers read plain payloads as they are.
    const client = new Client({ connection, namespace });
    return await ensureRetentionSchedule(client, { taskQueue });
  } finally {
    await connection.close();
  }
}
