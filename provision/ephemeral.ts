// Throwaway infrastructure for tests and benchmarks: a Postgres (DATABASE_URL, or an embedded
// one in a temp dir) holding a migrated template database that fresh databases are copied
// from, and a headless in-memory Temporal dev server on free ports.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../config';
import { createDb, createPool } from '../eventstore/db';
import { migrateToLatest } from '../migrations';
import { freePort } from './ports';
import { createDatabaseIfMissing, startEmbeddedPostgres, withDatabase } from './postgres';
import { type DevServerOptions, ensureTemporalCli, startTemporalDevServer } from './temporal';
import { startTemporalCluster } from './temporal-cluster';

export interface EphemeralInfrastructure {
  adminUrl: string;
  templateDatabase: string;
  temporalAddress: string | undefined;
  /** The dev server's process id when we started it (the bench reads its CPU time). */
  temporalPid: number | undefined;
  /** The databases of a Temporal server persisting to Postgres (`temporalCluster`). */
  temporalDatabases: string[];
  workDir: string;
  stop: () => Promise<void>;
}

export async function startEphemeralInfrastructure(
  config: Config,
  options: {
    temporal: boolean;
    log?: (line: string) => void;
    /** Settings to try on the dev server (the bench); `dbFile` is relative to the work dir. */
    temporalServer?: Pick<DevServerOptions, 'dynamicConfig' | 'sqlitePragmas' | 'dbFile'>;
    /**
     * A Temporal server persisting to this Postgres (provision/temporal-cluster.ts, the
     * production topology) instead of the dev server.
     */
    temporalCluster?: boolean;
  },
): Promise<EphemeralInfrastructure> {
  const log = options.log ?? (() => undefined);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of [...stops].reverse()) await s().catch(() => undefined);
  };
  try {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'order-saga-'));
    // The embedded Postgres runs as its own user when we are root: it must reach its data dir.
    fs.chmodSync(workDir, 0o755);
    stops.push(async () => fs.rmSync(workDir, { recursive: true, force: true }));

    let temporalPid: number | undefined;
    const [adminUrl, devServerAddress] = await Promise.all([
      (async () => {
        if (config.databaseUrl) return config.databaseUrl;
        log('DATABASE_URL unset: starting an embedded Postgres');
        const server = await startEmbeddedPostgres({
          dataDir: path.join(workDir, 'pg'),
          port: await freePort(),
          database: 'postgres',
        });
        stops.push(server.stop);
        return server.url;
      })(),
      (async () => {
        if (!options.temporal || options.temporalCluster) return undefined;
        if (config.temporal.address) return config.temporal.address;
        const cli = await ensureTemporalCli(config.temporal.cliPath, log);
        const server = await startTemporalDevServer({
          cliPath: cli,
          port: await freePort(),
          logFile: path.join(workDir, 'temporal.log'),
          ...options.temporalServer,
          dbFile: options.temporalServer?.dbFile
            ? path.join(workDir, options.temporalServer.dbFile)
            : undefined,
        });
        temporalPid = server.pid;
        stops.push(server.stop);
        return server.address;
      })(),
    ]);

    let temporalAddress = devServerAddress;
    let temporalDatabases: string[] = [];
    if (options.temporal && options.temporalCluster) {
      log('starting a Temporal server on Postgres');
      const cluster = await startTemporalCluster({
        adminUrl,
        workDir,
        databasePrefix: `temporal_${process.pid}_${Date.now()}`,
      });
      stops.push(() => cluster.stop());
      temporalAddress = cluster.address;
      temporalPid = cluster.pid;
      temporalDatabases = [cluster.databases.main, cluster.databases.visibility];
    }

    const templateDatabase = `order_saga_tmp_${process.pid}_${Date.now()}`;
    await createDatabaseIfMissing(adminUrl, templateDatabase);
    stops.push(() => dropDatabasesLike(adminUrl, templateDatabase));
    const db = createDb(createPool(withDatabase(adminUrl, templateDatabase), { max: 1 }));
    await migrateToLatest(db);
    await db.destroy();
    return {
      adminUrl,
      templateDatabase,
      temporalAddress,
      temporalPid,
      temporalDatabases,
      workDir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A fresh, migrated database: a copy of the template. Returns its URL. */
export async function copyTemplateDatabase(adminUrl: string, template: string): Promise<string> {
  const name = `${template}_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(
      `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`,
    );
  } finally {
    await admin.end();
  }
  return withDatabase(adminUrl, name);
}

/** Drops the template and every copy made from it. */
export async function dropDatabasesLike(adminUrl: string, template: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1',
      [`${template}%`],
    );
    // Copies first: the template cannot be dropped while it is being copied from.
    for (const { datname } of rows.sort((a, b) => b.datname.length - a.datname.length)) {
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
    }
  } finally {
    await client.end();
  }
}
