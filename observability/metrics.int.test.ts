// The Temporal SDK's Prometheus endpoint (Runtime telemetry options) and its quiet log lines, the
// order_sagas_compensation_failed gauge, and the Grafana dashboard and Prometheus rules: every
// metric they name is served by the API's /metrics or the SDK's endpoint. Against the real
// Temporal dev server and Postgres.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type express from 'express';
import { Registry } from 'prom-client';
import request from 'supertest';
import { parse as parseYaml } from 'yaml';
import { createApp } from '../api/app';
import { createOrderClient, type OrderClient } from '../client/order-client';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { allProjections, ProjectionRunner } from '../projections';
import { createTestDatabase, eventually, refuseWrites, type TestDatabase } from '../test/harness';
import { exposedMetricNames, promqlMetricNames } from '../test/promql';
import { createOrderWorker } from '../temporal/order-worker';
import {
  type CompensationFailedGauge,
  startCompensationFailedGauge,
} from '../monitors/compensation-failed-gauge';
import { startLongRunningSagasGauge } from '../monitors/long-running-sagas-gauge';
import { createMetrics, type Metrics } from './metrics';
import { registerProjectionGauges } from '../monitors/projection-gauges';
import { createLogger } from '../logger';
import { installTemporalRuntime } from '../temporal/runtime';

jest.setTimeout(120_000);

let t: TestDatabase;
let worker: Worker;
let running: Promise<void>;
let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;
let orders: OrderClient;
let sdkMetricsUrl: string;
let metrics: Metrics;
let runner: ProjectionRunner;
let app: express.Express;
const taskQueue = `metrics-${randomUUID()}`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  sdkMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  installTemporalRuntime(createLogger('warn', 'metrics-test'), {
    metricsAddress: `127.0.0.1:${port}`,
  });
  // The store reports appends to the metrics, as in `npm start` and `npm run api`.
  t = await createTestDatabase({
    onAppended: (stream, events) => metrics.onAppended(stream, events),
  });
  metrics = createMetrics({ defaultMetrics: false });
  registerProjectionGauges(metrics.registry, t.db);
  runner = new ProjectionRunner({
    databaseUrl: t.url,
    store: t.store,
    projections: allProjections,
    pollIntervalMs: 200,
    onBatch: metrics.onBatch,
  });
  await runner.start();
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  nativeConnection = await NativeConnection.connect({ address });
  worker = await createOrderWorker({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue,
    store: t.store,
    dbPoolMax: 20,
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
  });
  running = worker.run();
  connection = await Connection.connect({ address });
  client = new Client({ connection, namespace: 'default' });
  orders = createOrderClient(client, {
    taskQueue,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 10_000,
    compensationMaxAttempts: 2,
  });
  await restockProduct(t.store, 'm-product', 10);
  await grantCredit(t.store, 'm-rich', 1_000_000);
  await grantCredit(t.store, 'm-poor', 1);
  app = createApp({ readDb: t.db, store: t.store, orders, metrics });
});

afterAll(async () => {
  await runner?.stop();
  worker?.shutdown();
  await running;
  await connection?.close();
  await nativeConnection?.close();
  await t?.close();
});

async function sdkMetrics(): Promise<string> {
  const res = await fetch(sdkMetricsUrl);
  expect(res.status).toBe(200);
  return res.text();
}

