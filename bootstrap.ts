// The one composition root: builds what a process runs from the configuration (pools, the event
// store, the data converter, Temporal connections, then the pieces) and stops it in reverse.
// `npm start` runs every piece in one process; `npm run worker`, `api` and `projector` run one
// each. A failure halfway through start-up stops what had already started.
import type { Server } from 'node:http';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import { createApp } from './api/app';
import { createOpsPage } from './api/ops/ops-page';
import { codecRoutesFor } from './api/codec-server';
import { orderRecordsOf } from './application/order-creation';
import { temporalUiUrl } from './cli/connect';
import { createOrderClient, type OrderClient } from './client/order-client';
import type { Config } from './config';
import {
  assertServerCanHonour,
  assertWithinBudget,
  bootstrapPoolMax,
  plannedConnections,
} from './connection-budget';
import {
  closeDb,
  createDb,
  createEventStore,
  createPool,
  eventStoreOptionsFromConfig,
  type EventStore,
} from './eventstore';
import { migrateToLatest } from './migrations';
import { createChangeFeed } from './monitors/change-feed';
import { startCompensationFailedGauge } from './monitors/compensation-failed-gauge';
import { startLongRunningSagasGauge } from './monitors/long-running-sagas-gauge';
import { registerProjectionGauges } from './monitors/projection-gauges';
import { createMetrics } from './observability/metrics';
import { startWorkerLiveness } from './observability/worker-liveness';
import { activeTracing } from './observability/tracing';
import { allProjections, ProjectionRunner, type ProjectionDb } from './projections';
import { temporalConnectionOptions } from './temporal/connection';
import { createDataConverter } from './temporal/data-converter';
import { openKeys } from './keys/open-keys';
import { forgetCustomerWith } from './keys/forget-customer';
import { installTemporalRuntime } from './temporal/runtime';
import { claimCurrentVersion, deploymentVersion } from './temporal/worker-deployment';
import {
  createOrderWorker,
  createWorkerPools,
  prebuiltWorkflowBundle,
} from './temporal/order-worker';

export type Piece = 'worker' | 'projector' | 'api';

export interface StartOptions {
  pieces: readonly Piece[];
  /** Overrides of the configured endpoints (npm start's embedded Postgres and dev server). */
  databaseUrl?: string;
  readDatabaseUrl?: string;
  temporalAddress?: string;
  /** Apply pending migrations first (npm start; a deployment runs `npm run migrate`). */
  migrate?: boolean;
  /** Runs once the store exists, before any piece starts (npm start seeds the demo catalog). */
  beforePieces?: (store: EventStore) => Promise<void>;
  /** Interface the HTTP API listens on (default: all). */
  host?: string;
  /**
   * Make this worker's version its deployment's current one even when another is (npm start:
   * the only worker there is). Without it, a worker makes itself current only where no version
   * is yet (temporal/worker-deployment.ts).
   */
  forceCurrentVersion?: boolean;
}

export interface Running {
  store: EventStore;
  db: Kysely<ProjectionDb>;
  /** The saga client, when the API runs here. */
  orders: OrderClient | undefined;
  /** The HTTP API's port, when it runs here. */
  port: number | undefined;
  /** Stops every piece, then the connections and pools, in reverse order of start. */
  stop(): Promise<void>;
}

/** Undo steps, run last-in first-out; one that fails is logged and the rest still run. */
class ShutdownSequence {
  private readonly steps: { name: string; run: () => Promise<unknown> }[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log: Logger) {}

  push(name: string, run: () => Promise<unknown>): void {
    this.steps.push({ name, run });
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.run();
        } catch (err) {
          this.log.error({ err, step: step.name }, 'error while stopping');
        }
      }
    })();
    return this.stopping;
  }
}

