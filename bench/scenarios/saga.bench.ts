// Saga throughput, start-to-completed latency and CPU per order for each process (Temporal
// server, Node with the worker and the client, Postgres backends): orderSaga (create, reserve,
// pay, confirm against the Postgres event store) with local and with remote activities, beside
// bare workflows (0 activities; 4 no-op activities, local and remote: Temporal's own cost; 4
// local activities waiting 2 ms each, bare-wait-local: what waiting on I/O adds to it; the
// saga's own four activities and nothing else: what is left is the saga's workflow code; the same
// with orderSaga's calls to Temporal besides its activities, bare-order-announced-local: start
// memo and search attributes, the final upsert), the saga's four activities
// alone (activities: called in turn in this process, no workflow, no server) and
// DBOS Transact running the same four steps on the same event store through handleCommand
// (dbos), and doing the saga's five appends as raw optimistic INSERTs on the same streams, what
// a DBOS user would write by hand (dbos-raw, the peer every other subject is held to). Orders are
// driven by 1, 16 and 32 closed-loop clients; the subjects take turns in a rotating order.
//
// Options: --clients=1,16 --subjects=saga,bare --orders=N (per run at 16+ clients) --warmup=N
// (orders per subject before the measured runs) --client=grpc-js --no-eager-start
// --worker-option=maxCachedWorkflows=500 (JSON values, both workers: the SDK's WorkerOptions,
// e.g. workflowThreadPoolSize), and the server settings of bench/run.ts.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { grantCredit, restockProduct } from '../../catalog/catalog';
import { createOrderClient, orderSagaStartOptions } from '../../client/order-client';
import type { OrderSagaInput } from '../../workflows/types';
import { createLogger } from '../../logger';
import { createDb, createEventStore, createPool, type EventStoreTables } from '../../eventstore';
import { withDatabase } from '../../provision/postgres';
import { createOrderWorker } from '../../temporal/order-worker';
import { installTemporalRuntime } from '../../temporal/runtime';
import { createOrderActivities } from '../../activities/order.activities';
import { bareActivities } from '../bare-saga/activities';
import { sagaSteps } from '../bare-saga/steps';
import { CpuMeter, loadAverage } from '../cpu';
import { type BenchRow, type BenchScenario, median, percentile } from '../scenario';
import { launchDbosSaga } from '../saga/dbos-saga';

/** Activities per orderSaga of one line: createOrder, reserveInventory, chargePayment, confirmOrder. */
const SAGA_STEPS = 4;
const DBOS = 'DBOS Transact, same 4 steps';
const DBOS_RAW = 'DBOS Transact, the 5 appends as raw INSERTs';
const ACTIVITIES_ALONE = "the saga's activities alone, no workflow";
/** Subjects that run without the Temporal server. */
const NO_SERVER = [DBOS, DBOS_RAW, ACTIVITIES_ALONE];
/** Products and customers are spread so that few concurrent orders touch the same streams. */
const PRODUCTS = 64;

interface Run {
  throughput: number;
  p50: number;
  p99: number;
  temporalCpuMs: number | undefined;
  nodeCpuMs: number;
  nodeMainThreadCpuMs: number;
  postgresCpuMs: number;
  /** A Temporal server on Postgres (--temporal-postgres): its backends. */
  temporalPostgresCpuMs: number | undefined;
  load: number | undefined;
}

interface Subject {
  /** Row subject, e.g. "orderSaga, local activities". */
  name: string;
  /** Short name for --subjects. */
  key: string;
  /** The row whose figures show Temporal's own cost for the same shape of work. */
  baseline?: string;
  one: (id: string, i: number) => Promise<void>;
}

