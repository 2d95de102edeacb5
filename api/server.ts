// `npm run api`: the HTTP API on its own (scale it out behind a load balancer).
import { Client, Connection } from '@temporalio/client';
import { createOrderClient } from '../client/order-client';
import { loadConfigOrExit } from '../config';
import { createDb, createPool } from '../eventstore';
import { createLogger } from '../logger';
import type { ProjectionDb } from '../projections';
import { createDataConverter } from '../temporal/data-converter';
import { createApp } from './app';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'api');
  if (!config.readDatabaseUrl)
    throw new Error('npm run api needs DATABASE_URL or READ_DATABASE_URL');
  const readDb = createDb<ProjectionDb>(
    createPool(config.readDatabaseUrl, { applicationName: 'order-saga-api' }),
  );
  const connection = await Connection.connect({
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
    },
  );
  const app = createApp({ readDb, orders, apiToken: config.apiToken, logger: log });
  const server = app.listen(config.port, () =>
    log.info({ port: config.port }, 'HTTP API listening'),
  );
  const stop = () => {
    server.close(
      () => void Promise.all([readDb.destroy(), connection.close()]).then(() => process.exit(0)),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
