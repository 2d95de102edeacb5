// `npm run projector`: the projection runner on its own. Start several: one is active per
// projection (advisory lock), the others stand by and take over.
import { loadConfigOrExit } from '../config';
import {
  createDb,
  createEventStore,
  createPool,
  type EventStoreTables,
  eventStoreOptionsFromConfig,
} from '../eventstore';
import { createLogger } from '../logger';
import { allProjections } from './index';
import { ProjectionRunner } from './runner';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'projector');
  if (!config.databaseUrl) throw new Error('npm run projector needs DATABASE_URL (or DB_HOST)');
  const pool = createPool(config.databaseUrl, { applicationName: 'order-saga-projector' });
  const db = createDb<EventStoreTables>(pool);
  const runner = new ProjectionRunner({
    databaseUrl: config.databaseUrl,
    store: createEventStore(db, eventStoreOptionsFromConfig(config.eventStore)),
    readPool: pool,
    projections: allProjections,
    logger: log,
  });
  await runner.start(); // refuses a database restored from a logical dump
  log.info('projection runner started');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing the batches in flight');
    void runner
      .stop()
      .then(() => db.destroy())
      .then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
