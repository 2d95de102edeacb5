// Aggregate load time with and without snapshots as streams grow: loadAggregate of an
// Inventory stream of 100, 10k and 100k events (--quick: 100, 1k, 10k), from its newest
// snapshot plus the 50 events after it, against folding every event. With snapshots the time
// should stay flat in stream length.
import { type Kysely, sql } from 'kysely';
import { InventoryDecider } from '../../domain/inventory';
import { createDb, createEventStore, createPool, type EventStoreTables } from '../../eventstore';
import { loadAggregate } from '../../application';
import { type BenchRow, type BenchScenario, median, withRatios } from '../scenario';

/** Events after the newest snapshot: half the default interval, a typical load. */
const TAIL = 50;

async function seed(db: Kysely<EventStoreTables>, id: string, length: number): Promise<void> {
  // The same events the decider writes for a restock of one unit, inserted in one statement.
  await sql`
    INSERT INTO domain_events (event_id, aggregate_type, aggregate_id, version, event_type, event_data)
    SELECT gen_random_uuid(), 'Inventory', ${id}, g, 'StockRestocked',
           jsonb_build_object('product_id', ${id}::text, 'quantity', 1, 'created_at', now())
    FROM generate_series(1, ${length}) AS g`.execute(db);
  await sql`ANALYZE domain_events`.execute(db);
}

async function timeLoads(load: () => Promise<unknown>, times: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = process.hrtime.bigint();
    await load();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(samples);
}

const scenario: BenchScenario = {
  name: 'aggregate-load',
  async run(ctx) {
    const lengths = ctx.quick ? [100, 1_000, 10_000] : [100, 10_000, 100_000];
    const db = createDb<EventStoreTables>(createPool(await ctx.freshDatabase(), { max: 2 }));
    const withSnapshots = createEventStore(db, { snapshots: { interval: 100 } });
    const without = createEventStore(db, { snapshots: { interval: 0 } });
    const rows: BenchRow[] = [];
    try {
      for (const length of lengths) {
        const id = `SKU-bench-${length}`;
        await seed(db, id, length);
        // The snapshot handleCommand would have left TAIL events ago.
        const upTo = await loadAggregate(without, InventoryDecider, id);
        const state = { ...upTo.state, onHand: length - TAIL };
        await withSnapshots.writeSnapshot({ type: 'Inventory', id }, 1, {
          version: length - TAIL,
          state,
        });
        const check = await loadAggregate(withSnapshots, InventoryDecider, id);
        if (check.state.onHand !== length || check.snapshotVersion !== length - TAIL)
          throw new Error(`snapshot load of ${id} is wrong: ${JSON.stringify(check)}`);

        // Loads of long streams without snapshots take seconds: fewer of them.
        const times = length >= 100_000 ? 3 : length >= 10_000 ? 10 : 50;
        const runs = { with: [] as number[], without: [] as number[] };
        for (let r = 0; r < ctx.repeats; r++) {
          runs.with.push(
            await timeLoads(() => loadAggregate(withSnapshots, InventoryDecider, id), 50),
          );
          runs.without.push(
            await timeLoads(() => loadAggregate(without, InventoryDecider, id), times),
          );
          ctx.log(
            `${length} events: with snapshots ${runs.with.at(-1)!.toFixed(2)} ms, ` +
              `without ${runs.without.at(-1)!.toFixed(2)} ms`,
          );
        }
        const row = (subject: string, values: number[]): BenchRow => ({
          scenario: 'aggregate-load',
          subject,
          variant: `${length} events`,
          metric: 'load time',
          unit: 'ms',
          value: median(values),
          runs: values,
        });
        rows.push(
          ...withRatios(
            [row('with snapshots', runs.with), row('without snapshots', runs.without)],
            'without snapshots',
          ),
        );
      }
      // Flatness: the longest stream's snapshot load against the shortest's.
      const snap = rows.filter((r) => r.subject === 'with snapshots');
      const first = snap[0]!;
      const last = snap[snap.length - 1]!;
      rows.push({
        scenario: 'aggregate-load',
        subject: 'with snapshots',
        variant: `${last.variant} / ${first.variant}`,
        metric: 'load time ratio',
        unit: 'x',
        value: last.value / first.value,
        runs: last.runs.map((v, i) => v / (first.runs[i] ?? first.value)),
      });
      return rows;
    } finally {
      await db.destroy();
    }
  },
};

export default scenario;
