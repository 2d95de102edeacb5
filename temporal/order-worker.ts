// The saga's Temporal worker: the workflows (the build's bundle, or bundled now) and the
// activities over an event store. bootstrap.ts gives it its connection and store.
import fs from 'node:fs';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createOrderActivities } from '../activities/order.activities';
import {
  createRetentionActivities,
  type RetentionPolicy,
} from '../activities/retention.activities';
import type { PostgresEventStore } from '../eventstore';

/**
 * Where `npm run build` puts the workflow bundle: at the top of dist/. Run from
 * source (tsx) there is none, and the worker bundles workflows/ when it starts.
 */
export const PREBUILT_WORKFLOW_BUNDLE = path.join(__dirname, '..', 'workflow-bundle.js');

export interface OrderWorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  store: PostgresEventStore;
  /** AGGREGATE_CACHE_SIZE for the order activities (default 10,000; 0: off). */
  aggregateCacheSize?: number;
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
      ...createOrderActivities({ store: deps.store, aggregateCacheSize: deps.aggregateCacheSize }),
      ...createRetentionActivities({
        store: deps.store,
        policy: deps.retention ?? { eventsDays: 365, snapshotsDays: 90, archive: true },
      }),
    },
    dataConverter: deps.dataConverter,
    maxConcurrentActivityTaskExecutions: deps.maxConcurrentActivityTaskExecutions ?? 100,
    // On SIGTERM, a saga step in flight (10 s start-to-close) gets the time to finish before
    // it is cancelled.
    shutdownGraceTime: '15 seconds',
    ...deps.workerOptions,
  });
}

function workflowSource(
  bundle: WorkerOptions['workflowBundle'],
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (bundle) return { workflowBundle: bundle };
  if (fs.existsSync(PREBUILT_WORKFLOW_BUNDLE))
    return { workflowBundle: { codePath: PREBUILT_WORKFLOW_BUNDLE } };
  return { workflowsPath: require.resolve('../workflows') };
}
