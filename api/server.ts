// `npm run api`: the HTTP API on its own (scale it out behind a load balancer). Reads go to
// READ_DATABASE_URL (a replica), catalog writes to DATABASE_URL, order writes to Temporal.
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
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
import { createMetrics } from '../observability/metrics';
import type { ProjectionDb } from '../projections';
import { createDataConverter } from '../temporal/data-converter';
import { createApp } from './app';
import { codecRoutesFor } from './codec-server';

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
  // The core SDK's Rust connection: grpc-js cost ~3 ms of CPU per order (docs/benchmarks.md).
  const connection = await NativeConnection.connect({
    address: config.temporal.address ?? '127.0.0.1:7233',
  });
  const orders = createOrderClient(
    new Client({
      connection,
      namespace: config.temporal.namespace,
      dataConverter: createDataConverter(config.eventStore),
    }),
    {
      taskQueue: config.temporal.taskQueue,
      paymentConfirmationThresholdCents: config.payment.confirmationThresholdCents,
      paymentConfirmationTimeoutMs: config.payment.confirmationTimeoutMs,
      useLocalActivities: config.sagaLocalActivities,
    },
  );
  const app = createApp({
    readDb,
    store,
    orders,
    metrics,
    apiToken: config.apiToken,
    logger: log,
    routers: codecRoutesFor(config),
  });
  const server = app.listen(config.port, () =>
    log.info({ port: config.port }, 'HTTP API listening'),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close(
      () =>
        void Promise.all([readDb.destroy(), writeDb.destroy(), connection.close()]).then(() =>
          process.exit(0),
        ),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
