// A projection runner in a process of its own, for tests that kill it (SIGKILL) mid-batch.
// argv: database URL, batch size. Prints "started" once its loops run (before they hold locks).
import { createDb, createEventStore, createPool, type EventStoreTables } from '../eventstore';
import { allProjections } from '../projections/index';
import type { Projection } from '../projections/projection';
import { ProjectionRunner } from '../projections/runner';

async function main(): Promise<void> {
  const [url, batch] = process.argv.slice(2);
  const pool = createPool(url!, { max: 4 });
  const db = createDb<EventStoreTables>(pool);
  const runner = new ProjectionRunner({
    databaseUrl: url!,
    store: createEventStore(db),
    // Each batch holds its transaction open a little longer, so a kill lands inside one.
    projections: allProjections.map((p): Projection => ({
      ...p,
      async apply(ctx, events) {
        await p.apply(ctx, events);
        await ctx.client.query('SELECT pg_sleep(0.03)');
      },
    })),
    batchSize: Number(batch ?? 200),
    pollIntervalMs: 200,
    standbyRetryMs: 100,
  });
  await runner.start();
  process.stdout.write('started\n');
}

void main();
