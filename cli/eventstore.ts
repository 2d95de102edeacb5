// `npm run eventstore -- retention | snapshots-cleanup | schedule`: the event store's
// maintenance by hand. Retention also runs daily from the Temporal Schedule the worker ensures;
// this command runs the same code directly against the database.
import { Command, InvalidArgumentError } from 'commander';
import { runRetention } from '../activities/retention.activities';
import { loadConfigOrExit } from '../config';
import { rebaseTransactionIds } from '../eventstore';
import { ensureRetentionSchedule, retentionScheduleId } from '../temporal/retention-schedule';
import { action, connectDatabase, connectTemporal } from './connect';

const config = loadConfigOrExit();
const program = new Command('eventstore').description('Event store maintenance');

const days = (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('must be a whole number of days >= 1');
  return n;
};

program
  .command('retention')
  .description(
    "archive closed streams older than the limit into domain_events_archive and delete old snapshots (keeping each aggregate's newest)",
  )
  .option(
    '--events-days <n>',
    'closed streams quiet for longer than this',
    days,
    config.retention.eventsDays,
  )
  .option('--snapshots-days <n>', 'snapshots older than this', days, config.retention.snapshotsDays)
  .option(
    '--no-archive',
    'delete closed streams instead of archiving them (default: RETENTION_ARCHIVE)',
  )
  .action(
    action(async (opts: { eventsDays: number; snapshotsDays: number; archive: boolean }) => {
      const { store, close } = await connectDatabase(config);
      try {
        const report = await runRetention(store, {
          eventsDays: opts.eventsDays,
          snapshotsDays: opts.snapshotsDays,
          archive: opts.archive && config.retention.archive,
        });
        process.stdout.write(
          `${report.archived ? 'Archived' : 'Deleted'} ${report.archivedStreams} closed streams ` +
            `(${report.archivedEvents} events) older than ${opts.eventsDays} days; ` +
            `deleted ${report.deletedSnapshots} snapshots older than ${opts.snapshotsDays} days.\n`,
        );
      } finally {
        await close();
      }
    }),
  );

program
  .command('rebase-transaction-ids')
  .description(
    'after a pg_dump restore into another cluster: rewrite stored transaction ids so the log reads in order again (projections that cannot carry on are marked for a rebuild)',
  )
  .action(
    action(async () => {
      const { db, close } = await connectDatabase(config);
      try {
        const result = await rebaseTransactionIds(db);
        process.stdout.write(
          `Rebased ${result.events} events; projections carrying on: ${result.kept.join(', ') || 'none'}` +
            (result.toRebuild.length
              ? `; rebuild these: ${result.toRebuild.map((n) => `npm run projections -- rebuild ${n}`).join(' && ')}`
              : '') +
            '\n',
        );
      } finally {
        await close();
      }
    }),
  );

program
  .command('schedule')
  .description(
    'ensure the daily retention Schedule exists in Temporal (the worker does this at start)',
  )
  .option('--trigger', 'also run it now')
  .action(
    action(async (opts: { trigger?: boolean }) => {
      const client = await connectTemporal(config);
      try {
        const id = await ensureRetentionSchedule(client, { taskQueue: config.temporal.taskQueue });
        if (opts.trigger) await client.schedule.getHandle(id).trigger();
        process.stdout.write(
          `Schedule ${retentionScheduleId(config.temporal.taskQueue)} is in place${opts.trigger ? ' and triggered' : ''}.\n`,
        );
      } finally {
        await client.connection.close();
      }
    }),
  );

program.parseAsync().catch((err) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
