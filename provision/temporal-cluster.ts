// A real Temporal server persisting to Postgres, the production topology, without Docker: the
// `server` and `sql` (schema tool) binaries of go.temporal.io/server, built by `go install`
// (.ci/run does it), on two databases of a Postgres we are given, with the module's
// development-postgres12 config rewritten to free ports. Used by the scale-out failure drill.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { freePort } from './ports';
import { dropDatabase } from './postgres';
import { ensureSearchAttributes, findTemporalCli, waitForTemporal } from './temporal';

const run = promisify(execFile);

export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';

export interface TemporalCluster {
  address: string;
  namespace: string;
  /** The databases it persists to (dropped by stop). */
  databases: { main: string; visibility: string };
  logFile: string;
  /** The server's process id (the bench reads its CPU time). */
  pid: number | undefined;
  stop(): Promise<void>;
}

async function goEnv(name: string): Promise<string> {
  const { stdout } = await run('go', ['env', name]).catch((err: unknown) => {
    throw new Error(`Go is needed to find the Temporal server binaries: ${String(err)}`);
  });
  return stdout.trim().split(path.delimiter)[0]!;
}

/**
 * Where `go install go.temporal.io/server/cmd/server@v1.29.1` and `.../cmd/tools/sql@...` put
 * their binaries, and the module source (configs, schemas). Throws, naming the install command,
 * when any is missing: a drill that needs the cluster must fail, not skip.
 */
export async function findTemporalServer(): Promise<{
  server: string;
  sqlTool: string;
  moduleDir: string;
}> {
  const bin = path.join(await goEnv('GOPATH'), 'bin');
  const moduleDir = path.join(
    await goEnv('GOMODCACHE'),
    `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`,
  );
  const found = {
    server: path.join(bin, 'server'),
    sqlTool: path.join(bin, 'sql'),
    moduleDir,
  };
  for (const file of Object.values(found)) {
    if (!fs.existsSync(file)) {
      throw new Error(
        `${file} is missing: run CGO_ENABLED=0 go install ` +
          `${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION} ` +
          `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION} (see .ci/run)`,
      );
    }
  }
  return found;
}

/**
 * The module's development-postgres12.yaml with our databases, credentials and ports. Every
 * port it names is replaced, so that the cluster never meets another server on this machine.
 */
