// `npm run projector`: the projection runner on its own. Start several: one is active per
// projection (advisory lock), the others stand by and take over.
import { loadConfigOrExit } from '../config';
import { createDb, createEventStore, createPool } from '../eventstore';
import { createLogger } from '../logger';
import { allProjections, ProjectionRunner, type ProjectionDb } from './index';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'projector');
  if (!config.databaseUrl) throw new Error('npm run projector needs DATABASE_URL (or DB_HOST)');
  const db = createDb<ProjectionDb>(
    createPool(config.databaseUrl, { applicationName: 'order-saga-projector' }),
  );
  const runner = new ProjectionRunner({
    databaseUrl: config.databaseUrl,
    store: createEventStore(db),
    projections: allProjections,
    logger: log,
  });
  await runner.start();
  log.info('projection runner started');
  const stop = () =>
    void runner
      .stop()
      .then(() => db.destroy())
      .then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