test('the SDK serves schedule-to-start latency, slots, task latency and sticky cache metrics', async () => {
  await orders.start({
    orderId: 'm-ok',
    customerId: 'm-rich',
    items: [{ productId: 'm-product', quantity: 1, unitPriceCents: 100 }],
  });
  await expect(orders.result('m-ok')).resolves.toMatchObject({ status: 'completed' });
  const names = exposedMetricNames(await sdkMetrics());
  process.stderr.write(`[sdk metrics] ${[...names].sort().join(' ')}\n`);
  for (const name of [
    'temporal_workflow_task_schedule_to_start_latency_bucket',
    'temporal_activity_schedule_to_start_latency_bucket',
    'temporal_workflow_task_execution_latency_bucket',
    'temporal_worker_task_slots_available',
    'temporal_worker_task_slots_used',
    'temporal_sticky_cache_size',
    'temporal_sticky_cache_hit_total',
  ])
    expect(names).toContain(name);
  const text = await sdkMetrics();
  expect(text).toMatch(
    new RegExp(`temporal_worker_task_slots_available\\{[^}]*task_queue="${taskQueue}"`),
  );
  // What WorkerNotPolling counts: each answered long poll, by operation and task queue.
  expect(text).toMatch(
    new RegExp(
      `temporal_long_request_total\\{(?=[^}]*operation="PollWorkflowTaskQueue")(?=[^}]*task_queue="${taskQueue}")[^}]*\\} [1-9]`,
    ),
  );
});

test('order_sagas_compensation_failed counts the parked sagas, refreshed on a timer', async () => {
  const registry = new Registry();
  const gauge: CompensationFailedGauge = startCompensationFailedGauge(registry, client, {
    taskQueue,
    refreshMs: 200,
  });
  try {
    const value = async () =>
      (await registry.getSingleMetric('order_sagas_compensation_failed')!.get()).values[0]?.value;
    await eventually(async () => ((await value()) === 0 ? true : undefined));
    const allowReleases = await refuseWrites(
      t.pool,
      'ReservationReleased',
      undefined,
      'refused by the test',
    );
    await orders.start({
      orderId: 'm-stuck',
      customerId: 'm-poor',
      items: [{ productId: 'm-product', quantity: 1, unitPriceCents: 1000 }],
    });
    await eventually(async () => ((await value()) === 1 ? true : undefined), 30_000, 'gauge = 1');
    // Parked, so not counted as running too long, even past a limit of 0 (m-ok has completed).
    const longRunning = new Registry();
    const everyRunning = startLongRunningSagasGauge(longRunning, client, {
      taskQueue,
      limits: [{ label: '0s', ms: 0 }],
      refreshMs: 60_000,
    });
    try {
      await everyRunning.refresh();
      const series = await longRunning.getSingleMetric('order_sagas_running_longer_than')!.get();
      expect(series.values).toEqual([{ labels: { older_than: '0s' }, value: 0 }]);
    } finally {
      everyRunning.stop();
    }
    await allowReleases();
    await orders.retryCompensation('m-stuck');
    await expect(orders.result('m-stuck')).resolves.toMatchObject({ status: 'cancelled' });
    await eventually(async () => ((await value()) === 0 ? true : undefined), 30_000, 'gauge = 0');
  } finally {
    gauge.stop();
  }
});

test('order_sagas_running_longer_than counts the sagas running past each limit', async () => {
  const registry = new Registry();
  const gauge = startLongRunningSagasGauge(registry, client, {
    taskQueue,
    limits: [
      { label: '1s', ms: 1_000 },
      { label: '1h', ms: 3_600_000 },
    ],
    refreshMs: 200,
  });
  const counts = async () =>
    Object.fromEntries(
      (await registry.getSingleMetric('order_sagas_running_longer_than')!.get()).values.map((v) => [
        v.labels.older_than,
        v.value,
      ]),
    );
  try {
    // Above the confirmation threshold: the saga waits for its payment to be confirmed.
    await orders.start({
      orderId: 'm-waiting',
      customerId: 'm-rich',
      items: [{ productId: 'm-product', quantity: 1, unitPriceCents: 200_000 }],
    });
    await eventually(
      async () => ((await counts())['1s'] === 1 ? true : undefined),
      30_000,
      'one saga running past 1 s',
    );
    expect((await counts())['1h']).toBe(0);
    await orders.confirmPayment('m-waiting', 200_000);
    await expect(orders.result('m-waiting')).resolves.toMatchObject({ status: 'completed' });
    await eventually(
      async () => ((await counts())['1s'] === 0 ? true : undefined),
      30_000,
      'none running past 1 s',
    );
    expect(
      (await registry.getSingleMetric('order_sagas_running_longer_than_refresh_errors')!.get())
        .values[0]?.value,
    ).toBe(0);
  } finally {
    gauge.stop();
  }
});

