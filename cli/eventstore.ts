// `npm run eventstore -- retention | snapshots-cleanup | schedule | keys | re-encrypt`: the
// event store's maintenance by hand. Retention also runs daily from the Temporal Schedule the worker ensures;
// this command runs the same code directly against the database.
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { runRetention } from '../activities/retention.activities';
import { loadConfigOrExit } from '../config';
import {
  countStale,
  eventStoreOptionsFromConfig,
  keyUsage,
  rebaseTransactionIds,
  reEncrypt,
} from '../eventstore';
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

const batchSize = (value: string): number => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > 10_000)
    throw new InvalidArgumentError('must be a whole number between 1 and 10000');
  return n;
};

program
  .command('keys')
  .description(
    'each key id (and envelope) with how many payloads still need it, per table; the current key is marked',
  )
  .action(
    action(async () => {
      const { db, close } = await connectDatabase(config);
      try {
        const codec = eventStoreOptionsFromConfig(config.eventStore).codec!;
        const usage = await keyUsage(db);
        const byKey = new Map<string, Record<string, number>>();
        for (const u of usage) {
          const name = `${u.keyId ?? '(none)'} ${u.codec}`;
          const row = byKey.get(name) ?? {};
          row[u.table] = (row[u.table] ?? 0) + u.payloads;
          byKey.set(name, row);
        }
        process.stdout.write('key id           codec                 events  archive  snapshots\n');
        for (const [name, row] of byKey) {
          const [keyId, codecName] = name.split(' ');
          const mark = keyId === codec.currentKeyId ? ' (current)' : '';
          process.stdout.write(
            `${keyId!.padEnd(16)} ${codecName!.padEnd(21)} ${String(row.domain_events ?? 0).padStart(6)}  ` +
              `${String(row.domain_events_archive ?? 0).padStart(7)}  ${String(row.aggregate_snapshots ?? 0).padStart(9)}${mark}\n`,
          );
        }
        const stale = await countStale(db, codec);
        const total = Object.values(stale).reduce((a, b) => a + b, 0);
        process.stdout.write(
          total === 0
            ? 'Every payload is under the current key: keys not listed above can be removed.\n'
            : `${total} payloads are not under the current key: run \`npm run eventstore -- re-encrypt\`.\n`,
        );
      } finally {
        await close();
      }
    }),
  );

program
  .command('re-encrypt')
  .description(
    'rewrite every payload (events, archive, snapshots) not under EVENT_STORE_ENCRYPTION_KEY, in short batches, while the product runs; run again to resume',
  )
  .option('--batch-size <n>', 'rows per transaction', batchSize, 500)
  .action(
    action(async (opts: { batchSize: number }) => {
      const { db, close } = await connectDatabase(config);
      try {
        const codec = eventStoreOptionsFromConfig(config.eventStore).codec!;
        const stale = await countStale(db, codec);
        const total = Object.values(stale).reduce((a, b) => a + b, 0);
        const bar = new SingleBar({
          format: 're-encrypt [{bar}] {value}/{total} payloads ({table})',
          hideCursor: true,
          stream: process.stderr,
        });
        bar.start(total, 0, { table: 'domain_events' });
        let done = 0;
        const report = await reEncrypt(db, codec, {
          batchSize: opts.batchSize,
          onBatch: (table, n) => {
            done += n;
            // Rows appended meanwhile under an old key (a worker not yet restarted) add work.
            if (done > bar.getTotal()) bar.setTotal(done);
            bar.update(done, { table });
          },
        });
        bar.stop();
        process.stdout.write(
          `Rewrote ${report.rewritten.domain_events} events, ${report.rewritten.domain_events_archive} archived events and ` +
            `${report.rewritten.aggregate_snapshots} snapshots under key ${codec.currentKeyId ?? '(none: plain)'}; ` +
            (report.remaining === 0
              ? 'nothing is left under another key.\n'
              : `${report.remaining} still are (still being written with an old key? run again).\n`),
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