async function writeConfig(
  moduleDir: string,
  configDir: string,
  postgres: URL,
  databases: { main: string; visibility: string },
): Promise<number> {
  let yaml = fs.readFileSync(path.join(moduleDir, 'config', 'development-postgres12.yaml'), 'utf8');
  const frontendPort = await freePort();
  const replace = (pattern: RegExp, value: string) => {
    if (!pattern.test(yaml)) throw new Error(`development-postgres12.yaml: no ${pattern.source}`);
    yaml = yaml.replace(pattern, value);
  };
  // Each service's gRPC and membership ports, in the order the file lists the services.
  for (const key of ['grpcPort', 'membershipPort']) {
    const pattern = new RegExp(`(${key}: )\\d+`, 'g');
    const ports: number[] = [];
    // Membership ports are stored in a smallint column: freePort's stay below 32768.
    for (const _ of yaml.matchAll(pattern)) ports.push(await freePort());
    if (key === 'grpcPort') ports[0] = frontendPort; // frontend comes first
    let i = 0;
    yaml = yaml.replace(pattern, (_m, prefix: string) => `${prefix}${ports[i++]}`);
  }
  replace(/(httpPort: )\d+/, `$1${await freePort()}`);
  replace(/(pprof:\s+port: )\d+/, `$1${await freePort()}`);
  replace(/(listenAddress: "127\.0\.0\.1:)\d+/, `$1${await freePort()}`);
  replace(/(rpcAddress: ")localhost:\d+/, `$1127.0.0.1:${frontendPort}`);
  replace(/databaseName: "temporal"/, `databaseName: "${databases.main}"`);
  replace(/databaseName: "temporal_visibility"/, `databaseName: "${databases.visibility}"`);
  replace(/connectAddr: "127\.0\.0\.1:5432"/g, `connectAddr: "${postgres.host}"`);
  replace(/user: "temporal"/g, `user: "${decodeURIComponent(postgres.username)}"`);
  replace(/password: "temporal"/g, `password: "${decodeURIComponent(postgres.password)}"`);
  // The four services share one process, each with its own pools: keep them within a shared
  // Postgres's max_connections.
  replace(/maxConns: 20/, 'maxConns: 5');
  replace(/maxIdleConns: 20/, 'maxIdleConns: 5');
  replace(/(level: )info/, '$1warn');
  fs.mkdirSync(path.join(configDir, 'dynamicconfig'), { recursive: true });
  fs.writeFileSync(path.join(configDir, 'development-postgres12.yaml'), yaml);
  // The module's development settings, then ours (what docker-compose.yml mounts): the
  // production topology runs with the settings a production cluster is told to use.
  fs.writeFileSync(
    path.join(configDir, 'dynamicconfig', 'development-sql.yaml'),
    fs.readFileSync(
      path.join(moduleDir, 'config', 'dynamicconfig', 'development-sql.yaml'),
      'utf8',
    ) +
      '\n' +
      fs.readFileSync(path.join(__dirname, 'temporal-dynamic-config.yaml'), 'utf8'),
  );
  return frontendPort;
}

/** create-database, setup-schema -v 0.0, update-schema to the newest versioned schema. */
async function setupSchema(
  sqlTool: string,
  moduleDir: string,
  postgres: URL,
  database: string,
  schema: 'temporal' | 'visibility',
): Promise<void> {
  const common = [
    '--plugin',
    'postgres12',
    '--ep',
    postgres.hostname,
    '-p',
    postgres.port || '5432',
    '-u',
    decodeURIComponent(postgres.username),
    '--pw',
    decodeURIComponent(postgres.password),
    '--db',
    database,
  ];
  const versioned = path.join(moduleDir, 'schema', 'postgresql', 'v12', schema, 'versioned');
  for (const command of [
    ['create-database'],
    ['setup-schema', '-v', '0.0'],
    ['update-schema', '-d', versioned],
  ]) {
    await run(sqlTool, [...common, ...command], { maxBuffer: 16 * 1024 * 1024 }).catch(
      (err: { stderr?: string; message?: string }) => {
        throw new Error(`sql ${command[0]} on ${database}: ${err.stderr || err.message}`);
      },
    );
  }
}

/**
 * Sets up the schema on `<prefix>` and `<prefix>_visibility` of the Postgres at `adminUrl`,
 * starts the server, creates `namespace` with the Temporal CLI and registers the saga's
 * search attributes.
 */
export async function startTemporalCluster(options: {
  adminUrl: string;
  workDir: string;
  databasePrefix: string;
  namespace?: string;
}): Promise<TemporalCluster> {
  const namespace = options.namespace ?? 'default';
  const { server, sqlTool, moduleDir } = await findTemporalServer();
  const cli = await findTemporalCli();
  if (!cli) throw new Error('the Temporal CLI is needed to create the namespace (see .ci/run)');
  const postgres = new URL(options.adminUrl);
  const databases = {
    main: options.databasePrefix,
    visibility: `${options.databasePrefix}_visibility`,
  };
  const dropDatabases = async () => {
    await dropDatabase(options.adminUrl, databases.main).catch(() => undefined);
    await dropDatabase(options.adminUrl, databases.visibility).catch(() => undefined);
  };
  await dropDatabases();
  await Promise.all([
    setupSchema(sqlTool, moduleDir, postgres, databases.main, 'temporal'),
    setupSchema(sqlTool, moduleDir, postgres, databases.visibility, 'visibility'),
  ]);

  const root = path.join(options.workDir, 'temporal-cluster');
  const port = await writeConfig(moduleDir, path.join(root, 'config'), postgres, databases);
  const logFile = path.join(root, 'server.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn(
    server,
    [
      '--root',
      root,
      '--config',
      'config',
      '--env',
      'development-postgres12',
      '--allow-no-auth',
      'start',
    ],
    // The config names its dynamic config file relative to the working directory.
    { cwd: root, stdio: ['ignore', out, out] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    fs.closeSync(out);
    await dropDatabases();
  };
  const address = `127.0.0.1:${port}`;
  try {
    await Promise.race([
      waitForTemporal(address, 120_000),
      exited.then(() => {
        // The log goes with the work directory: its last lines say why.
        const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
        throw new Error(`the Temporal server exited at start (${logFile}):\n${tail}`);
      }),
    ]);
    await run(cli, ['operator', 'namespace', 'create', '--address', address, '-n', namespace]);
    const connection = await Connection.connect({ address });
    try {
      // A new namespace reaches the frontend's cache some seconds after it is created.
      await retry(() => ensureSearchAttributes(connection, namespace), 60_000);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, namespace, databases, logFile, pid: child.pid, stop };
}

async function retry<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
