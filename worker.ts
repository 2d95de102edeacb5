// Temporal worker composition root: pool -> event store -> activities -> Worker.
// `npm run worker` runs one on its own (more of them scale the saga horizontally).
// First: tracing (when configured) must patch pg before anything loads it.
import './observability/tracing-register';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createOrderActivities } from './activities/order.activities';
import { createRetentionActivities, type RetentionPolicy } from './activities/retention.activities';
import { loadConfigOrExit } from './config';
import {
  createDb,
  createEventStore,
  createPool,
  eventStoreOptionsFromConfig,
  type EventStore,
  type EventStoreTables,
} from './eventstore';
import { createLogger } from './logger';
import { installTemporalRuntime } from './observability/temporal-runtime';
import { activeTracing } from './observability/tracing';
import { ensureSearchAttributes } from './provision/temporal';
import { createDataConverter } from './temporal/data-converter';
import { ensureRetentionSchedule } from './temporal/retention-schedule';

export interface OrderWorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  store: EventStore;
  /** A pre-built bundle (tests bundle once per run); otherwise workflows/ is bundled now. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxConcurrentActivityTaskExecutions?: number;
  /** Encrypts Temporal payloads when a key is configured (createDataConverter). */
  dataConverter?: DataConverter;
  /** RETENTION_* for the retention activity (default: the SPEC's 365/90/archive). */
  retention?: RetentionPolicy;
  /** Further Worker options, e.g. a short stickyQueueScheduleToStartTimeout in crash tests. */
  workerOptions?: Partial<WorkerOptions>;
}

export function createOrderWorker(deps: OrderWorkerDeps): Promise<Worker> {
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
        store: deps.store,
        policy: deps.retention ?? { eventsDays: 365, snapshotsDays: 90, archive: true },
      }),
    },
    dataConverter: deps.dataConverter,
    maxConcurrentActivityTaskExecutions: deps.maxConcurrentActivityTaskExecutions ?? 100,
    // OpenTelemetry interceptors for workflows and activities, only when tracing is on.
    plugins: activeTracing()?.workerPlugins,
    ...deps.workerOptions,
  });
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'worker');
  // The SDK's Prometheus metrics (schedule-to-start, slots...) when TEMPORAL_METRICS_ADDRESS is set.
  installTemporalRuntime({ metricsAddress: config.temporal.metricsAddress, logLevel: 'INFO' });
  if (!config.databaseUrl) throw new Error('npm run worker needs DATABASE_URL (or DB_HOST)');
  const pool = createPool(config.databaseUrl, { applicationName: 'order-saga-worker', max: 20 });
  const store = createEventStore(
    createDb<EventStoreTables>(pool),
    eventStoreOptionsFromConfig(config.eventStore),
  );
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
    dataConverter,
    retention: config.retention,
  });
  log.info({ taskQueue: config.temporal.taskQueue }, 'worker started');
  await worker.run(); // returns after SIGINT/SIGTERM once in-flight tasks finish
  await connection.close();
  await pool.end();
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
