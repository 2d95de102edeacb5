// `npm run api`: the HTTP API on its own (scale it out behind a load balancer). Reads go to
// READ_DATABASE_URL (a replica), catalog writes to DATABASE_URL, order writes to Temporal.
// First: tracing (when configured) must patch http and pg before anything loads them.
import '../observability/tracing-register';
import { Client, Connection } from '@temporalio/client';
import { temporalUiUrl } from '../cli/connect';
import { createOrderClient } from '../client/order-client';
import { loadConfigOrExit } from '../config';
import {
  createDb,
  createEventStore,
  createPool,
  type EventStoreTables,
  eventStoreOptionsFromConfig,
} from '../eventstore';
import { createLogger } from '../logger';
import { createChangeFeed } from '../observability/change-feed';
import { startCompensationFailedGauge } from '../observability/compensation-failed-gauge';
import { createMetrics } from '../observability/metrics';
import { activeTracing } from '../observability/tracing';
import type { ProjectionDb } from '../projections';
import { createDataConverter } from '../temporal/data-converter';
import { createApp } from './app';
import { codecRoutesFor } from './codec-server';
import { createOpsPage } from './ops/ops-page';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'api');
  if (!config.databaseUrl || !config.readDatabaseUrl)
    throw new Error('npm run api needs DATABASE_URL (and optionally READ_DATABASE_URL)');
  const readDb = createDb<ProjectionDb>(
    createPool(config.readDatabaseUrl, { applicationName: 'order-saga-api' }),
  );
  const writeDb = createDb<EventStoreTables>(
    createPool(config.databaseUrl, { applicationName: 'order-saga-api-writes', max: 5 }),
  );
  const metrics = createMetrics({ db: readDb });
  const store = createEventStore(
    writeDb,
    eventStoreOptionsFromConfig(config.eventStore, { onAppended: metrics.onAppended }),
  );
  const connection = await Connection.connect({
    address: config.temporal.address ?? '127.0.0.1:7233',
  });
  const temporal = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: createDataConverter(config.eventStore),
    interceptors: activeTracing()?.clientInterceptors,
  });
  const orders = createOrderClient(temporal, {
    taskQueue: config.temporal.taskQueue,
    paymentConfirmationThresholdCents: config.payment.confirmationThresholdCents,
    paymentConfirmationTimeoutMs: config.payment.confirmationTimeoutMs,
  });
  const compensationFailed = startCompensationFailedGauge(metrics.registry, temporal, {
    taskQueue: config.temporal.taskQueue,
    onError: (err) => log.warn({ err }, 'cannot count compensation_failed sagas'),
  });
  // The operations page (/ops): NOTIFY comes from the primary, not from a read replica.
  const changes = createChangeFeed(config.databaseUrl);
  const ops = createOpsPage({
    readDb,
    orders,
    temporal,
    taskQueue: config.temporal.taskQueue,
    changes,
    sagaUrl: (workflowId) => temporalUiUrl(config, workflowId),
    apiToken: config.apiToken,
    logger: log.child({ component: 'ops' }),
  });
  const app = createApp({
    readDb,
    store,
    orders,
    metrics,
    apiToken: config.apiToken,
    logger: log,
    routers: [...codecRoutesFor(config), ['/ops', ops.router]],
  });
  const server = app.listen(config.port, () =>
    log.info({ port: config.port }, 'HTTP API listening'),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    ops.close();
    compensationFailed.stop();
    server.close(
      () =>
        void Promise.all([
          readDb.destroy(),
          writeDb.destroy(),
          connection.close(),
          changes.close(),
        ]).then(() => process.exit(0)),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
