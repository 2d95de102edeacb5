// Projection catch-up from position 0: the runner folding a saga-shaped log of 1M events into
// every read model, against a raw SQL fold of the same events (one GROUP BY query per table,
// projections/sql-fold.ts) in the same database.
import type pg from 'pg';
import { createDb, createEventStore, createPool, type EventStoreTables } from '../../eventstore';
import { allProjections, ProjectionRunner } from '../../projections';
import { referenceQueries } from '../../test/sql-fold';
import { fillLog } from '../projection-data';
import { type BenchRow, type BenchScenario, median, withRatios } from '../scenario';

async function atHead(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM projection_checkpoints c WHERE NOT EXISTS (
       SELECT 1 FROM domain_events e
       WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position))`,
  );
  return Number(rows[0]!.n) === allProjections.length;
}

const scenario: BenchScenario = {
  name: 'projection-catchup',
  async run(ctx) {
    const url = await ctx.freshDatabase();
    const pool = createPool(url, { max: 8 });
    const db = createDb<EventStoreTables>(pool);
    const store = createEventStore(db);
    try {
      const target = ctx.quick ? 200_000 : 1_000_000;
      const started = Date.now();
      const events = await fillLog(pool, target);
      ctx.log(`${events} events written in ${((Date.now() - started) / 1000).toFixed(1)} s`);

      const runner: number[] = [];
      const raw: number[] = [];
      for (let r = 0; r < ctx.repeats; r++) {
        await pool.query(
          `TRUNCATE read_models.orders, read_models.order_items, read_models.order_stats,
                    read_models.inventory, read_models.customer_credit, projection_checkpoints`,
        );
        await pool.query('VACUUM ANALYZE');
        const t0 = process.hrtime.bigint();
        const projector = new ProjectionRunner({
          databaseUrl: url,
          store,
          projections: allProjections,
          batchSize: 10_000,
          pollIntervalMs: 50,
        });
        await projector.start();
        while (!(await atHead(pool))) await new Promise((res) => setTimeout(res, 20));
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        await projector.stop();
        runner.push(events / seconds);
        ctx.log(`runner: ${(events / seconds).toFixed(0)} events/s (${seconds.toFixed(1)} s)`);

        const t1 = process.hrtime.bigint();
        for (const [table, query] of Object.entries(referenceQueries))
          await pool.query(`CREATE TEMP TABLE raw_${table} AS ${query}`);
        const rawSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
        for (const table of Object.keys(referenceQueries))
          await pool.query(`DROP TABLE raw_${table}`);
        raw.push(events / rawSeconds);
        ctx.log(`raw SQL fold: ${(events / rawSeconds).toFixed(0)} events/s`);
      }
      const row = (subject: string, runs: number[]): BenchRow => ({
        scenario: 'projection-catchup',
        subject,
        variant: `${events} events, 3 projections`,
        metric: 'throughput',
        unit: 'events/s',
        value: median(runs),
        runs,
      });
      return withRatios(
        [row('projection runner', runner), row('raw SQL fold', raw)],
        'raw SQL fold',
      );
    } finally {
      await db.destroy();
    }
  },
};

export default scenario;
