// Saga throughput and start-to-completed latency: orderSaga (create, reserve, pay, confirm
// against the Postgres event store) against a bare workflow running the same number of no-op
// activities, on the same Temporal dev server in the same run, with remote and with local
// activities. Orders are driven by a fixed number of concurrent clients (closed loop).
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { grantCredit, restockProduct } from '../../catalog/catalog';
import { createOrderClient } from '../../client/order-client';
import { createDb, createEventStore, createPool, type EventStoreTables } from '../../eventstore';
import { createOrderWorker } from '../../temporal/order-worker';
import { bareActivities } from '../bare-saga/activities';
import { type BenchRow, type BenchScenario, median, percentile, withRatios } from '../scenario';

/** Activities per orderSaga of one line: createOrder, reserveInventory, chargePayment, confirmOrder. */
const SAGA_STEPS = 4;
/** Clients in flight at once; products and customers are spread so that few of them collide. */
const CONCURRENCY = 32;
const PRODUCTS = 64;

interface Measurement {
  throughput: number;
  p50: number;
  p99: number;
}

/** Runs `count` workflows through `CONCURRENCY` closed-loop clients; each runs start to result. */
async function drive(count: number, one: (i: number) => Promise<void>): Promise<Measurement> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < count; i = next++) {
        const started = performance.now();
        await one(i);
        latencies.push(performance.now() - started);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return {
    throughput: count / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

const scenario: BenchScenario = {
  name: 'saga',
  needsTemporal: true,
  async run(ctx) {
    const address = ctx.infra.temporalAddress;
    if (!address) throw new Error('the saga bench needs a Temporal server');
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    const orders = ctx.quick ? 100 : 500;
    const run = randomUUID().slice(0, 8);

    const url = await ctx.freshDatabase();
    const pool = createPool(url, { max: 20, applicationName: 'saga-bench' });
    const store = createEventStore(createDb<EventStoreTables>(pool));
    for (let p = 0; p < PRODUCTS; p++) {
      await restockProduct(store, `bench-${p}`, 1_000_000);
      await grantCredit(store, `bench-customer-${p}`, 1_000_000_000);
    }

    const nativeConnection = await NativeConnection.connect({ address });
    const connection = await Connection.connect({ address });
    const client = new Client({ connection, namespace: 'default' });
    const sagaQueue = `bench-saga-${run}`;
    const bareQueue = `bench-bare-${run}`;
    ctx.log('bundling the saga and the bare workflow');
    const sagaWorker = await createOrderWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: sagaQueue,
      store,
      dbPoolMax: 20,
    });
    const bareWorker = await Worker.create({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: bareQueue,
      workflowsPath: require.resolve('../bare-saga/workflows'),
      activities: bareActivities,
    });
    const running = [sagaWorker.run(), bareWorker.run()];

    // Unrecorded warm-up of both workflows and both kinds of activity: JIT, connections,
    // prepared statements and the aggregate cache start warm in every measured run.
    const warmUp = 50;
    const rows: BenchRow[] = [];
    const samples = new Map<string, Measurement[]>();
    const record = (subject: string, variant: string, m: Measurement) => {
      const key = `${subject}|${variant}`;
      samples.set(key, [...(samples.get(key) ?? []), m]);
    };
    // The two workflows take turns, five times, so that drift in the machine's speed hits both.
    const repeats = ctx.quick ? 1 : 5;
    try {
      for (let repeat = -1; repeat < repeats; repeat++) {
        const count = repeat < 0 ? warmUp : orders;
        for (const local of [false, true]) {
          const variant = local ? 'local activities' : 'remote activities';
          const sagas = createOrderClient(client, {
            taskQueue: sagaQueue,
            paymentConfirmationThresholdCents: Number.MAX_SAFE_INTEGER,
            paymentConfirmationTimeoutMs: 60_000,
            useLocalActivities: local,
          });
          const runBare = () =>
            drive(count, async (i) => {
              await client.workflow.execute('bareSaga', {
                taskQueue: bareQueue,
                workflowId: `bare-${run}-${repeat}-${variant}-${i}`,
                args: [{ steps: SAGA_STEPS, local }],
              });
            });
          const runSaga = () =>
            drive(count, async (i) => {
              const orderId = `bench-${run}-${repeat}-${local ? 'l' : 'r'}-${i}`;
              await sagas.start({
                orderId,
                customerId: `bench-customer-${i % PRODUCTS}`,
                items: [{ productId: `bench-${i % PRODUCTS}`, quantity: 1, unitPriceCents: 100 }],
              });
              const result = await sagas.result(orderId);
              if (result.status !== 'completed') throw new Error(`${orderId}: ${result.reason}`);
            });
          // Same server, same run, one after the other; which goes first alternates, so that
          // whatever one leaves behind on the server (history, visibility writes) weighs on both.
          const sagaFirst = repeat % 2 === 1;
          const first = await (sagaFirst ? runSaga() : runBare());
          const second = await (sagaFirst ? runBare() : runSaga());
          const [saga, bare] = sagaFirst ? [first, second] : [second, first];
          if (repeat < 0) continue;
          record('bare workflow', variant, bare);
          record('orderSaga', variant, saga);
          ctx.log(
            `${variant} #${repeat + 1}: saga ${saga.throughput.toFixed(1)}/s ` +
              `(p50 ${saga.p50.toFixed(0)} ms), bare ${bare.throughput.toFixed(1)}/s ` +
              `(p50 ${bare.p50.toFixed(0)} ms), ratio ${(saga.throughput / bare.throughput).toFixed(2)}`,
          );
        }
      }
    } finally {
      sagaWorker.shutdown();
      bareWorker.shutdown();
      await Promise.all(running);
      await connection.close();
      await nativeConnection.close();
      await pool.end();
    }

    for (const [key, ms] of samples) {
      const [subject, variant] = key.split('|') as [string, string];
      const row = (metric: string, unit: string, values: number[]): BenchRow => ({
        scenario: 'saga',
        subject,
        variant: `${variant}, ${orders} orders, ${CONCURRENCY} concurrent`,
        metric,
        unit,
        value: median(values),
        runs: values,
      });
      rows.push(
        row(
          'throughput',
          'orders/s',
          ms.map((m) => m.throughput),
        ),
        row(
          'latency p50',
          'ms',
          ms.map((m) => m.p50),
        ),
        row(
          'latency p99',
          'ms',
          ms.map((m) => m.p99),
        ),
      );
    }
    return withRatios(rows, 'bare workflow');
  },
};

export default scenario;
