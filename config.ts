// The only module that reads process.env: every setting is parsed and validated here once,
// so a bad value fails at start with one line naming the variable instead of deep in a request.
import fs from 'node:fs';
import path from 'node:path';
import ms from 'ms';
import { z } from 'zod';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export interface Config {
  /** Unset means "start an embedded Postgres under dataDir". */
  databaseUrl: string | undefined;
  /** Where the HTTP API reads read models; defaults to databaseUrl. */
  readDatabaseUrl: string | undefined;
  temporal: {
    /** Unset means "start a local Temporal dev server". */
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    /**
     * Worker Versioning (temporal/worker-deployment.ts): the Worker Deployment the worker joins,
     * and its build id (unset: the release's, `<package version>+<commit>`); `versioning`
     * false runs an unversioned worker.
     */
    deployment: { name: string; buildId: string | undefined; versioning: boolean };
    cliPath: string | undefined;
    uiPort: number;
    /**
     * How to reach a secured cluster (Temporal Cloud or mTLS): the names the `temporal` CLI
     * reads. Certificates are read at start, so a wrong path fails there.
     */
    tls:
      | {
          clientCert: Buffer | undefined;
          clientKey: Buffer | undefined;
          serverCa: Buffer | undefined;
          serverName: string | undefined;
        }
      | undefined;
    apiKey: string | undefined;
    /** host:port where the worker's Temporal SDK serves Prometheus metrics (unset: off). */
    metricsAddress: string | undefined;
  };
  port: number;
  /** Writes need it; reads accept it. */
  apiToken: string | undefined;
  /** Reads only. When either token is set, every read needs one of the two. */
  apiReadToken: string | undefined;
  /** When set, /metrics needs it (a Prometheus scrape token). */
  metricsToken: string | undefined;
  eventStore: {
    compression: boolean;
    encryptionKey: Buffer | undefined;
    /** Former keys (EVENT_STORE_DECRYPTION_KEYS, comma-separated base64): read, never written. */
    decryptionKeys: Buffer[];
    /**
     * EVENT_STORE_DATA_KEYS: `write` encrypts under the data keys (keys/data-key-ring.ts);
     * `read` opens them but keeps encrypting under the master key itself, as releases without
     * data keys do, for the rollout that upgrades from one (docs/security.md).
     */
    dataKeys: 'write' | 'read';
    snapshotInterval: number;
    /** Per aggregate type overrides, from SNAPSHOT_INTERVAL_<TYPE> (e.g. SNAPSHOT_INTERVAL_INVENTORY). */
    snapshotIntervalByType: Record<string, number>;
    /** Aggregates kept folded in memory per process to skip their next load (0: off). */
    aggregateCacheSize: number;
  };
  retention: { eventsDays: number; snapshotsDays: number; archive: boolean };
  payment: { confirmationThresholdCents: number; confirmationTimeoutMs: number };
  /** Connections of `npm run worker`'s pool, and so its activity slots (never more). */
  workerDbPoolMax: number;
  /** host:port where a process running the worker serves GET /livez (unset: off). */
  workerHealthAddress: string | undefined;
  /** The most connections one process may open to DATABASE_URL (connection-budget.ts). */
  dbConnectionBudget: number;
  /** Sagas started by the API and the CLI run their event-store steps as local activities. */
  sagaLocalActivities: boolean;
  dataDir: string;
  /** Port of the embedded Postgres when DATABASE_URL is unset (5432 is often taken). */
  embeddedPostgresPort: number;
  logLevel: string;
  /** OpenTelemetry tracing: on when an OTLP endpoint is configured (the SDK's standard variables). */
  tracing: { enabled: boolean; serviceName: string | undefined };
}

type Env = Record<string, string | undefined>;

const nonEmpty = (v: string | undefined): string | undefined =>
  v === undefined || v.trim() === '' ? undefined : v.trim();

function parse<T>(
  env: Env,
  name: string,
  schema: z.ZodType<T>,
  fallback: T,
  { secret = false } = {},
): T {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    // A secret's value never reaches the logs, even a wrong one.
    const got = secret ? '' : ` (got "${raw}")`;
    throw new ConfigError(name, `${issue?.message ?? 'is invalid'}${got}`);
  }
  return result.data;
}

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^-?\d+$/, `must be an integer`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const boolean = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => ['true', 'false', '1', '0', 'yes', 'no'].includes(s), 'must be true or false')
  .transform((s) => s === 'true' || s === '1' || s === 'yes');

/** Sent as `Authorization: Bearer <token>`: visible ASCII only, or no client could send it. */
const bearerToken = z
  .string()
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (it is sent as a Bearer token)');

