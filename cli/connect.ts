// How the CLI commands reach a running stack: the configured services, or the embedded ones
// that `npm start` runs on their default ports.
import { Client, Connection } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Config } from '../config';
import { createDb, createEventStore, createPool, eventStoreOptionsFromConfig } from '../eventstore';
import type { ProjectionDb } from '../projections';
import { temporalConnectionOptions } from '../temporal/connection';
import { openKeys } from '../keys/open-keys';
import { createDataConverter, type DataConverterSettings } from '../temporal/data-converter';

export function stackDatabaseUrl(config: Config): string {
  return (
    config.databaseUrl ??
    `postgres://postgres:postgres@127.0.0.1:${config.embeddedPostgresPort}/orders`
  );
}

export function temporalUiUrl(config: Config, workflowId?: string): string {
  const base = config.temporal.address
    ? 'http://localhost:8080'
    : `http://localhost:${config.temporal.uiPort}`;
  const ns = encodeURIComponent(config.temporal.namespace);
  return workflowId ? `${base}/namespaces/${ns}/workflows/${encodeURIComponent(workflowId)}` : base;
}

/** `keys`: the data converter settings, with the data keys in place (connectDatabase's `keyed`). */
export async function connectTemporal(
  config: Config,
  keys: DataConverterSettings,
): Promise<Client> {
  const options = temporalConnectionOptions(config.temporal);
  try {
    const connection = await Connection.connect({ ...options, connectTimeout: 3000 });
    return new Client({
      connection,
      namespace: config.temporal.namespace,
      dataConverter: createDataConverter(keys),
    });
  } catch {
    throw new Error(`cannot reach Temporal at ${options.address}: is \`npm start\` running?`);
  }
}

export async function connectDatabase(config: Config) {
  const url = stackDatabaseUrl(config);
  const pool = createPool(url, { max: 2, applicationName: 'order-saga-cli' });
  try {
    await pool.query('SELECT 1');
  } catch {
    await pool.end();
    throw new Error(`cannot reach Postgres at ${new URL(url).host}: is \`npm start\` running?`);
  }
  const db = createDb<ProjectionDb>(pool);
  try {
    const keys = await openKeys(db, config.eventStore);
    const keyed = keys.withKeys(config.eventStore);
    return {
      db,
      keys,
      /** config.eventStore with the data keys in place: for eventStoreOptionsFromConfig, connectTemporal. */
      keyed,
      store: createEventStore(db, eventStoreOptionsFromConfig(keyed)),
      close: () => db.destroy(),
    };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}

/** An event store on `db` that reads and writes with the data keys (keys/open-keys.ts). */
export async function keyedEventStore(db: Kysely<any>, config: Config) {
  const keys = await openKeys(db, config.eventStore);
  return createEventStore(db, eventStoreOptionsFromConfig(keys.withKeys(config.eventStore)));
}

/** Runs a command's action, printing its error as one line and exiting non-zero. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
      process.exit(0);
    } catch (err) {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
  };
}
