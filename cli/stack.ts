// Brings up the pieces `npm start` runs in one process: infrastructure (Postgres and Temporal,
// embedded when not configured), then migrations, the worker, the projection runner and the API.
import fs from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { createApp } from '../api/app';
import { createOpsPage } from '../api/ops/ops-page';
import { codecRoutesFor } from '../api/codec-server';
import { createOrderClient, type OrderClient } from '../client/order-client';
import type { Config } from '../config';
import {
  createDb,
  createEventStore,
  createPool,
  eventStoreOptionsFromConfig,
  type EventStore,
} from '../eventstore';
import { migrateToLatest } from '../migrations';
import { createChangeFeed } from '../observability/change-feed';
import { startCompensationFailedGauge } from '../observability/compensation-failed-gauge';
import { createMetrics } from '../observability/metrics';
import { activeTracing } from '../observability/tracing';
import { allProjections, ProjectionRunner, type ProjectionDb } from '../projections';
import { startEmbeddedPostgres } from '../provision/postgres';
import {
  ensureSearchAttributes,
  ensureTemporalCli,
  startTemporalDevServer,
} from '../provision/temporal';
import { createDataConverter } from '../temporal/data-converter';
import { ensureRetentionSchedule } from '../temporal/retention-schedule';
import { createOrderWorker } from '../worker';
import { temporalUiUrl } from './connect';

export interface Infrastructure {
  databaseUrl: string;
  readDatabaseUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | undefined;
  stop(): Promise<void>;
}

export async function provisionInfrastructure(
  config: Config,
  log: Logger,
): Promise<Infrastructure> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      log.info({ dir: path.join(config.dataDir, 'postgres') }, 'starting embedded Postgres');
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'postgres'),
        port: config.embeddedPostgresPort,
      });
      stops.push(pg.stop);
      databaseUrl = pg.url;
    }
    let temporalAddress = config.temporal.address;
    let temporalUiUrl: string | undefined;
    if (!temporalAddress) {
      const cli = await ensureTemporalCli(config.temporal.cliPath, (line) => log.info(line));
      log.info({ cli: cli ?? 'SDK download' }, 'starting Temporal dev server');
      const temporal = await startTemporalDevServer({
        cliPath: cli,
        port: 7233,
        uiPort: config.temporal.uiPort,
        // The UI decodes encrypted saga payloads through the API's codec endpoint.
        uiCodecEndpoint: config.eventStore.encryptionKey
          ? `http://localhost:${config.port}/codec`
          : undefined,
        dbFile: path.join(config.dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
        logFile: path.join(config.dataDir, 'temporal.log'),
      });
      stops.push(temporal.stop);
      temporalAddress = temporal.address;
      temporalUiUrl = temporal.uiUrl;
    }
    return {
      databaseUrl,
      readDatabaseUrl: config.readDatabaseUrl ?? databaseUrl,
      temporalAddress,
      temporalUiUrl,
      stop: () => stopAll(stops),
    };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

async function stopAll(stops: (() => Promise<void>)[]): Promise<void> {
  for (const stop of [...stops].reverse()) await stop().catch(() => undefined);
}

export interface Services {
  store: EventStore;
  orders: OrderClient;
  db: Kysely<ProjectionDb>;
  server: Server;
  port: number;
  stop(): Promise<void>;
}

export async function startServices(
  config: Config,
  infra: Infrastructure,
  log: Logger,
  beforeWorker?: (store: EventStore) => Promise<void>,
): Promise<Services> {
  const pool = createPool(infra.databaseUrl, { applicationName: 'order-saga', max: 20 });
  const db = createDb<ProjectionDb>(pool);
  await migrateToLatest(db);
  const metrics = createMetrics({ db });
  const store = createEventStore(
    db,
    eventStoreOptionsFromConfig(config.eventStore, { onAppended: metrics.onAppended }),
  );
  await beforeWorker?.(store);

  const readPool =
    infra.readDatabaseUrl === infra.databaseUrl
      ? pool
      : createPool(infra.readDatabaseUrl, { applicationName: 'order-saga-api' });
  const connection = await Connection.connect({ address: infra.temporalAddress });
  await ensureSearchAttributes(connection, config.temporal.namespace);
  const dataConverter = createDataConverter(config.eventStore);
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter,
    interceptors: activeTracing()?.clientInterceptors,
  });
  await ensureRetentionSchedule(client, { taskQueue: config.temporal.taskQueue });
  const orders = createOrderClient(client, {
    taskQueue: config.temporal.taskQueue,
    paymentConfirmationThresholdCents: config.payment.confirmationThresholdCents,
    paymentConfirmationTimeoutMs: config.payment.confirmationTimeoutMs,
  });

  const workerConnection = await NativeConnection.connect({ address: infra.temporalAddress });
  const worker: Worker = await createOrderWorker({
    connection: workerConnection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    store,
    dataConverter,
    retention: config.retention,
  });
  const workerDone = worker.run();

  const runner = new ProjectionRunner({
    databaseUrl: infra.databaseUrl,
    store,
    readPool: pool,
    projections: allProjections,
    logger: log.child({ component: 'projections' }),
    onBatch: metrics.onBatch,
  });
  await runner.start();

  const readDb = createDb<ProjectionDb>(readPool);
  const compensationFailed = startCompensationFailedGauge(metrics.registry, client, {
    taskQueue: config.temporal.taskQueue,
    onError: (err) => log.warn({ err }, 'cannot count compensation_failed sagas'),
  });
  // The operations page (/ops) wakes on the primary's notifications.
  const changes = createChangeFeed(infra.databaseUrl);
  const ops = createOpsPage({
    readDb,
    orders,
    temporal: client,
    taskQueue: config.temporal.taskQueue,
    changes,
    sagaUrl: (workflowId) => temporalUiUrl(config, workflowId),
    apiToken: config.apiToken,
    logger: log.child({ component: 'ops' }),
  });
  const app = createApp({
    readDb,
    orders,
    store,
    metrics,
    apiToken: config.apiToken,
    logger: log.child({ component: 'api' }),
    routers: [...codecRoutesFor(config), ['/ops', ops.router]],
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, '0.0.0.0', () => resolve(s)).once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;

  return {
    store,
    orders,
    db,
    server,
    port,
    async stop() {
      ops.close();
      compensationFailed.stop();
      await new Promise((resolve) => server.close(resolve));
      await changes.close();
      await runner.stop();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerDone.catch((err) => log.error({ err }, 'worker stopped with an error'));
      await workerConnection.close();
      await connection.close();
      if (readPool !== pool) await readPool.end();
      await db.destroy();
    },
  };
}
