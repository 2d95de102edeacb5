// Temporal worker composition root: pool -> event store -> activities -> Worker.
// `npm run worker` runs one on its own (more of them scale the saga horizontally).
import { Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createOrderActivities } from './activities/order.activities';
import { loadConfigOrExit } from './config';
import {
  createDb,
  createEventStore,
  createPool,
  type EventStore,
  type EventStoreTables,
} from './eventstore';
import { createLogger } from './logger';
import { ensureSearchAttributes } from './provision/temporal';

export interface OrderWorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  store: EventStore;
  /** A pre-built bundle (tests bundle once per run); otherwise workflows/ is bundled now. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxConcurrentActivityTaskExecutions?: number;
}

export function createOrderWorker(deps: OrderWorkerDeps): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle
      ? { workflowBundle: deps.workflowBundle }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: createOrderActivities({ store: deps.store }),
    maxConcurrentActivityTaskExecutions: deps.maxConcurrentActivityTaskExecutions ?? 100,
  });
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'worker');
  if (!config.databaseUrl) throw new Error('npm run worker needs DATABASE_URL (or DB_HOST)');
  const pool = createPool(config.databaseUrl, { applicationName: 'order-saga-worker', max: 20 });
  const store = createEventStore(createDb<EventStoreTables>(pool));
  const address = config.temporal.address ?? '127.0.0.1:7233';
  // A cluster that lacks the saga's search attributes gets them now (the dev server has them).
  const admin = await Connection.connect({ address });
  await ensureSearchAttributes(admin, config.temporal.namespace);
  await admin.close();
  const connection = await NativeConnection.connect({ address });
  const worker = await createOrderWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    store,
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
