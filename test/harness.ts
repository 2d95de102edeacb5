// Helpers for integration tests: a fresh database per test file (a copy of the migrated
// template), and a worker on its own task queue against the shared Temporal dev server.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import {
  NativeConnection,
  Runtime,
  DefaultLogger,
  type Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import {
  createOrderClient,
  type OrderClient,
  type OrderClientOptions,
} from '../client/order-client';
import type { RetentionPolicy } from '../activities/retention.activities';
import { orderRecordsOf } from '../application/order-creation';
import {
  createDb,
  createEventStore,
  createPool,
  type EventStoreOptions,
  type EventStoreTables,
  type PostgresEventStore,
} from '../eventstore';
import type { ProjectionDb } from '../projections';
import { copyTemplateDatabase } from '../provision/ephemeral';
import { createOrderWorker } from '../temporal/order-worker';
import { bundleOrderWorkflows } from '../temporal/workflow-bundle';

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} is not set: run integration tests through jest (test/global-setup.ts)`,
    );
  return value;
}

/** Connections of a test database's pool, and so a test worker's activity slots. */
const TEST_POOL_MAX = 20;

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  db: Kysely<ProjectionDb>;
  store: TestEventStore;
  close(): Promise<void>;
}

/**
 * The Postgres store with the database it runs on, for checks that read the tables directly
 * (saga-invariants.ts lists every stream, below the log's gap-free bound).
 */
export type TestEventStore = PostgresEventStore & { readonly db: Kysely<EventStoreTables> };

export async function createTestDatabase(
  storeOptions: EventStoreOptions = {},
): Promise<TestDatabase> {
  const url = await copyTemplateDatabase(
    required('TEST_ADMIN_DATABASE_URL'),
    required('TEST_TEMPLATE_DATABASE'),
  );
  const pool = createPool(url, { max: TEST_POOL_MAX, applicationName: 'order-saga-test' });
  const db = createDb<ProjectionDb>(pool);
  const store: TestEventStore = Object.assign(createEventStore(db, storeOptions), {
    db: db as unknown as Kysely<EventStoreTables>,
  });
  return { url, pool, db, store, close: () => db.destroy() };
}

let runtimeInstalled = false;

const bundlesByFailureConverter = new Map<string, Promise<string>>();

/**
 * The run's shared bundle, or, for a data converter with its own failure converter (encrypted
 * failures), a bundle built with it once per test file: a pre-built bundle keeps the converter
 * it was built with, whatever the worker's dataConverter says.
 */
function workflowBundleFor(
  dataConverter: DataConverter | undefined,
): Promise<WorkerOptions['workflowBundle']> {
  const failureConverterPath = dataConverter?.failureConverterPath;
  if (failureConverterPath === undefined)
    return Promise.resolve({ codePath: required('TEST_WORKFLOW_BUNDLE') });
  let code = bundlesByFailureConverter.get(failureConverterPath);
  if (code === undefined) {
    code = bundleOrderWorkflows({ failureConverterPath }).then((bundle) => bundle.code);
    bundlesByFailureConverter.set(failureConverterPath, code);
  }
  return code.then((c) => ({ code: c }));
}

export interface TestWorker {
  client: Client;
  orders: OrderClient;
  taskQueue: string;
  worker: Worker;
  /** The worker's connection: a client on it may ask for eager workflow start. */
  nativeConnection: NativeConnection;
  stop(): Promise<void>;
}

export async function startTestWorker(
  store: PostgresEventStore,
  {
    dataConverter,
    retention,
    workerOptions,
    temporalAddress,
    ...options
  }: Partial<OrderClientOptions> & {
    /** Another Temporal server than the run's shared one (a test that needs its own settings). */
    temporalAddress?: string;
    /** Further Worker options, e.g. a short heartbeat throttle to watch heartbeats. */
    workerOptions?: Partial<WorkerOptions>;
    /** For the worker and the client (e.g. createDataConverter with a key). */
    dataConverter?: DataConverter;
    retention?: RetentionPolicy;
  } = {},
): Promise<TestWorker> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const address = temporalAddress ?? required('TEST_TEMPORAL_ADDRESS');
  const taskQueue = `test-${randomUUID()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await createOrderWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    store,
    dbPoolMax: TEST_POOL_MAX,
    workflowBundle: await workflowBundleFor(dataConverter),
    dataConverter,
    retention,
    workerOptions,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default', dataConverter });
  const orders = createOrderClient(client, {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 10_000,
    // As bootstrap.ts composes it: a reused order id is judged by the event store.
    orderRecords: orderRecordsOf(store),
    ...options,
  });
  return {
    client,
    orders,
    taskQueue,
    worker,
    nativeConnection,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** Polls until `check` returns a value other than undefined, or fails after timeoutMs. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Makes every write of `eventType` (to `aggregateId`, or to any aggregate) fail with `message`
 * until the returned function runs: a real Postgres refusal, for the saga's failure paths.
 */
export async function refuseWrites(
  pool: pg.Pool,
  eventType: string,
  aggregateId?: string,
  message = `${eventType} refused by the test`,
): Promise<() => Promise<void>> {
  const name = `refuse_${randomUUID().replace(/-/g, '')}`;
  const target = aggregateId === undefined ? '' : ` AND NEW.aggregate_id = '${aggregateId}'`;
  await pool.query(`
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.event_type = '${eventType}'${target} THEN RAISE EXCEPTION '${message}'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER ${name} BEFORE INSERT ON domain_events
      FOR EACH ROW EXECUTE FUNCTION ${name}();`);
  return async () => {
    await pool.query(`DROP TRIGGER ${name} ON domain_events`);
  };
}