export async function startPieces(
  config: Config,
  log: Logger,
  options: StartOptions,
): Promise<Running> {
  const has = (piece: Piece) => options.pieces.includes(piece);
  const databaseUrl = options.databaseUrl ?? config.databaseUrl;
  if (!databaseUrl) throw new Error('DATABASE_URL (or DB_HOST) is not set');
  const readDatabaseUrl = options.readDatabaseUrl ?? config.readDatabaseUrl ?? databaseUrl;
  const temporal = temporalConnectionOptions({
    ...config.temporal,
    address: options.temporalAddress ?? config.temporal.address,
  });
  // The most this process can open to DATABASE_URL, refused before anything connects.
  const plan = plannedConnections({
    pieces: options.pieces,
    workerDbPoolMax: config.workerDbPoolMax,
    projections: allProjections.length,
  });
  assertWithinBudget(plan, config.dbConnectionBudget);
  installTemporalRuntime(log, { metricsAddress: config.temporal.metricsAddress });
  const shutdown = new ShutdownSequence(log);
  try {
    const pool = createPool(databaseUrl, {
      applicationName: `order-saga-${options.pieces.join('+')}`,
      max: bootstrapPoolMax(options.pieces),
    });
    const db = createDb<ProjectionDb>(pool);
    shutdown.push('database pool', () => closeDb(db));
    const { rows: server } = await sql<{ usable: number }>`
      SELECT current_setting('max_connections')::int
             - current_setting('superuser_reserved_connections')::int AS usable`.execute(db);
    assertServerCanHonour(config.dbConnectionBudget, server[0]!.usable);
    log.info({ connections: plan.total, budget: config.dbConnectionBudget }, 'connection budget');
    if (options.migrate) await migrateToLatest(db);
    const metrics = createMetrics();
    registerProjectionGauges(metrics.registry, db);
    // With a master key: the data keys (keys/data-key-ring.ts), and personal fields sealed.
    const keys = await openKeys(db, config.eventStore);
    const keyed = keys.withKeys(config.eventStore);
    const storeOptions = eventStoreOptionsFromConfig(keyed, {
      onAppended: metrics.onAppended,
      logger: log,
    });
    const store = createEventStore(db, storeOptions);
    // A database restored from a dump would hide its events from every reader: refuse it.
    await store.assertNotRestored();
    await options.beforePieces?.(store);
    const dataConverter = createDataConverter(keyed);
    // One connection of the core SDK (Rust) for the worker and the client: a grpc-js client
    // cost the main thread ~3 ms of CPU per order (docs/benchmarks.md).
    let connection: NativeConnection | undefined;
    if (has('worker') || has('api')) {
      const opened = await NativeConnection.connect(temporal);
      shutdown.push('Temporal connection', () => opened.close());
      connection = opened;
    }

    if (has('worker')) {
      // Its own pools, sized and timed for its activities (temporal/order-worker.ts).
      const pools = createWorkerPools(databaseUrl, config.workerDbPoolMax);
      const workerDb = createDb<ProjectionDb>(pools.pool);
      const retentionDb = createDb<ProjectionDb>(pools.retentionPool);
      shutdown.push('worker pools', () => Promise.all([closeDb(workerDb), closeDb(retentionDb)]));
      const worker = await createOrderWorker({
        connection: connection!,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        store: createEventStore(workerDb, storeOptions),
        retentionStore: createEventStore(retentionDb, storeOptions),
        dbPoolMax: config.workerDbPoolMax,
        aggregateCacheSize: config.eventStore.aggregateCacheSize,
        dataConverter,
        personalData: keys.personal,
        retention: config.retention,
        deployment: config.temporal.deployment,
      });
      const running = worker.run();
      running.catch((err: unknown) => {
        // A worker that fails on its own (not stopped by us) takes the process down with it.
        log.fatal({ err }, 'worker failed');
        void shutdown.stop().then(() => process.exit(1));
      });
      shutdown.push('worker', async () => {
        // The SDK may already be shutting it down on SIGINT/SIGTERM.
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
      });
      if (config.workerHealthAddress) {
        const liveness = await startWorkerLiveness(worker, config.workerHealthAddress);
        shutdown.push('worker liveness', () => liveness.close());
        log.info({ address: liveness.address }, 'worker liveness at /livez');
      }
      const version = deploymentVersion(config.temporal.deployment);
      const current =
        config.temporal.deployment.versioning &&
        (await claimCurrentVersion(
          new Client({ connection: connection!, namespace: config.temporal.namespace }),
          version,
          { force: options.forceCurrentVersion },
        ));
      log.info(
        {
          taskQueue: config.temporal.taskQueue,
          workflowBundle: prebuiltWorkflowBundle(dataConverter),
          deployment: config.temporal.deployment.versioning ? version : 'unversioned',
          current,
        },
        'worker started',
      );
      if (current === false)
        log.warn(
          { deployment: version },
          "this worker's version is not its deployment's current one: new sagas go to the " +
            'current version until it is promoted (docs/operations.md#releasing-new-saga-code)',
        );
    }

    if (has('projector')) {
      const runner = new ProjectionRunner({
        databaseUrl,
        store,
        projections: allProjections,
        logger: log.child({ component: 'projections' }),
        onBatch: metrics.onBatch,
      });
      await runner.start();
      shutdown.push('projection runner', () => runner.stop());
      log.info('projection runner started');
    }

    let orders: OrderClient | undefined;
    let port: number | undefined;
    if (has('api')) {
      const client = new Client({
        connection: connection!,
        namespace: config.temporal.namespace,
        dataConverter,
        interceptors: activeTracing()?.clientInterceptors,
      });
      orders = createOrderClient(client, {
        taskQueue: config.temporal.taskQueue,
        paymentConfirmationThresholdCents: config.payment.confirmationThresholdCents,
        paymentConfirmationTimeoutMs: config.payment.confirmationTimeoutMs,
        useLocalActivities: config.sagaLocalActivities,
        // The worker polls on this same connection: the saga's first task comes back in the
        // start call's answer instead of through matching (eager workflow start).
        eagerStart: has('worker'),
        // A reused order id is judged by the event store, which keeps the order for longer than
        // Temporal keeps its saga.
        orderRecords: orderRecordsOf(store, keys.personal),
        personalData: keys.personal,
      });
      let readDb = db;
      if (readDatabaseUrl !== databaseUrl) {
        const replica = createDb<ProjectionDb>(
          createPool(readDatabaseUrl, { applicationName: 'order-saga-api-reads' }),
        );
        shutdown.push('read pool', () => closeDb(replica));
        readDb = replica;
      }
      const compensationFailed = startCompensationFailedGauge(metrics.registry, client, {
        taskQueue: config.temporal.taskQueue,
        onError: (err) => log.warn({ err }, 'cannot count compensation_failed sagas'),
      });
      shutdown.push('compensation_failed gauge', async () => compensationFailed.stop());
      const longRunning = startLongRunningSagasGauge(metrics.registry, client, {
        taskQueue: config.temporal.taskQueue,
        onError: (err) => log.warn({ err }, 'cannot count long-running sagas'),
      });
      shutdown.push('long-running sagas gauge', async () => longRunning.stop());
      // The operations page (/ops) wakes on the primary's notifications, not a replica's.
      const changes = createChangeFeed(databaseUrl);
      shutdown.push('change feed', () => changes.close());
      const ops = createOpsPage({
        readDb,
        orders,
        temporal: client,
        taskQueue: config.temporal.taskQueue,
        changes,
        sagaUrl: (workflowId) => temporalUiUrl(config, workflowId),
        apiToken: config.apiToken,
        apiReadToken: config.apiReadToken,
        logger: log.child({ component: 'ops' }),
      });
      shutdown.push('operations page', async () => ops.close());
      const app = createApp({
        readDb,
        orders,
        store,
        metrics,
        apiToken: config.apiToken,
        apiReadToken: config.apiReadToken,
        metricsToken: config.metricsToken,
        logger: log.child({ component: 'api' }),
        forgetCustomer: keys.ring && forgetCustomerWith(keys.ring),
        routers: [...codecRoutesFor({ ...config, eventStore: keyed }), ['/ops', ops.router]],
      });
      const server = await new Promise<Server>((resolve, reject) => {
        const s = app.listen(config.port, options.host ?? '0.0.0.0', () => resolve(s));
        s.once('error', reject);
      });
      shutdown.push('http server', () => new Promise((resolve) => server.close(resolve)));
      const address = server.address();
      port = typeof address === 'object' && address ? address.port : config.port;
      log.info({ port }, 'HTTP API listening');
    }

    return { store, db, orders, port, stop: () => shutdown.stop() };
  } catch (err) {
    await shutdown.stop();
    throw err;
  }
}

/** Stops on SIGINT/SIGTERM, then runs `after` (npm start stops its embedded servers there). */
export function stopOnSignals(
  running: Pick<Running, 'stop'>,
  log: Logger,
  after: () => Promise<void> = async () => undefined,
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing the work in flight');
    void running
      .stop()
      .then(after)
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** For entry points: the error as one line, exit code 1. */
export function exitOnError(err: unknown): never {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
