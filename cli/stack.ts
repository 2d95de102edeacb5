// The infrastructure `npm start` brings up when none is configured: an embedded Postgres and a
// local Temporal dev server (bootstrap.ts then runs the pieces on them).
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { startEmbeddedPostgres } from '../provision/postgres';
import { ensureTemporalCli, startTemporalDevServer } from '../provision/temporal';

export interface Infrastructure {
  databaseUrl: string;
  readDatabaseUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | undefined;
  stop(): Promise<void>;
}

export async function provisionInfrastructure(
  config: Config,
  log: Logger,
): Promise<Infrastructure> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      log.info({ dir: path.join(config.dataDir, 'postgres') }, 'starting embedded Postgres');
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'postgres'),
        port: config.embeddedPostgresPort,
      });
      stops.push(pg.stop);
      databaseUrl = pg.url;
    }
    let temporalAddress = config.temporal.address;
    let temporalUiUrl: string | undefined;
    if (!temporalAddress) {
      const cli = await ensureTemporalCli(config.temporal.cliPath, (line) => log.info(line));
      log.info({ cli: cli ?? 'SDK download' }, 'starting Temporal dev server');
      const temporal = await startTemporalDevServer({
        cliPath: cli,
        port: 7233,
        uiPort: config.temporal.uiPort,
        // The UI decodes encrypted saga payloads through the API's codec endpoint.
        uiCodecEndpoint: config.eventStore.encryptionKey
          ? `http://localhost:${config.port}/codec`
          : undefined,
        dbFile: path.join(config.dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
        logFile: path.join(config.dataDir, 'temporal.log'),
      });
      stops.push(temporal.stop);
      temporalAddress = temporal.address;
      temporalUiUrl = temporal.uiUrl;
    }
    return {
      databaseUrl,
      readDatabaseUrl: config.readDatabaseUrl ?? databaseUrl,
      temporalAddress,
      temporalUiUrl,
      stop: () => stopAll(stops),
    };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

async function stopAll(stops: (() => Promise<void>)[]): Promise<void> {
  for (const stop of [...stops].reverse()) await stop().catch(() => undefined);
}
