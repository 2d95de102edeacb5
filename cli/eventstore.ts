// `npm run eventstore -- retention | snapshots-cleanup | schedule | keys | re-encrypt |
// rotate-key | forget-customer`: the
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
import { toEncryptionKey } from '../eventstore/codec';
import {
  type DataKeyRing,
  KEY_PURPOSES,
  type KeyPurpose,
  listDataKeys,
} from '../keys/data-key-ring';
import { forgetCustomerWith } from '../keys/forget-customer';
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

/** The id the configured master key names its data keys with. */
const masterKeyId = () =>
  config.eventStore.encryptionKey ? toEncryptionKey(config.eventStore.encryptionKey).id : null;

/** A command that needs the data key ring: refused in one line without a master key. */
async function withRing(fn: (ring: DataKeyRing) => Promise<void>) {
  const opened = await connectDatabase(config);
  try {
    if (!opened.keys.ring)
      throw new Error(
        'no master key: set EVENT_STORE_ENCRYPTION_KEY (or EVENT_STORE_ENCRYPTION_KEY_FILE)',
      );
    await fn(opened.keys.ring);
  } finally {
    await opened.close();
  }
}

const count = (n: number | undefined, width: number) => String(n ?? 0).padStart(width);

program
  .command('keys')
  .description(
    'the data keys (purpose, master key, uses reserved, state), then each payload key with how many stored payloads still need it',
  )
  .action(
    action(async () => {
      const { db, keyed, close } = await connectDatabase(config);
      try {
        const codec = eventStoreOptionsFromConfig(keyed).codec!;
        const { purposeKeys, customerKeys } = await listDataKeys(db);
        if (purposeKeys.length > 0) {
          process.stdout.write(
            'data key         purpose      master key        uses reserved  state\n',
          );
          for (const k of purposeKeys) {
            const state = k.retired_at ? `retired ${k.retired_at.toISOString()}` : 'current';
            process.stdout.write(
              `${k.key_id.padEnd(16)} ${k.purpose.padEnd(12)} ${(k.master_key_id ?? '-').padEnd(17)} ` +
                `${count(Number(k.uses_reserved), 13)}  ${state}\n`,
            );
          }
          for (const c of customerKeys)
            process.stdout.write(
              c.masterKeyId
                ? `customer keys under master key ${c.masterKeyId}: ${c.keys}\n`
                : `customer keys destroyed (forgotten customers): ${c.keys}\n`,
            );
          const former = [
            ...purposeKeys,
            ...customerKeys.map((c) => ({ master_key_id: c.masterKeyId })),
          ].filter((k) => k.master_key_id && k.master_key_id !== masterKeyId()).length;
          process.stdout.write(
            former === 0
              ? 'Every data key is wrapped by the current master key.\n\n'
              : 'Some data keys are wrapped by a former master key: run `npm run eventstore -- re-encrypt` (it rewraps them).\n\n',
          );
        }
        const usage = await keyUsage(db);
        const byKey = new Map<string, Record<string, number>>();
        for (const u of usage) {
          const name = `${u.keyId ?? '(none)'} ${u.codec}`;
          const row = byKey.get(name) ?? {};
          row[u.table] = (row[u.table] ?? 0) + u.payloads;
          byKey.set(name, row);
        }
        process.stdout.write('payload key      codec                 events  archive  snapshots\n');
        for (const [name, row] of byKey) {
          const [keyId, codecName] = name.split(' ');
          const mark = keyId === codec.currentKeyId ? ' (current)' : '';
          process.stdout.write(
            `${keyId!.padEnd(16)} ${codecName!.padEnd(21)} ${count(row.domain_events, 6)}  ` +
              `${count(row.domain_events_archive, 7)}  ${count(row.aggregate_snapshots, 9)}${mark}\n`,
          );
        }
        const stale = await countStale(db, codec);
        const total = Object.values(stale).reduce((a, b) => a + b, 0);
        process.stdout.write(
          total === 0
            ? 'Every payload is under the current key: payload keys not listed above can be removed.\n'
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
    'rewrap every data key under the current master key, then rewrite every payload (events, archive, snapshots) not under the current data key, in short batches, while the product runs; run again to resume',
  )
  .option('--batch-size <n>', 'rows per transaction', batchSize, 500)
  .action(
    action(async (opts: { batchSize: number }) => {
      const { db, keys, keyed, close } = await connectDatabase(config);
      try {
        const rewrapped = keys.ring ? await keys.ring.rewrap() : 0;
        if (rewrapped > 0)
          process.stdout.write(
            `Rewrapped ${rewrapped} data keys under master key ${masterKeyId()}.\n`,
          );
        const codec = eventStoreOptionsFromConfig(keyed).codec!;
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

const purposes = (value: string): KeyPurpose[] => {
  if (value === 'all') return [...KEY_PURPOSES];
  if (!(KEY_PURPOSES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`must be one of ${KEY_PURPOSES.join(', ')}, all`);
  return [value as KeyPurpose];
};

program
  .command('rotate-key')
  .description(
    'retire the current data key of a purpose (it still decrypts) and create the next; running processes take it up within 30 s; then re-encrypt',
  )
  .option('--purpose <purpose>', `${KEY_PURPOSES.join(' | ')} | all`, purposes, [...KEY_PURPOSES])
  .action(
    action(async (opts: { purpose: KeyPurpose[] }) => {
      await withRing(async (ring) => {
        for (const purpose of opts.purpose) {
          const current = ring.source(purpose).currentKeyId;
          const next = await ring.rotate(purpose, current);
          process.stdout.write(`${purpose}: key ${current} retired, ${next} is current.\n`);
        }
        process.stdout.write(
          'Run `npm run eventstore -- re-encrypt` to move stored payloads under it.\n',
        );
      });
    }),
  );

program
  .command('forget-customer')
  .description(
    "destroy a customer's data key: their sealed personal fields (shipping addresses) read as erased in events, snapshots and Temporal histories",
  )
  .argument('<customerId>', 'the customer id')
  .action(
    action(async (customerId: string) => {
      await withRing(async (ring) => {
        const forgotten = await forgetCustomerWith(ring)(customerId);
        process.stdout.write(
          forgotten.keysDestroyed > 0
            ? `Forgot customer ${customerId}: their key is destroyed; what it sealed reads as erased.\n`
            : `Customer ${customerId} has no key (nothing sealed for them, or already forgotten).\n`,
        );
      });
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
      // Plain JSON, as temporal/namespace-setup.ts stores it: its only argument is {}.
      const client = await connectTemporal(config, {});
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
