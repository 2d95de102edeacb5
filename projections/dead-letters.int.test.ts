// Poison events end to end against the real Postgres: an event whose fold keeps throwing is set
// aside after N attempts and the projection goes on; the dead letter shows in status, in
// /metrics and in `npm run projections -- dead-letters`; `retry` folds it after a fix, `skip`
// drops it; a rebuild reports what it skipped and parks it again.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createMetrics } from '../observability/metrics';
import { registerProjectionGauges } from '../monitors/projection-gauges';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { listDeadLetters, retryDeadLetter } from './dead-letters';
import type { Projection } from './projection';
import { projectionStatus } from './read-models';
import { rebuildProjection } from './rebuild';
import { ProjectionRunner } from './runner';

jest.setTimeout(120_000);

let t: TestDatabase;
let runner: ProjectionRunner | undefined;
let fixed = false;

/** Records every event it folds; one marked poison throws, until `fixed`. */
const probe: Projection = {
  name: 'poison_probe',
  tables: ['poison_probe'],
  handles: new Set(['ProbeHappened']),
  async apply({ client, table }, events) {
    for (const e of events) {
      const data = e.data as { n: number; poison?: boolean };
      if (data.poison && !fixed) throw new TypeError(`cannot fold probe ${data.n}`);
      await client.query(`INSERT INTO ${table('poison_probe')} (n) VALUES ($1)`, [data.n]);
    }
  },
};

beforeAll(async () => {
  t = await createTestDatabase();
  await t.pool.query('CREATE TABLE read_models.poison_probe (n integer PRIMARY KEY)');
});
afterAll(async () => {
  await runner?.stop();
  await t.close();
});

const folded = async () =>
  (await t.pool.query<{ n: number }>('SELECT n FROM read_models.poison_probe ORDER BY n')).rows.map(
    (r) => r.n,
  );

const cli = (...args: string[]) =>
  promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '../cli/projections.ts'), ...args],
    { cwd: path.join(__dirname, '..'), env: { ...process.env, DATABASE_URL: t.url } },
  );

test('a poison event is set aside after N attempts, retried, skipped, and reported by a rebuild', async () => {
  runner = new ProjectionRunner({
    databaseUrl: t.url,
    store: t.store,
    projections: [probe],
    pollIntervalMs: 50,
    deadLetterAfter: 3,
    retryBackoffMs: 20,
  });
  await runner.start();
  await t.store.appendToStream({ type: 'Probe', id: 'p' }, 'no_stream', [
    { type: 'ProbeHappened', data: { n: 1 } },
    { type: 'ProbeHappened', data: { n: 2, poison: true } },
    { type: 'ProbeHappened', data: { n: 3 } },
    { type: 'ProbeHappened', data: { n: 4, poison: true } },
    { type: 'ProbeHappened', data: { n: 5 } },
  ]);

  const parked = await eventually(
    async () => {
      const rows = await listDeadLetters(t.db);
      return rows.length === 2 ? rows : undefined;
    },
    30_000,
    'two dead letters',
  );
  expect(parked.map((d) => [d.projection, d.eventType, d.version, d.attempts, d.status])).toEqual([
    ['poison_probe', 'ProbeHappened', 2, 3, 'parked'],
    ['poison_probe', 'ProbeHappened', 4, 3, 'parked'],
  ]);
  expect(parked[0]!.error).toMatch(/Probe-p v2\): cannot fold probe 2/);
  // The projection went on past both.
  await eventually(async () => ((await folded()).length === 3 ? true : undefined));
  expect(await folded()).toEqual([1, 3, 5]);
  const [status] = await projectionStatus(t.db);
  expect(status).toMatchObject({
    status: 'running',
    lagEvents: 0,
    deadLetters: 2,
    lastError: null,
  });

  const metrics = createMetrics({ defaultMetrics: false });
  registerProjectionGauges(metrics.registry, t.db);
  expect(await metrics.registry.metrics()).toContain(
    'projection_dead_letters{projection="poison_probe"} 2',
  );

  const listed = await cli('dead-letters');
  expect(listed.stdout).toContain(`${parked[0]!.id}`);
  expect(listed.stdout).toMatch(/poison_probe\s+parked\s+\d+ ProbeHappened Probe-p v4/);

  // After a fix, retry folds the first one; skip drops the second for good.
  fixed = true;
  await expect(
    retryDeadLetter({
      databaseUrl: t.url,
      store: t.store,
      projections: [probe],
      id: parked[0]!.id,
    }),
  ).resolves.toMatchObject({ status: 'retried' });
  expect(await folded()).toEqual([1, 2, 3, 5]);
  const skipped = await cli('skip', String(parked[1]!.id));
  expect(skipped.stdout).toContain(`Dead letter ${parked[1]!.id} of poison_probe skipped`);
  expect(await listDeadLetters(t.db)).toEqual([]);
  await expect(cli('skip', String(parked[1]!.id))).rejects.toMatchObject({
    stderr: expect.stringContaining(`no parked dead letter with id ${parked[1]!.id}`),
  });
  expect((await projectionStatus(t.db))[0]!.deadLetters).toBe(0);

  // The fix regresses: a rebuild skips both again, says so, and parks them.
  fixed = false;
  const rebuilt = await rebuildProjection({
    databaseUrl: t.url,
    store: t.store,
    projection: probe,
    deadLetterAfter: 2,
  });
  expect(rebuilt.skipped.map((s) => [s.event.version, s.attempts])).toEqual([
    [2, 2],
    [4, 2],
  ]);
  expect(rebuilt.applied).toBe(3);
  expect(await folded()).toEqual([1, 3, 5]);
  expect((await listDeadLetters(t.db)).map((d) => [d.version, d.status])).toEqual([
    [2, 'parked'],
    [4, 'parked'],
  ]);
});
