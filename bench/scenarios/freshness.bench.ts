// Event-to-read-model freshness: from an append's commit to the order being readable in
// read_models.orders, with the runner woken by LISTEN/NOTIFY, against the same runner polling
// only (every 100 ms), in the same run.
import pg from 'pg';
import { createDb, createEventStore, createPool, type EventStoreTables } from '../../eventstore';
import { allProjections, ProjectionRunner } from '../../projections';
import { type BenchRow, type BenchScenario, median, percentile, withRatios } from '../scenario';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const scenario: BenchScenario = {
  name: 'freshness',
  async run(ctx) {
    const url = await ctx.freshDatabase();
    const pool = createPool(url, { max: 4 });
    const store = createEventStore(createDb<EventStoreTables>(pool));
    const probe = new pg.Client({ connectionString: url });
    await probe.connect();
    const samples = ctx.quick ? 40 : 200;
    const rows: BenchRow[] = [];
    try {
      for (const [subject, listen] of [
        ['LISTEN/NOTIFY', true],
        ['polling every 100 ms', false],
      ] as const) {
        const runner = new ProjectionRunner({
          databaseUrl: url,
          store,
          projections: allProjections,
          listen,
          pollIntervalMs: 100,
        });
        await runner.start();
        await sleep(300);
        const latencies: number[] = [];
        for (let i = 0; i < samples; i++) {
          const id = `fresh-${listen ? 'n' : 'p'}-${i}`;
          await store.appendToStream({ type: 'Order', id }, 'no_stream', [
            {
              type: 'OrderCreated',
              data: {
                order_id: id,
                customer_id: 'c',
                currency: 'USD',
                shipping_address: null,
                created_at: new Date().toISOString(),
              },
            },
          ]);
          const t0 = process.hrtime.bigint();
          for (;;) {
            const { rowCount } = await probe.query(
              'SELECT 1 FROM read_models.orders WHERE id = $1',
              [id],
            );
            if (rowCount) break;
            await sleep(1);
          }
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          // Let the runner go idle between events, as it is between real sagas' steps.
          await sleep(20 + Math.random() * 30);
        }
        await runner.stop();
        ctx.log(
          `${subject}: p50 ${median(latencies).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`,
        );
        const variant = `${samples} appends, idle runner`;
        rows.push(
          {
            scenario: 'freshness',
            subject,
            variant,
            metric: 'p50',
            unit: 'ms',
            value: median(latencies),
            runs: [median(latencies)],
          },
          {
            scenario: 'freshness',
            subject,
            variant,
            metric: 'p99',
            unit: 'ms',
            value: percentile(latencies, 99),
            runs: [percentile(latencies, 99)],
          },
        );
      }
      return withRatios(rows, 'polling every 100 ms');
    } finally {
      await probe.end();
      await pool.end();
    }
  },
};

export default scenario;
