// The embedded Postgres (the default when DATABASE_URL is unset) takes as many connections as
// `npm start` and the bench open together: initdb's default of 100 stopped the append bench
// at concurrency 32 with "sorry, too many clients already".
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { EMBEDDED_MAX_CONNECTIONS } from './postgres';

jest.setTimeout(120_000);

let child: ChildProcess;
let url: string;
let workDir: string;
beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'order-saga-embedded-'));
  // As root the server runs as its own user, which must reach its data directory.
  fs.chmodSync(workDir, 0o755);
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(__dirname, '..', 'test', 'embedded-postgres-process.ts'),
      path.join(workDir, 'pg'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  url = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`embedded Postgres process exited with ${code}`)),
    );
  });
});
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin!.end();
    await exited;
  }
  fs.rmSync(workDir, { recursive: true, force: true });
});

test('the embedded server allows more connections than initdb gives by default', async () => {
  const pool = new pg.Pool({ connectionString: url, max: 150 });
  // An idle client told of the server's shutdown emits 'error' on the pool; unheard, that
  // would crash the test after its assertions. A server that dies mid-test still fails it
  // (its queries reject, and the check below).
  const idleErrors: Error[] = [];
  pool.on('error', (err) => idleErrors.push(err));
  try {
    const { rows } = await pool.query<{ max_connections: string }>('SHOW max_connections');
    expect(Number(rows[0]!.max_connections)).toBe(EMBEDDED_MAX_CONNECTIONS);
    // More than the old limit at once: three bench subjects' pools of 32 and then some.
    const clients = await Promise.all(Array.from({ length: 150 }, () => pool.connect()));
    const { rows: active } = await clients[0]!.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'`,
    );
    expect(active[0]!.n).toBeGreaterThanOrEqual(150);
    for (const c of clients) c.release();
    // The server was up the whole time: no idle client heard of a shutdown.
    expect(child.exitCode).toBeNull();
    expect(idleErrors).toEqual([]);
  } finally {
    await pool.end();
  }
});
