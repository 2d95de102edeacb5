// With tracing on, one order placed through POST /orders makes one connected trace: the HTTP
// server span -> StartWorkflow -> RunWorkflow -> the activities -> the INSERTs into
// domain_events, with the correlation id as a span attribute and the trace id in every event's
// metadata. Spans are collected by an in-memory exporter in a child process running the real
// worker, client and API (tracing.fixture.ts), against the real Postgres and Temporal.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { CORRELATION_ID_ATTRIBUTE } from './trace-context';

jest.setTimeout(180_000);

interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

const statementOf = (s: SpanRecord): string => {
  const statement = s.attributes['db.statement'];
  return typeof statement === 'string' ? statement : '';
};

let t: TestDatabase;
let output: {
  orderId: string;
  result: { status: string };
  spans: SpanRecord[];
  events: { type: string; traceId: string | null }[];
};

beforeAll(async () => {
  t = await createTestDatabase();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(__dirname, 'tracing.fixture.ts'),
      t.url,
      process.env.TEST_TEMPORAL_ADDRESS!,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`tracing fixture exited with ${code}:\n${stderr}`);
  output = JSON.parse(stdout.trim().split('\n').at(-1)!) as typeof output;
});

afterAll(async () => {
  await t?.close();
});

test('POST /orders -> StartWorkflow -> workflow -> activities -> INSERT is one trace', () => {
  const { spans } = output;
  expect(output.result.status).toBe('completed');
  const server = spans.find(
    (s) => s.kind === (SpanKind.SERVER as number) && s.attributes['http.target'] === '/orders',
  );
  expect(server).toBeDefined();
  expect(server!.attributes['http.method']).toBe('POST');
  // Named by its Express route, not by the method alone.
  expect(server!.attributes['http.route']).toBe('/orders');
  expect(server!.name).toBe('POST /orders');
  expect(server!.attributes[CORRELATION_ID_ATTRIBUTE]).toBe('corr-traced-1');
  const trace = spans.filter((s) => s.traceId === server!.traceId);
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const parentOf = (s: SpanRecord) => (s.parentSpanId ? byId.get(s.parentSpanId) : undefined);
  const ancestors = (s: SpanRecord) => {
    const names: string[] = [];
    for (let p = parentOf(s); p; p = parentOf(p)) names.push(p.name);
    return names;
  };

  const start = trace.find((s) => s.name === 'StartWorkflow:orderSaga');
  expect(start && parentOf(start)).toBe(server);
  const run = trace.find((s) => s.name === 'RunWorkflow:orderSaga');
  expect(run && ancestors(run)).toContain('StartWorkflow:orderSaga');

  const activities = trace.filter((s) => s.name.startsWith('RunActivity:'));
  // create, reserve, pay, confirm (at least: a retried activity is one more span).
  expect(activities.length).toBeGreaterThanOrEqual(4);
  expect(activities.map((s) => s.name)).toEqual(
    expect.arrayContaining(['RunActivity:createOrder', 'RunActivity:confirmOrder']),
  );
  for (const activity of activities) {
    expect(ancestors(activity)).toEqual(
      expect.arrayContaining(['RunWorkflow:orderSaga', 'StartWorkflow:orderSaga']),
    );
    expect(activity.attributes[CORRELATION_ID_ATTRIBUTE]).toBe('corr-traced-1');
  }

  const inserts = trace.filter((s) => /INSERT INTO domain_events/i.test(statementOf(s)));
  expect(inserts.length).toBeGreaterThanOrEqual(activities.length);
  for (const insert of inserts)
    expect(ancestors(insert).find((n) => n.startsWith('RunActivity:'))).toBeDefined();
  // Every span of the trace hangs off the HTTP request.
  for (const span of trace) if (span !== server) expect(ancestors(span).at(-1)).toBe(server!.name);
});

test("each of the order's events carries the trace id in its metadata", () => {
  const server = output.spans.find((s) => s.attributes['http.target'] === '/orders')!;
  expect(output.events.map((e) => e.type)).toEqual(
    expect.arrayContaining(['OrderCreated', 'OrderCompleted']),
  );
  expect(new Set(output.events.map((e) => e.traceId))).toEqual(new Set([server.traceId]));
});
