// A local Temporal server when TEMPORAL_ADDRESS is not set. The `temporal` CLI is found in
// this order: TEMPORAL_CLI_PATH, `temporal` on PATH, $(go env GOPATH)/bin/temporal; else it is
// installed with `go install` (pinned), else the Temporal SDK's cached download is used.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

const run = promisify(execFile);

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export interface RunningTemporal {
  address: string;
  uiUrl: string | undefined;
  /** The server's process id (failure drills kill it; the bench reads its CPU from /proc). */
  pid: number | undefined;
  stop: () => Promise<void>;
}

/**
 * Dynamic config every dev server of ours runs with (npm start, tests, bench); a cluster needs
 * the same values (docs/benchmarks.md, production notes). Measured on this repository's bench.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, unknown>> = {
  // The transfer queue (which hands new workflow and activity tasks to matching) is read at
  // most 20 times a second by default: every task waited 40-45 ms between Scheduled and Started.
  'history.transferProcessorMaxPollRPS': 10000,
  // A workflow task that schedules an activity gets it back in its completion response when
  // this worker has a free slot: one round trip through matching less per activity.
  'system.enableActivityEagerExecution': true,
};

/**
 * SQLite pragmas of a file-backed dev server (npm start's .data/temporal.db). SQLite's defaults
 * (rollback journal, synchronous=FULL) fsync every commit: the saga bench ran 2.9x slower and
 * the server spent 2.3x the CPU per order. A write-ahead log synced at checkpoints keeps the
 * file consistent through a crash; a power loss may lose the last few transactions.
 */
export const DEV_SERVER_FILE_PRAGMAS: readonly string[] = [
  'journal_mode=WAL',
  'synchronous=NORMAL',
];

/** `--dynamic-config-value` flags: the defaults above, then `overrides` (the bench's). */
export function dynamicConfigArgs(overrides: Record<string, unknown> = {}): string[] {
  return Object.entries({ ...DEV_SERVER_DYNAMIC_CONFIG, ...overrides }).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

async function goBinDir(): Promise<string | undefined> {
  try {
    const { stdout } = await run('go', ['env', 'GOPATH']);
    const gopath = stdout.trim().split(path.delimiter)[0];
    return gopath ? path.join(gopath, 'bin') : undefined;
  } catch {
    return undefined; // no Go on this machine
  }
}

export async function findTemporalCli(cliPath?: string): Promise<string | undefined> {
  if (cliPath) {
    if (!isExecutable(cliPath))
      throw new Error(`TEMPORAL_CLI_PATH ${cliPath} is not an executable file`);
    return cliPath;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, 'temporal'))) return path.join(dir, 'temporal');
  }
  const goBin = await goBinDir();
  if (goBin && isExecutable(path.join(goBin, 'temporal'))) return path.join(goBin, 'temporal');
  return undefined;
}

/** Finds the CLI or installs it with Go; undefined when neither works (use the SDK download). */
export async function ensureTemporalCli(
  cliPath: string | undefined,
  log: (line: string) => void,
): Promise<string | undefined> {
  const found = await findTemporalCli(cliPath);
  if (found) return found;
  const goBin = await goBinDir();
  if (!goBin) return undefined;
  log(
    `Installing the Temporal CLI (go install ${TEMPORAL_CLI_MODULE}); this takes a few minutes once...`,
  );
  await run('go', ['install', TEMPORAL_CLI_MODULE], {
    env: { ...process.env, CGO_ENABLED: '0' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return findTemporalCli();
}

function searchAttributeArgs(): string[] {
  return Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => [
    '--search-attribute',
    `${name}=${type}`,
  ]);
}

export interface DevServerOptions {
  cliPath: string | undefined;
  port: number;
  /** Omit for a headless server (tests). */
  uiPort?: number;
  /** Where the UI sends payloads to decode (the API's /codec), when payloads are encrypted. */
  uiCodecEndpoint?: string;
  /** Omit for an in-memory server (tests). */
  dbFile?: string;
  namespace?: string;
  logFile?: string;
  /** Dynamic config on top of DEV_SERVER_DYNAMIC_CONFIG (the bench tries settings this way). */
  dynamicConfig?: Record<string, unknown>;
  /** `--sqlite-pragma NAME=VALUE` flags; default DEV_SERVER_FILE_PRAGMAS with a dbFile. */
  sqlitePragmas?: string[];
}

/** In memory there is nothing to sync: pragmas only apply to a file-backed server by default. */
export function sqlitePragmaArgs(options: Pick<DevServerOptions, 'dbFile' | 'sqlitePragmas'>) {
  const pragmas = options.sqlitePragmas ?? (options.dbFile ? DEV_SERVER_FILE_PRAGMAS : []);
  return pragmas.flatMap((pragma) => ['--sqlite-pragma', pragma]);
}

export async function startTemporalDevServer(options: DevServerOptions): Promise<RunningTemporal> {
  const address = `127.0.0.1:${options.port}`;
  if (!options.cliPath) return startWithSdkDownload(options);

  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--namespace',
    options.namespace ?? 'default',
    '--log-level',
    'warn',
    ...searchAttributeArgs(),
    ...dynamicConfigArgs(options.dynamicConfig),
    ...sqlitePragmaArgs(options),
  ];
  if (options.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort));
  if (options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  if (options.dbFile) args.push('--db-filename', options.dbFile);

  const out = options.logFile ? fs.openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(options.cliPath, args, { stdio: ['ignore', out, out], detached: false });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  try {
    await Promise.race([
      waitForTemporal(address, 60_000),
      exited.then((code) => {
        throw new Error(
          `temporal server start-dev exited with code ${code}` +
            (options.logFile ? `; see ${options.logFile}` : ''),
        );
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address,
    uiUrl: options.uiPort === undefined ? undefined : `http://localhost:${options.uiPort}`,
    pid: child.pid,
    stop: () => stopChild(child, exited),
  };
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function startWithSdkDownload(options: DevServerOptions): Promise<RunningTemporal> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip: '127.0.0.1',
      port: options.port,
      ui: options.uiPort !== undefined,
      uiPort: options.uiPort,
      dbFilename: options.dbFile,
      namespace: options.namespace,
      searchAttributes: [],
      extraArgs: [
        ...searchAttributeArgs(),
        ...dynamicConfigArgs(options.dynamicConfig),
        ...sqlitePragmaArgs(options),
      ],
    },
  });
  return {
    address: `127.0.0.1:${options.port}`,
    uiUrl: options.uiPort === undefined ? undefined : `http://localhost:${options.uiPort}`,
    pid: undefined, // the SDK does not expose its server process
    stop: () => env.teardown(),
  };
}

/** Waits until the frontend answers gRPC, not merely until the port is open. */
export async function waitForTemporal(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(
    `Temporal at ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}`,
  );
}

/**
 * Registers the saga's search attributes on a server that lacks them (a Temporal cluster or
 * the docker-compose one); the dev server gets them from its command line.
 */
export async function ensureSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(
    ([name]) => !(name in (customAttributes ?? {})),
  );
  if (missing.length === 0) return;
  const types = { Keyword: 2, Int: 3 } as const; // temporal.api.enums.v1.IndexedValueType
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, types[type]])),
  });
}
