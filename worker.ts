// Temporal worker composition root: pool -> event store -> activities -> Worker.
// `npm run worker` runs one on its own (more of them scale the saga horizontally).
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createOrderActivities } from './activities/order.activities';
import { createRetentionActivities, type RetentionPolicy } from './activities/retention.activities';
import { loadConfigOrExit } from './config';
import type pg from 'pg';
import {
  createDb,
  createEventStore,
  createPool,
  eventStoreOptionsFromConfig,
  type EventStore,
  type EventStoreTables,
} from './eventstore';
import { poolOf } from './eventstore/db';
import { createLogger } from './logger';
import { ensureSearchAttributes } from './provision/temporal';
import { createDataConverter } from './temporal/data-converter';
import { ensureRetentionSchedule } from './temporal/retention-schedule';

/**
 * The saga's activities time out after 10 s (startToCloseTimeout in
 * workflows/order-saga.workflow.ts). Every wait on Postgres ends well before that, so a slow
 * attempt fails and is retried instead of timing out while its query still holds a connection
 * and its retry queues behind it.
 */
export const WORKER_DB_TIMEOUTS = {
  /** For a connection, from the pool or a new one. */
  connectionTimeoutMs: 3_000,
  /** Postgres statement_timeout: the server cancels the statement. */
  statementTimeoutMs: 5_000,
  /** pg's query_timeout: a server that never answers (above statement_timeout, which wins). */
  queryTimeoutMs: 7_000,
} as const;

/**
 * Retention's archive batches can scan more than a saga step: they run on a small pool of
 * their own with a longer statement limit, still below the retention activity's heartbeat
 * timeout (2 minutes, workflows/retention.workflow.ts).
 */
export const RETENTION_STATEMENT_TIMEOUT_MS = 60_000;

/** The worker's pools: activities on `pool` (WORKER_DB_POOL_MAX), retention on its own. */
export function createWorkerPools(
  url: string,
  poolMax: number,
): { pool: pg.Pool; retentionPool: pg.Pool } {
  return {
    pool: createPool(url, {
      applicationName: 'order-saga-worker',
      max: poolMax,
      ...WORKER_DB_TIMEOUTS,
    }),
    retentionPool: createPool(url, {
      applicationName: 'order-saga-retention',
      max: 2,
      connectionTimeoutMs: WORKER_DB_TIMEOUTS.connectionTimeoutMs,
      statementTimeoutMs: RETENTION_STATEMENT_TIMEOUT_MS,
      queryTimeoutMs: RETENTION_STATEMENT_TIMEOUT_MS + 5_000,
    }),
  };
}

export interface OrderWorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  store: EventStore;
  /**
   * A pre-built bundle (tests bundle once per run); otherwise workflows/ is bundled now. A
   * pre-built bundle keeps the failure converter it was built with: build it with the data
   * converter's failureConverterPath when payloads are encrypted, or workflow failures go out
   * in clear.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /**
   * Activity slots; default and upper bound: the connections of the store's pool, so no
   * activity queues for a connection behind another one's slot. Local activities get as many.
   */
  maxConcurrentActivityTaskExecutions?: number;
  /** Where the retention activity runs (default: `store`); see createWorkerPools. */
  retentionStore?: EventStore;
  /** Encrypts Temporal payloads when a key is configured (createDataConverter). */
  dataConverter?: DataConverter;
  /** RETENTION_* for the retention activity (default: the SPEC's 365/90/archive). */
  retention?: RetentionPolicy;
  /** Further Worker options, e.g. a short stickyQueueScheduleToStartTimeout in crash tests. */
  workerOptions?: Partial<WorkerOptions>;
}

/** Activity slots for a worker on this store: its pool's size, never more. */
export function activitySlotsFor(store: EventStore, requested?: number): number {
  const poolMax = (poolOf(store.db) as { options?: { max?: number } } | undefined)?.options?.max;
  const slots = requested ?? poolMax ?? 10;
  if (poolMax !== undefined && slots > poolMax)
    throw new Error(
      `maxConcurrentActivityTaskExecutions (${slots}) is larger than the event store's pool ` +
        `(${poolMax} connections): activities would queue for connections inside their timeout`,
    );
  return slots;
}

export function createOrderWorker(deps: OrderWorkerDeps): Promise<Worker> {
  const slots = activitySlotsFor(deps.store, deps.maxConcurrentActivityTaskExecutions);
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle
      ? { workflowBundle: deps.workflowBundle }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: {
      ...createOrderActivities({ store: deps.store }),
      ...createRetentionActivities({
        store: deps.retentionStore ?? deps.store,
        policy: deps.retention ?? { eventsDays: 365, snapshotsDays: 90, archive: true },
      }),
    },
    dataConverter: deps.dataConverter,
    maxConcurrentActivityTaskExecutions: slots,
    maxConcurrentLocalActivityExecutions: slots,
    ...deps.workerOptions,
  });
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'worker');
  if (!config.databaseUrl) throw new Error('npm run worker needs DATABASE_URL (or DB_HOST)');
  const { pool, retentionPool } = createWorkerPools(config.databaseUrl, config.workerDbPoolMax);
  const storeOptions = eventStoreOptionsFromConfig(config.eventStore);
  const store = createEventStore(createDb<EventStoreTables>(pool), storeOptions);
  const retentionStore = createEventStore(createDb<EventStoreTables>(retentionPool), storeOptions);
  const dataConverter = createDataConverter(config.eventStore);
  const address = config.temporal.address ?? '127.0.0.1:7233';
  // A cluster that lacks the saga's search attributes gets them now (the dev server has them).
  const admin = await Connection.connect({ address });
  await ensureSearchAttributes(admin, config.temporal.namespace);
  await ensureRetentionSchedule(
    new Client({ connection: admin, namespace: config.temporal.namespace, dataConverter }),
    { taskQueue: config.temporal.taskQueue },
  );
  await admin.close();
  const connection = await NativeConnection.connect({ address });
  const worker = await createOrderWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    store,
    retentionStore,
    dataConverter,
    retention: config.retention,
  });
  log.info({ taskQueue: config.temporal.taskQueue }, 'worker started');
  await worker.run(); // returns after SIGINT/SIGTERM once in-flight tasks finish
  await connection.close();
  await Promise.all([pool.end(), retentionPool.end()]);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