/** Runs `count` orders through `clients` closed-loop clients; each runs start to result. */
async function drive(
  count: number,
  clients: number,
  one: (i: number) => Promise<void>,
): Promise<{ throughput: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
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

function workerOptionsFrom(values: string[]): Partial<WorkerOptions> {
  return Object.fromEntries(
    values.map((kv) => {
      const [key, ...value] = kv.split('=');
      return [key!, JSON.parse(value.join('=')) as unknown];
    }),
  );
}

const scenario: BenchScenario = {
  name: 'saga',
  needsTemporal: true,
  async run(ctx) {
    const address = ctx.infra.temporalAddress;
    if (!address) throw new Error('the saga bench needs a Temporal server');
    // The SDK's runtime as the product installs it (bootstrap.ts), errors only in the bench's log.
    installTemporalRuntime(createLogger('error', 'bench'));
    const clientLevels = (ctx.options.get('clients')?.[0] ?? (ctx.quick ? '1,16' : '1,16,32'))
      .split(',')
      .map(Number);
    const manyOrders = Number(ctx.options.get('orders')?.[0] ?? (ctx.quick ? 160 : 320));
    // One client runs a few orders a second at most: fewer of them keep the run short.
    const ordersAt = (clients: number) => (clients === 1 ? manyOrders / 4 : manyOrders);
    const wanted = ctx.options.get('subjects')?.[0]?.split(',');
    const workerOptions = workerOptionsFrom(ctx.options.get('worker-option') ?? []);
    const run = randomUUID().slice(0, 8);

    const url = await ctx.freshDatabase();
    const databaseName = new URL(url).pathname.slice(1);
    const dbosSystemUrl = withDatabase(url, `${databaseName}_dbos`);
    const pool = createPool(url, { max: 20, applicationName: 'saga-bench' });
    const admin = createPool(ctx.infra.adminUrl, { max: 1, applicationName: 'saga-bench-cpu' });
    const store = createEventStore(createDb<EventStoreTables>(pool));
    for (let p = 0; p < PRODUCTS; p++) {
      await restockProduct(store, `bench-${p}`, 1_000_000);
      await grantCredit(store, `bench-customer-${p}`, 1_000_000_000);
    }
    const meter = new CpuMeter(
      admin,
      () => [databaseName, `${databaseName}_dbos`],
      ctx.infra.temporalPid,
      ctx.infra.temporalDatabases,
    );

    const nativeConnection = await NativeConnection.connect({ address });
    const connection = await Connection.connect({ address });
    // The client shares the worker's Rust connection, as npm start does; --client=grpc-js
    // gives it its own grpc-js connection (what it cost: docs/benchmarks.md).
    const client = new Client({
      connection: ctx.options.get('client')?.[0] === 'grpc-js' ? connection : nativeConnection,
      namespace: 'default',
    });
    const sagaQueue = `bench-saga-${run}`;
    const bareQueue = `bench-bare-${run}`;
    ctx.log('bundling the saga and the bare workflow; launching DBOS');
    const sagaWorker = await createOrderWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: sagaQueue,
      store,
      dbPoolMax: 20,
      workerOptions,
    });
    const bareWorker = await Worker.create({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: bareQueue,
      workflowsPath: require.resolve('../bare-saga/workflows'),
      // bareOrderSaga runs the product's activities, on the same store as orderSaga's worker.
      activities: { ...bareActivities, ...createOrderActivities({ store }) },
      ...workerOptions,
    });
    const running = [sagaWorker.run(), bareWorker.run()];
    const dbos = await launchDbosSaga(store, pool, dbosSystemUrl);

    const order = (id: string, i: number) => ({
      orderId: id,
      customerId: `bench-customer-${i % PRODUCTS}`,
      items: [{ productId: `bench-${i % PRODUCTS}`, quantity: 1, unitPriceCents: 100 }],
    });
    // The workers share the client's native connection, as with npm start: the first workflow
    // task comes back in the start call's answer (--no-eager-start: through matching).
    const eagerStart = client.connection === nativeConnection && !ctx.options.has('no-eager-start');
    const bare = (steps: number, local: boolean, waitMs?: number) => async (id: string) => {
      await client.workflow.execute('bareSaga', {
        taskQueue: bareQueue,
        workflowId: `bare-${id}`,
        requestEagerStart: eagerStart,
        args: [{ steps, local, waitMs }],
      });
    };
    // The input orderSaga gets for the i-th order, as the baselines without the saga take it.
    const orderInput = (id: string, i: number, local: boolean): OrderSagaInput => ({
      ...order(id, i),
      currency: 'USD',
      shippingAddress: null,
      paymentConfirmationThresholdCents: Number.MAX_SAFE_INTEGER,
      paymentConfirmationTimeoutMs: 60_000,
      correlationId: id,
      useLocalActivities: local,
    });
    const bareOrder =
      (local: boolean, announced = false) =>
      async (id: string, i: number) => {
        // `announced` only when set: the plain subject's input stays as it was.
        const input = { ...orderInput(id, i, local), ...(announced ? { announced } : {}) };
        await client.workflow.execute('bareOrderSaga', {
          taskQueue: bareQueue,
          workflowId: `bare-order-${id}`,
          requestEagerStart: eagerStart,
          args: [input],
          // Started as the order client starts orderSaga: its memo and search attributes.
          ...(announced ? orderSagaStartOptions(input) : {}),
        });
      };
    const saga = (local: boolean) => {
      const sagas = createOrderClient(client, {
        taskQueue: sagaQueue,
        paymentConfirmationThresholdCents: Number.MAX_SAFE_INTEGER,
        paymentConfirmationTimeoutMs: 60_000,
        useLocalActivities: local,
        eagerStart,
      });
      return async (id: string, i: number) => {
        await sagas.start(order(id, i));
        const result = await sagas.result(id);
        if (result.status !== 'completed') throw new Error(`${id}: ${result.reason}`);
      };
    };
    // The saga's four activities called in turn in this process, through the SDK's activity
    // context but with no workflow and no Temporal server: what their own code and `pg` cost.
    const activities = createOrderActivities({ store });
    const activitiesAlone = async (id: string, i: number) => {
      const env = new MockActivityEnvironment({
        workflowExecution: { workflowId: `activities-${id}`, runId: id },
      });
      const steps = sagaSteps(orderInput(id, i, true));
      await env.run(() => activities.createOrder(steps.createOrder));
      await env.run(() => activities.reserveInventoryItems(steps.reserveInventoryItems));
      await env.run(() => activities.chargePayment(steps.chargePayment));
      await env.run(() => activities.confirmOrder(steps.confirmOrder));
    };
    const subjects: Subject[] = [
      { key: 'bare0', name: 'bare workflow, 0 activities', one: bare(0, false) },
      { key: 'bare-local', name: 'bare workflow, 4 local activities', one: bare(SAGA_STEPS, true) },
      {
        key: 'bare-wait-local',
        name: 'bare workflow, 4 local activities waiting 2 ms',
        baseline: 'bare workflow, 4 local activities',
        one: bare(SAGA_STEPS, true, 2),
      },
      {
        key: 'bare-remote',
        name: 'bare workflow, 4 remote activities',
        one: bare(SAGA_STEPS, false),
      },
      {
        key: 'bare-order-local',
        name: "bare workflow, the saga's activities, local",
        baseline: 'bare workflow, 4 local activities',
        one: bareOrder(true),
      },
      {
        key: 'bare-order-announced-local',
        name: "bare workflow, the saga's activities and Temporal calls, local",
        baseline: "bare workflow, the saga's activities, local",
        one: bareOrder(true, true),
      },
      {
        key: 'bare-order-remote',
        name: "bare workflow, the saga's activities, remote",
        baseline: 'bare workflow, 4 remote activities',
        one: bareOrder(false),
      },
      {
        key: 'saga-local',
        name: 'orderSaga, local activities',
        baseline: "bare workflow, the saga's activities, local",
        one: saga(true),
      },
      {
        key: 'saga-remote',
        name: 'orderSaga, remote activities',
        baseline: "bare workflow, the saga's activities, remote",
        one: saga(false),
      },
      {
        key: 'activities',
        name: ACTIVITIES_ALONE,
        one: activitiesAlone,
      },
      {
        key: 'dbos',
        name: DBOS,
        one: (id: string, i: number) => dbos.execute({ ...order(id, i), correlationId: id }),
      },
      {
        key: 'dbos-raw',
        name: DBOS_RAW,
        one: (id: string, i: number) => dbos.executeRaw({ ...order(id, i), correlationId: id }),
      },
    ].filter((s) => !wanted || wanted.some((w) => s.key.startsWith(w) || s.key === w));

    const samples = new Map<string, Run[]>();
    const repeats = ctx.quick ? 1 : Number(ctx.options.get('repeats')?.[0] ?? 3);
    try {
      // Repeat -1 is an unrecorded warm-up (JIT, connections, prepared statements, caches): 40
      // orders per subject left the later repeats up to 1.5x faster than the first.
      const warmup = Number(ctx.options.get('warmup')?.[0] ?? (ctx.quick ? 40 : 160));
      for (let repeat = -1; repeat < repeats; repeat++) {
        for (const clients of repeat < 0 ? [16] : clientLevels) {
          const count = repeat < 0 ? warmup : ordersAt(clients);
          // Each subject goes first in turn, so that drift in the machine hits all of them.
          const offset = Math.max(repeat, 0) % subjects.length;
          const order = [...subjects.slice(offset), ...subjects.slice(0, offset)];
          for (const subject of order) {
            const before = await meter.sample();
            const m = await drive(count, clients, (i) =>
              subject.one(`${run}-${subject.key}-${repeat}-${clients}-${i}`, i),
            );
            const used = await meter.since(before);
            if (repeat < 0) continue;
            const r: Run = {
              ...m,
              temporalCpuMs: used.temporalMs === undefined ? undefined : used.temporalMs / count,
              nodeCpuMs: used.nodeMs / count,
              nodeMainThreadCpuMs: used.nodeMainThreadMs / count,
              postgresCpuMs: used.postgresMs / count,
              temporalPostgresCpuMs:
                used.temporalPostgresMs === undefined ? undefined : used.temporalPostgresMs / count,
              load: loadAverage(),
            };
            const key = `${subject.name}|${clients}`;
            samples.set(key, [...(samples.get(key) ?? []), r]);
            ctx.log(
              `#${repeat + 1} ${clients} clients ${subject.name}: ${r.throughput.toFixed(1)}/s, ` +
                `p50 ${r.p50.toFixed(1)} ms, CPU ms/order temporal ${r.temporalCpuMs?.toFixed(1)} ` +
                `${r.temporalPostgresCpuMs === undefined ? '' : `(its Postgres ${r.temporalPostgresCpuMs.toFixed(1)}) `}` +
                `node ${r.nodeCpuMs.toFixed(1)} (main thread ${r.nodeMainThreadCpuMs.toFixed(1)}) postgres ${r.postgresCpuMs.toFixed(1)}, load ${r.load}`,
            );
          }
        }
      }
    } finally {
      sagaWorker.shutdown();
      bareWorker.shutdown();
      await Promise.all(running);
      await dbos.shutdown();
      await connection.close();
      await nativeConnection.close();
      await pool.end();
      await admin.end();
    }

    const rows: BenchRow[] = [];
    for (const [key, runs] of samples) {
      const [subject, clients] = key.split('|') as [string, string];
      const load = runs.map((r) => r.load ?? NaN);
      const row = (metric: string, unit: string, values: number[]): BenchRow => ({
        scenario: 'saga',
        subject,
        variant: `${clients} client${clients === '1' ? '' : 's'}`,
        metric,
        unit,
        value: median(values),
        runs: values,
        load,
      });
      rows.push(
        row(
          'throughput',
          'orders/s',
          runs.map((r) => r.throughput),
        ),
        row(
          'latency p50',
          'ms',
          runs.map((r) => r.p50),
        ),
        row(
          'latency p99',
          'ms',
          runs.map((r) => r.p99),
        ),
        row(
          'CPU Node (worker+client)',
          'ms/order',
          runs.map((r) => r.nodeCpuMs),
        ),
        row(
          'CPU Node main thread',
          'ms/order',
          runs.map((r) => r.nodeMainThreadCpuMs),
        ),
        row(
          'CPU Postgres backends',
          'ms/order',
          runs.map((r) => r.postgresCpuMs),
        ),
      );
      // The Temporal server's figures, where this run has them (DBOS and the activities alone use
      // no server).
      const temporal: [string, (r: Run) => number | undefined][] = [
        ['CPU Temporal persistence (Postgres)', (r) => r.temporalPostgresCpuMs],
        ['CPU Temporal server', (r) => r.temporalCpuMs],
      ];
      for (const [metric, of] of NO_SERVER.includes(subject) ? [] : temporal) {
        const values = runs.map(of);
        if (values.every((v) => v !== undefined)) rows.push(row(metric, 'ms/order', values));
      }
    }
    // orderSaga against the bare workflow with the same activities (Temporal's own cost), every
    // other subject against DBOS with raw appends (the peer).
    return rows.map((row) => {
      const baseline =
        subjects.find((s) => s.name === row.subject)?.baseline ??
        (row.subject === DBOS_RAW ? undefined : DBOS_RAW);
      const base = rows.find(
        (r) => r.subject === baseline && r.variant === row.variant && r.metric === row.metric,
      );
      return base ? { ...row, baseline, ratio: row.value / base.value } : row;
    });
  },
};

export default scenario;
