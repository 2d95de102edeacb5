// Provisions what integration tests share, once per run: a Postgres (DATABASE_URL, or an
// embedded one in a temp dir) with a migrated template database, a headless in-memory
// Temporal dev server on free ports, and the workflow bundle. Values reach the test workers
// through environment variables (test/harness.ts reads them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createDb, createPool } from '../eventstore';
import { migrateToLatest } from '../migrations';
import { freePort } from '../provision/ports';
import {
  createDatabaseIfMissing,
  startEmbeddedPostgres,
  withDatabase,
} from '../provision/postgres';
import { ensureTemporalCli, startTemporalDevServer } from '../provision/temporal';

type Stop = () => Promise<void>;
declare global {
  var __integrationStops: Stop[] | undefined;
}

export default async function globalSetup(): Promise<void> {
  try {
    await provision();
  } catch (err) {
    // Jest skips the teardown when setup fails: stop what was started here.
    for (const stop of [...(globalThis.__integrationStops ?? [])].reverse()) {
      await stop().catch(() => undefined);
    }
    throw err;
  }
}

async function provision(): Promise<void> {
  const config = loadConfig();
  const stops: Stop[] = [];
  globalThis.__integrationStops = stops;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'order-saga-test-'));
  // The embedded Postgres runs as its own user when we are root: it must reach its data dir.
  fs.chmodSync(workDir, 0o755);
  stops.push(async () => fs.rmSync(workDir, { recursive: true, force: true }));

  const log = (line: string) => process.stderr.write(`[setup] ${line}\n`);
  const [adminUrl, temporal, bundle] = await Promise.all([
    (async () => {
      if (config.databaseUrl) return config.databaseUrl;
      log('DATABASE_URL unset: starting an embedded Postgres');
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(workDir, 'pg'),
        port: await freePort(),
        database: 'postgres',
      });
      stops.push(pg.stop);
      return pg.url;
    })(),
    (async () => {
      if (config.temporal.address) return { address: config.temporal.address };
      const cli = await ensureTemporalCli(config.temporal.cliPath, log);
      const server = await startTemporalDevServer({
        cliPath: cli,
        port: await freePort(),
        logFile: path.join(workDir, 'temporal.log'),
      });
      stops.push(server.stop);
      return server;
    })(),
    bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger }),
  ]);

  const template = `order_saga_test_${process.pid}_${Date.now()}`;
  await createDatabaseIfMissing(adminUrl, template);
  const pool = createPool(withDatabase(adminUrl, template), { max: 1 });
  const db = createDb(pool);
  await migrateToLatest(db);
  await db.destroy();

  const bundlePath = path.join(workDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);

  process.env.TEST_ADMIN_DATABASE_URL = adminUrl;
  process.env.TEST_TEMPLATE_DATABASE = template;
  process.env.TEST_TEMPORAL_ADDRESS = temporal.address;
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
}

const noop = () => undefined;
const quietLogger = {
  log: noop,
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: console.error,
};
