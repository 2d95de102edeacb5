// `npm run migrate`: applies pending migrations to DATABASE_URL and exits.
import { loadConfigOrExit } from '../config';
import { createDb, createPool } from '../eventstore';
import { migrateToLatest } from './index';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!config.databaseUrl) throw new Error('npm run migrate needs DATABASE_URL (or DB_HOST)');
  const db = createDb(
    createPool(config.databaseUrl, { max: 1, applicationName: 'order-saga-migrate' }),
  );
  try {
    const applied = await migrateToLatest(db);
    process.stdout.write(
      applied.length ? `Applied: ${applied.join(', ')}\n` : 'Already up to date\n',
    );
  } finally {
    await db.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
