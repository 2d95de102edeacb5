// The saga's Temporal worker: the workflows (the build's bundle, or bundled now) and the
// activities over an event store. bootstrap.ts gives it its connection and store.
import fs from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createOrderActivities } from '../activities/order.activities';
import type { PersonalData } from '../keys/personal-data';
import {
  createRetentionActivities,
  type RetentionPolicy,
} from '../activities/retention.activities';
import type pg from 'pg';
import { createPool, type PostgresEventStore } from '../eventstore';
import { activeTracing } from '../observability/tracing';
import {
  ORDER_WORKFLOWS_PATH,
  prebuiltBundlePath,
  WORKFLOW_PRELOAD_MODULES,
} from './workflow-bundle';
import { type DeploymentSettings, workerDeploymentOptions } from './worker-deployment';

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
  store: PostgresEventStore;
  /** Connections of the store's pool: the default and the upper bound of activity slots. */
  dbPoolMax: number;
  /** AGGREGATE_CACHE_SIZE for the order activities (default 10,000; 0: off). */
  aggregateCacheSize?: number;
  /**
   * A pre-built bundle (tests bundle once per run); else the build's for this configuration,
   * else workflows/ now. A pre-built bundle keeps the failure converter and interceptors it was
   * built with (temporal/workflow-bundle.ts): build it with the data converter's
   * failureConverterPath when payloads are encrypted, or workflow failures go out in clear.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /**
   * Activity slots; default and upper bound: the connections of the store's pool, so no
   * activity queues for a connection behind another one's slot. Local activities get as many.
   */
  maxConcurrentActivityTaskExecutions?: number;
  /** Where the retention activity runs (default: `store`); see createWorkerPools. */
  retentionStore?: PostgresEventStore;
  /** Encrypts Temporal payloads when a key is configured (createDataConverter). */
  dataConverter?: DataConverter;
  /** Opens sealed shipping addresses (keys/personal-data.ts) when a key is configured. */
  personalData?: PersonalData;
  /** RETENTION_* for the retention activity (default: 365/90/archive, the documented defaults). */
  retention?: RetentionPolicy;
  /**
   * The Worker Deployment it joins (temporal/worker-deployment.ts); unset: an unversioned
   * worker, as tests run them.
   */
  deployment?: DeploymentSettings;
  /** Further Worker options, e.g. a short stickyQueueScheduleToStartTimeout in crash tests. */
  workerOptions?: Partial<WorkerOptions>;
}

/** Activity slots for a worker whose pool has `poolMax` connections: as many, never more. */
export function activitySlotsFor(poolMax: number, requested?: number): number {
  const slots = requested ?? poolMax;
  if (slots > poolMax)
    throw new Error(
      `maxConcurrentActivityTaskExecutions (${slots}) is larger than the event store's pool ` +
        `(${poolMax} connections): activities would queue for connections inside their timeout`,
    );
  return slots;
}

/**
 * Workflow code runs as the SDK runs it by default: on a workflow thread of its own, in its
 * reusable V8 context, each activation under the SDK's isolate timeout. A workflow that loops
 * without awaiting fails its workflow task after that timeout (the server retries the task,
 * the saga stays where it was), while activities, heartbeats and the API on the main thread go
 * on and SIGTERM still stops the worker (docs/operations.md#a-workflow-stuck-in-a-loop).
 */
export function createOrderWorker(deps: OrderWorkerDeps): Promise<Worker> {
  const slots = activitySlotsFor(deps.dbPoolMax, deps.maxConcurrentActivityTaskExecutions);
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...workflowSource(deps.workflowBundle, deps.dataConverter),
    activities: {
      ...createOrderActivities({
        store: deps.store,
        aggregateCacheSize: deps.aggregateCacheSize,
        personalData: deps.personalData,
      }),
      ...createRetentionActivities({
        store: deps.retentionStore ?? deps.store,
        policy: deps.retention ?? { eventsDays: 365, snapshotsDays: 90, archive: true },
      }),
    },
    dataConverter: deps.dataConverter,
    maxConcurrentActivityTaskExecutions: slots,
    maxConcurrentLocalActivityExecutions: slots,
    // OpenTelemetry interceptors for workflows and activities, only when tracing is on.
    plugins: activeTracing()?.workerPlugins,
    // On SIGTERM, a saga step in flight (10 s start-to-close) gets the time to finish before
    // it is cancelled.
    shutdownGraceTime: '15 seconds',
    ...(deps.deployment
      ? { workerDeploymentOptions: workerDeploymentOptions(deps.deployment) }
      : {}),
    ...deps.workerOptions,
  });
}

/**
 * The build's bundle for this worker's configuration: with the data converter's failure
 * converter (encrypted failures) and tracing's workflow interceptors when they are on. Run
 * from source (tsx) there is none, and the worker bundles workflows/ when it starts.
 */
export function prebuiltWorkflowBundle(dataConverter?: DataConverter): string | null {
  const bundle = prebuiltBundlePath({
    failureConverterPath: dataConverter?.failureConverterPath,
    tracing: activeTracing() !== undefined,
  });
  return fs.existsSync(bundle) ? bundle : null;
}

function workflowSource(
  bundle: WorkerOptions['workflowBundle'],
  dataConverter: DataConverter | undefined,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions'> {
  if (bundle) return { workflowBundle: bundle };
  const prebuilt = prebuiltWorkflowBundle(dataConverter);
  if (prebuilt) return { workflowBundle: { codePath: prebuilt } };
  return {
    workflowsPath: ORDER_WORKFLOWS_PATH,
    bundlerOptions: { preloadModules: WORKFLOW_PRELOAD_MODULES },
  };
}