function tokens(env: Env): Pick<Config, 'apiToken' | 'apiReadToken' | 'metricsToken'> {
  const secret = { secret: true };
  const apiToken = parse<string | undefined>(env, 'API_TOKEN', bearerToken, undefined, secret);
  const apiReadToken = parse<string | undefined>(
    env,
    'API_READ_TOKEN',
    bearerToken,
    undefined,
    secret,
  );
  // The same value would make the read-only token a write token.
  if (apiReadToken !== undefined && apiReadToken === apiToken)
    throw new ConfigError('API_READ_TOKEN', 'must differ from API_TOKEN');
  const metricsToken = parse<string | undefined>(
    env,
    'METRICS_TOKEN',
    bearerToken,
    undefined,
    secret,
  );
  return { apiToken, apiReadToken, metricsToken };
}

/** A Worker Deployment's name: Temporal joins it and a build id with a dot into a version. */
const deploymentName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_+-]{0,254}$/, 'must be letters, digits, "_", "+" or "-"');
const buildId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_+.-]{0,254}$/, 'must be letters, digits, "_", "+", "." or "-"');

const postgresUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\//.test(s), 'must be a postgres:// or postgresql:// URL');

/** A positive duration: "15 minutes", "30s" (the `ms` package's forms) or milliseconds. */
const duration = z.string().transform((s, ctx) => {
  const millis = /^\d+$/.test(s) ? Number(s) : ms(s as ms.StringValue);
  if (Number.isFinite(millis) && millis > 0) return millis;
  ctx.addIssue({
    code: 'custom',
    message: 'must be a duration such as "15 minutes", "30s" or a number of milliseconds',
  });
  return z.NEVER;
});

const encryptionKey = z.string().transform((s, ctx) => {
  const key = Buffer.from(s, 'base64');
  if (key.length !== 32 || key.toString('base64') !== s.replace(/\s/g, '')) {
    ctx.addIssue({ code: 'custom', message: 'must be a base64-encoded 32-byte key' });
    return z.NEVER;
  }
  return key;
});

/**
 * The master key (keys/master-key.ts), from EVENT_STORE_ENCRYPTION_KEY or from the file
 * EVENT_STORE_ENCRYPTION_KEY_FILE names (a mounted secret), never both.
 */
function masterKey(env: Env): Buffer | undefined {
  const file = nonEmpty(env.EVENT_STORE_ENCRYPTION_KEY_FILE);
  if (file === undefined)
    return parse<Buffer | undefined>(env, 'EVENT_STORE_ENCRYPTION_KEY', encryptionKey, undefined, {
      secret: true,
    });
  if (nonEmpty(env.EVENT_STORE_ENCRYPTION_KEY) !== undefined)
    throw new ConfigError(
      'EVENT_STORE_ENCRYPTION_KEY_FILE',
      'must not be set together with EVENT_STORE_ENCRYPTION_KEY',
    );
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(
      'EVENT_STORE_ENCRYPTION_KEY_FILE',
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${file})`,
    );
  }
  return parse<Buffer | undefined>(
    { EVENT_STORE_ENCRYPTION_KEY_FILE: text },
    'EVENT_STORE_ENCRYPTION_KEY_FILE',
    encryptionKey,
    undefined,
    { secret: true },
  );
}

const keyList = z.string().transform((s, ctx) => {
  const keys: Buffer[] = [];
  for (const part of s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const key = Buffer.from(part, 'base64');
    if (key.length !== 32 || key.toString('base64') !== part) {
      ctx.addIssue({ code: 'custom', message: 'must be comma-separated base64 32-byte keys' });
      return z.NEVER;
    }
    keys.push(key);
  }
  return keys;
});

const readableFile = z.string().transform((file, ctx) => {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: `must name a readable file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    });
    return z.NEVER;
  }
});

function temporalTls(env: Env): Config['temporal']['tls'] {
  const file = (name: string) => parse<Buffer | undefined>(env, name, readableFile, undefined);
  const clientCert = file('TEMPORAL_TLS_CERT');
  const clientKey = file('TEMPORAL_TLS_KEY');
  if (clientCert && !clientKey)
    throw new ConfigError('TEMPORAL_TLS_KEY', 'must be set when TEMPORAL_TLS_CERT is');
  if (clientKey && !clientCert)
    throw new ConfigError('TEMPORAL_TLS_CERT', 'must be set when TEMPORAL_TLS_KEY is');
  const serverCa = file('TEMPORAL_TLS_CA');
  const serverName = nonEmpty(env.TEMPORAL_TLS_SERVER_NAME);
  const on = parse(env, 'TEMPORAL_TLS', boolean, false);
  if (!on && !clientCert && !serverCa && !serverName) return undefined;
  return { clientCert, clientKey, serverCa, serverName };
}

/** The classic DB_HOST/DB_PORT/DB_NAME/DB_USER/DB_PASSWORD, assembled into a URL. */
function databaseUrlFromParts(env: Env): string | undefined {
  const host = nonEmpty(env.DB_HOST);
  if (host === undefined) return undefined;
  const port = parse(env, 'DB_PORT', integer(1, 65535), 5432);
  const user = encodeURIComponent(nonEmpty(env.DB_USER) ?? 'postgres');
  const password = nonEmpty(env.DB_PASSWORD);
  const auth = password === undefined ? user : `${user}:${encodeURIComponent(password)}`;
  const name = encodeURIComponent(nonEmpty(env.DB_NAME) ?? 'postgres');
  return `postgres://${auth}@${host}:${port}/${name}`;
}

