// `npm run projections -- status | rebuild NAME`: positions and lag of every projection, and
// a rebuild from position 0 into shadow tables swapped in at the end (readers never see a
// half-built read model; the running projector carries on from the rebuilt checkpoint).
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { loadConfigOrExit } from '../config';
import {
  createDb,
  createEventStore,
  createPool,
  type EventStoreTables,
  eventStoreOptionsFromConfig,
} from '../eventstore';
import {
  allProjections,
  findProjection,
  projectionStatus,
  rebuildProjection,
} from '../projections';
import { action, connectDatabase, stackDatabaseUrl } from './connect';

const config = loadConfigOrExit();
const program = new Command('projections').description('Projection positions, lag and rebuilds');

program
  .command('status')
  .description('positions and lag of every projection')
  .action(
    action(async () => {
      const { db, close } = await connectDatabase(config);
      try {
        const rows = await projectionStatus(db);
        if (rows.length === 0) process.stdout.write('No projection has run yet.\n');
        for (const r of rows) {
          process.stdout.write(
            `${r.name.padEnd(16)} ${r.status.padEnd(8)} position ${r.globalPosition} ` +
              `lag ${r.lagEvents} events / ${r.lagSeconds.toFixed(1)} s` +
              (r.lastError ? `\n  error: ${r.lastError}` : '') +
              '\n',
          );
        }
      } finally {
        await close();
      }
    }),
  );

program
  .command('rebuild')
  .description(
    `replay one projection from position 0 (${allProjections.map((p) => p.name).join(', ')})`,
  )
  .argument('<name>', 'projection name')
  .option('--batch-size <n>', 'events per transaction', '10000')
  .action(
    action(async (name: string, opts: { batchSize: string }) => {
      const projection = findProjection(name);
      if (!projection)
        throw new Error(
          `unknown projection "${name}"; one of: ${allProjections.map((p) => p.name).join(', ')}`,
        );
      const batchSize = Number(opts.batchSize);
      if (!Number.isSafeInteger(batchSize) || batchSize < 1)
        throw new Error('--batch-size must be a positive integer');
      const url = stackDatabaseUrl(config);
      const pool = createPool(url, { max: 4, applicationName: 'order-saga-rebuild' });
      const db = createDb<EventStoreTables>(pool);
      const bar = new SingleBar({
        format: `${name} [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta}s`,
        hideCursor: true,
      });
      const started = Date.now();
      bar.start(1, 0, { rate: 0 });
      try {
        const result = await rebuildProjection({
          databaseUrl: url,
          store: createEventStore(db, eventStoreOptionsFromConfig(config.eventStore)),
          projection,
          batchSize,
          onProgress: (done, total) => {
            const seconds = (Date.now() - started) / 1000;
            bar.setTotal(total);
            bar.update(done, { rate: Math.round(done / Math.max(seconds, 0.001)) });
          },
        });
        bar.stop();
        process.stdout.write(
          `Rebuilt ${name}: ${result.events} events read, ${result.applied} applied, ` +
            `${Math.round(result.events / Math.max(result.ms / 1000, 0.001))} events/s; ` +
            `swapped in at position ${result.checkpoint.globalPosition}.\n`,
        );
      } finally {
        bar.stop();
        await db.destroy();
      }
    }),
  );

if (require.main === module) program.parseAsync().catch(() => process.exit(1));
