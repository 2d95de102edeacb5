// `npm run projections -- status | rebuild NAME | dead-letters | retry ID | skip ID`: positions
// and lag of every projection; a rebuild from position 0 into shadow tables swapped in at the
// end (readers never see a half-built read model; the running projector carries on from the
// rebuilt checkpoint); and the events projections set aside because they could not fold them.
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { loadConfigOrExit } from '../config';
import { createDb, createPool, type EventStoreTables } from '../eventstore';
import {
  allProjections,
  findProjection,
  listDeadLetters,
  projectionStatus,
  rebuildProjection,
  retryDeadLetter,
  skipDeadLetter,
} from '../projections';
import { action, connectDatabase, keyedEventStore, stackDatabaseUrl } from './connect';

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
              `lag ${r.lagExact ? '' : '~'}${r.lagEvents} events / ${r.lagSeconds.toFixed(1)} s` +
              (r.deadLetters > 0 ? ` / ${r.deadLetters} set aside` : '') +
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
          store: await keyedEventStore(db, config),
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
        if (result.skipped.length > 0) {
          process.stdout.write(
            `Skipped ${result.skipped.length} event(s) it could not fold (now in dead-letters):\n`,
          );
          for (const s of result.skipped) process.stdout.write(`  ${s.error}\n`);
        }
      } finally {
        bar.stop();
        await db.destroy();
      }
    }),
  );

const parseId = (raw: string): number => {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1)
    throw new Error(`dead letter id must be a positive integer, got "${raw}"`);
  return id;
};

program
  .command('dead-letters')
  .description('events the projections set aside because they could not fold them')
  .option('--all', 'include the retried and skipped ones')
  .action(
    action(async (opts: { all?: boolean }) => {
      const { db, close } = await connectDatabase(config);
      try {
        const rows = await listDeadLetters(db, { all: opts.all === true });
        if (rows.length === 0) process.stdout.write('No event is set aside.\n');
        for (const d of rows)
          process.stdout.write(
            `${String(d.id).padEnd(6)} ${d.projection.padEnd(16)} ${d.status.padEnd(8)} ` +
              `${d.globalPosition} ${d.eventType} ${d.stream} v${d.version} ` +
              `(${d.attempts} attempts)\n  ${d.error}\n`,
          );
      } finally {
        await close();
      }
    }),
  );

program
  .command('retry')
  .description('fold a set-aside event into its read model now (after a fix)')
  .argument('<id>', 'dead letter id')
  .action(
    action(async (raw: string) => {
      const id = parseId(raw);
      const url = stackDatabaseUrl(config);
      const pool = createPool(url, { max: 2, applicationName: 'order-saga-dead-letters' });
      const db = createDb<EventStoreTables>(pool);
      try {
        const d = await retryDeadLetter({
          databaseUrl: url,
          store: await keyedEventStore(db, config),
          projections: allProjections,
          id,
        });
        process.stdout.write(`Dead letter ${d.id} folded into ${d.projection}.\n`);
      } finally {
        await db.destroy();
      }
    }),
  );

program
  .command('skip')
  .description('drop a set-aside event for good (its read model stays without it)')
  .argument('<id>', 'dead letter id')
  .action(
    action(async (raw: string) => {
      const id = parseId(raw);
      const { db, close } = await connectDatabase(config);
      try {
        const d = await skipDeadLetter(db, id);
        process.stdout.write(`Dead letter ${d.id} of ${d.projection} skipped.\n`);
      } finally {
        await close();
      }
    }),
  );

if (require.main === module) program.parseAsync().catch(() => process.exit(1));
