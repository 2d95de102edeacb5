// GET /orders/:id throughput and p99 (autocannon) through createApp, against a bare express +
// pg handler running the same query on the same data, in the same process and run.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Client } from '@temporalio/client';
import autocannon from 'autocannon';
import express from 'express';
import type { Kysely } from 'kysely';
import { createApp } from '../../api/app';
import { createOrderClient } from '../../client/order-client';
import { createDb, createEventStore, createPool, type EventStoreTables } from '../../eventstore';
import { findProjection, type ProjectionDb, rebuildProjection } from '../../projections';
import { fillLog } from '../projection-data';
import { type BenchRow, type BenchScenario, median, withRatios } from '../scenario';

function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const scenario: BenchScenario = {
  name: 'http-read',
  async run(ctx) {
    const url = await ctx.freshDatabase();
    const pool = createPool(url, { max: 10 });
    const db = createDb<ProjectionDb>(pool);
    const store = createEventStore(db as unknown as Kysely<EventStoreTables>);
    const servers: Server[] = [];
    try {
      await fillLog(pool, ctx.quick ? 20_000 : 100_000);
      await rebuildProjection({
        databaseUrl: url,
        store,
        projection: findProjection('orders')!,
      });
      const { rows } = await pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM read_models.orders',
      );
      const orders = Number(rows[0]!.n);
      ctx.log(`${orders} orders in the read model`);

      // The Temporal client connects lazily and reads never use it.
      const orderClient = createOrderClient(new Client(), {
        taskQueue: 'bench',
        paymentConfirmationThresholdCents: 0,
        paymentConfirmationTimeoutMs: 1,
      });
      const ours = await listen(createApp({ readDb: db, store, orders: orderClient }));
      const raw = express();
      raw.get('/orders/:id', async (req, res) => {
        const { rows: found } = await pool.query('SELECT * FROM read_models.orders WHERE id = $1', [
          req.params.id,
        ]);
        if (!found[0]) return void res.status(404).end();
        res.json(found[0]);
      });
      const rawServer = await listen(raw);
      servers.push(ours, rawServer);

      const subjects = [
        ['createApp', ours],
        ['raw express+pg', rawServer],
      ] as const;
      const results: Record<string, { rps: number[]; p99: number[] }> = {};
      const duration = ctx.quick ? 3 : 10;
      // Warm both up first (JIT, pool connections, Postgres caches): the first subject measured
      // would otherwise pay for it. The order then alternates between repeats.
      for (const [, server] of subjects) {
        const port = (server.address() as AddressInfo).port;
        await autocannon({
          url: `http://127.0.0.1:${port}/orders/order-1`,
          connections: 16,
          // By count, not time: the JIT needs requests, however slow the machine is.
          amount: 5000,
        });
      }
      for (let r = 0; r < ctx.repeats; r++) {
        for (const [name, server] of r % 2 ? [...subjects].reverse() : subjects) {
          const port = (server.address() as AddressInfo).port;
          let i = 0;
          const result = await autocannon({
            url: `http://127.0.0.1:${port}`,
            connections: 16,
            duration,
            requests: [
              {
                method: 'GET',
                setupRequest: (req) => ({ ...req, path: `/orders/order-${(i++ * 7919) % orders}` }),
              },
            ],
          });
          if (result.non2xx > 0) throw new Error(`${name}: ${result.non2xx} non-2xx responses`);
          const entry = (results[name] ??= { rps: [], p99: [] });
          entry.rps.push(result.requests.average);
          entry.p99.push(result.latency.p99);
          ctx.log(`${name}: ${result.requests.average} req/s, p99 ${result.latency.p99} ms`);
        }
      }
      const rows2: BenchRow[] = [];
      for (const [name] of subjects) {
        const e = results[name]!;
        const variant = `16 connections, ${orders} orders`;
        rows2.push(
          {
            scenario: 'http-read',
            subject: name,
            variant,
            metric: 'throughput',
            unit: 'req/s',
            value: median(e.rps),
            runs: e.rps,
          },
          {
            scenario: 'http-read',
            subject: name,
            variant,
            metric: 'p99 latency',
            unit: 'ms',
            value: median(e.p99),
            runs: e.p99,
          },
        );
      }
      return withRatios(rows2, 'raw express+pg');
    } finally {
      for (const s of servers) await new Promise((resolve) => s.close(resolve));
      await db.destroy();
    }
  },
};

export default scenario;
