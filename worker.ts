// Temporal worker composition root: pool -> event store -> activities -> Worker.
// `npm run worker` runs one on its own (more of them scale the saga horizontally).
import fs from 'node:fs';
import path from 'node:path';
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
import { temporalConnectionOptions } from './temporal/connection';
import { createDataConverter } from './temporal/data-converter';

/**
 * Where `npm run build` puts the workflow bundle: beside the compiled worker (dist/). Run from
 * source (tsx) there is none, and the worker bundles workflows/ when it starts.
 */
export const PREBUILT_WORKFLOW_BUNDLE = path.join(__dirname, 'workflow-bundle.js');

export interface OrderWorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  store: EventStore;
  /** A pre-built bundle (tests bundle once per run); else the build's, else workflows/ now. */
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
    ...workflowSource(deps.workflowBundle),
    activities: {
      ...createOrderActivities({ store: deps.store }),
      ...createRetentionActivities({
        store: deps.store,
        policy: deps.retention ?? { eventsDays: 365, snapshotsDays: 90, archive: true },
      }),
    },
    dataConverter: deps.dataConverter,
    maxConcurrentActivityTaskExecutions: deps.maxConcurrentActivityTaskExecutions ?? 100,
    ...deps.workerOptions,
  });
}

function workflowSource(
  bundle: WorkerOptions['workflowBundle'],
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (bundle) return { workflowBundle: bundle };
  if (fs.existsSync(PREBUILT_WORKFLOW_BUNDLE))
    return { workflowBundle: { codePath: PREBUILT_WORKFLOW_BUNDLE } };
  return { workflowsPath: require.resolve('./workflows') };
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'worker');
  if (!config.databaseUrl) throw new Error('npm run worker needs DATABASE_URL (or DB_HOST)');
  const pool = createPool(config.databaseUrl, { applicationName: 'order-saga-worker', max: 20 });
  const store = createEventStore(
    createDb<EventStoreTables>(pool),
    eventStoreOptionsFromConfig(config.eventStore),
  );
  const dataConverter = createDataConverter(config.eventStore);
  // Search attributes and the retention Schedule are provisioned once, by
  // `npm run temporal-setup` (or `npm start`), not at every worker start.
  const connectionOptions = temporalConnectionOptions(config.temporal);
  const connection = await NativeConnection.connect(connectionOptions);
  const worker = await createOrderWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    store,
    dataConverter,
    retention: config.retention,
  });
  const prebuilt = fs.existsSync(PREBUILT_WORKFLOW_BUNDLE) ? PREBUILT_WORKFLOW_BUNDLE : null;
  log.info({ taskQueue: config.temporal.taskQueue, workflowBundle: prebuilt }, 'worker started');
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