test('a workflow task that fails is counted by the SDK with the labels WorkflowTaskFailing groups by', async () => {
  // No such workflow type on this worker: its task fails (and is retried) until terminated.
  const handle = await client.workflow.start('noSuchWorkflow', {
    taskQueue,
    workflowId: `m-unknown-${randomUUID()}`,
    args: [],
  });
  try {
    const line = await eventually(
      async () =>
        (await sdkMetrics())
          .split('\n')
          .find((l) => l.startsWith('temporal_workflow_task_execution_failed_total{')),
      30_000,
      'temporal_workflow_task_execution_failed_total',
    );
    expect(line).toContain(`task_queue="${taskQueue}"`);
    expect(line).toContain('workflow_type="noSuchWorkflow"');
    expect(line).toContain('namespace="default"');
    expect(Number(line.split(' ').pop())).toBeGreaterThanOrEqual(1);
  } finally {
    await handle.terminate('test over');
  }
});

test('every metric the Grafana dashboard and the Prometheus rules name is served', async () => {
  const deploy = path.join(__dirname, '..', 'deploy');
  const dashboard = JSON.parse(
    fs.readFileSync(path.join(deploy, 'grafana/dashboards/order-saga.json'), 'utf8'),
  ) as { panels: { title: string; targets?: { expr: string }[] }[] };
  const rules = parseYaml(fs.readFileSync(path.join(deploy, 'prometheus/alerts.yml'), 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  const used = new Map<string, string>();
  for (const panel of dashboard.panels)
    for (const target of panel.targets ?? [])
      for (const name of promqlMetricNames(target.expr)) used.set(name, `panel "${panel.title}"`);
  for (const rule of rules.groups.flatMap((g) => g.rules))
    for (const name of promqlMetricNames(rule.expr)) used.set(name, `alert ${rule.alert}`);
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
  expect(alerts).toEqual(
    expect.arrayContaining([
      'ProjectionFailed',
      'ProjectionLagHigh',
      'SagaCompensationFailed',
      'OldOpenTransaction',
      'WorkflowTaskFailing',
      'SagaRunningTooLong',
      'WorkerDown',
      'WorkerNotPolling',
    ]),
  );
  // `up` is Prometheus's own series for each scrape target: the rules' job must be one.
  const scrape = parseYaml(
    fs.readFileSync(path.join(deploy, 'prometheus/prometheus.yml'), 'utf8'),
  ) as { scrape_configs: { job_name: string }[] };
  const jobs = scrape.scrape_configs.map((c) => c.job_name);
  for (const rule of rules.groups.flatMap((g) => g.rules))
    for (const [, job] of rule.expr.matchAll(/\bup\{[^}]*job="([^"]+)"/g))
      expect(jobs).toContain(job);
  used.delete('up');
  expect(used.size).toBeGreaterThan(15);

  // What a running stack serves: the API's /metrics (after a saga, a request and a projection
  // batch, so that every labelled series exists) and the SDK's endpoint.
  // The SDK's counters exist once counted: the tests above ran a saga and failed a workflow task.
  const gauge = startCompensationFailedGauge(metrics.registry, client, { taskQueue });
  const longRunning = startLongRunningSagasGauge(metrics.registry, client, { taskQueue });
  try {
    await Promise.all([gauge.refresh(), longRunning.refresh()]);
    await eventually(async () =>
      (await metrics.registry.getSingleMetric('projection_events_applied_total')!.get()).values
        .length > 0
        ? true
        : undefined,
    );
    await request(app).get('/health').expect(200);
    const api = await request(app).get('/metrics').expect(200);
    const served = new Set([
      ...exposedMetricNames(api.text),
      ...exposedMetricNames(await sdkMetrics()),
    ]);
    const missing = [...used]
      .filter(([name]) => !served.has(name))
      .map(([n, where]) => `${n} (${where})`);
    expect(missing).toEqual([]);
  } finally {
    gauge.stop();
    longRunning.stop();
  }
});