function snapshotOverrides(env: Env): Record<string, number> {
  const overrides: Record<string, number> = {};
  for (const name of Object.keys(env)) {
    const match = /^SNAPSHOT_INTERVAL_([A-Z0-9_]+)$/.exec(name);
    if (match?.[1]) overrides[match[1]] = parse(env, name, integer(0), 0);
  }
  return overrides;
}

export function loadConfig(env: Env = process.env): Config {
  const databaseUrl =
    parse<string | undefined>(env, 'DATABASE_URL', postgresUrl, undefined) ??
    databaseUrlFromParts(env);
  return {
    databaseUrl,
    readDatabaseUrl:
      parse<string | undefined>(env, 'READ_DATABASE_URL', postgresUrl, undefined) ?? databaseUrl,
    temporal: {
      address: parse<string | undefined>(
        env,
        'TEMPORAL_ADDRESS',
        z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port'),
        undefined,
      ),
      namespace: parse(env, 'TEMPORAL_NAMESPACE', z.string().min(1), 'default'),
      taskQueue: parse(env, 'TEMPORAL_TASK_QUEUE', z.string().min(1), 'orders'),
      deployment: {
        name: parse(env, 'TEMPORAL_DEPLOYMENT_NAME', deploymentName, 'order-saga'),
        buildId: parse<string | undefined>(env, 'TEMPORAL_BUILD_ID', buildId, undefined),
        versioning: parse(env, 'TEMPORAL_WORKER_VERSIONING', boolean, true),
      },
      cliPath: nonEmpty(env.TEMPORAL_CLI_PATH),
      uiPort: parse(env, 'TEMPORAL_UI_PORT', integer(1, 65535), 8233),
      tls: temporalTls(env),
      apiKey: nonEmpty(env.TEMPORAL_API_KEY),
      metricsAddress: parse<string | undefined>(
        env,
        'TEMPORAL_METRICS_ADDRESS',
        z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port, e.g. 0.0.0.0:9464'),
        undefined,
      ),
    },
    port: parse(env, 'PORT', integer(0, 65535), 3000),
    ...tokens(env),
    eventStore: {
      compression: parse(env, 'EVENT_STORE_COMPRESSION', boolean, false),
      encryptionKey: masterKey(env),
      decryptionKeys: parse(env, 'EVENT_STORE_DECRYPTION_KEYS', keyList, [], { secret: true }),
      dataKeys: parse(
        env,
        'EVENT_STORE_DATA_KEYS',
        z.enum(['write', 'read'], 'must be write or read'),
        'write',
      ),
      snapshotInterval: parse(env, 'SNAPSHOT_INTERVAL', integer(0), 100),
      snapshotIntervalByType: snapshotOverrides(env),
      aggregateCacheSize: parse(env, 'AGGREGATE_CACHE_SIZE', integer(0, 10_000_000), 10_000),
    },
    retention: {
      eventsDays: parse(env, 'RETENTION_EVENTS_DAYS', integer(1), 365),
      snapshotsDays: parse(env, 'RETENTION_SNAPSHOTS_DAYS', integer(1), 90),
      archive: parse(env, 'RETENTION_ARCHIVE', boolean, true),
    },
    payment: {
      confirmationThresholdCents: parse(
        env,
        'PAYMENT_CONFIRMATION_THRESHOLD_CENTS',
        integer(0),
        100_000,
      ),
      confirmationTimeoutMs: parse(env, 'PAYMENT_CONFIRMATION_TIMEOUT', duration, ms('15 minutes')),
    },
    workerDbPoolMax: parse(env, 'WORKER_DB_POOL_MAX', integer(1, 1000), 20),
    workerHealthAddress: parse<string | undefined>(
      env,
      'WORKER_HEALTH_ADDRESS',
      z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port, e.g. 0.0.0.0:9465'),
      undefined,
    ),
    dbConnectionBudget: parse(env, 'DB_CONNECTION_BUDGET', integer(1, 100_000), 40),
    sagaLocalActivities: parse(env, 'SAGA_LOCAL_ACTIVITIES', boolean, true),
    dataDir: path.resolve(nonEmpty(env.DATA_DIR) ?? '.data'),
    embeddedPostgresPort: parse(env, 'EMBEDDED_POSTGRES_PORT', integer(1, 65535), 5433),
    tracing: {
      enabled:
        nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT) !== undefined ||
        nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) !== undefined,
      serviceName: nonEmpty(env.OTEL_SERVICE_NAME),
    },
    logLevel: parse(
      env,
      'LOG_LEVEL',
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
      'info',
    ),
  };
}

/** For entry points: print the one-line error and exit instead of a stack trace. */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
