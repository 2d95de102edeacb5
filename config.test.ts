import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from './config';
import { temporalConnectionOptions } from './temporal/connection';

describe('config', () => {
  test('defaults match the contract', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      port: 3000,
      temporal: { address: undefined, namespace: 'default', taskQueue: 'orders' },
      eventStore: {
        compression: false,
        encryptionKey: undefined,
        snapshotInterval: 100,
        aggregateCacheSize: 10_000,
      },
      retention: { eventsDays: 365, snapshotsDays: 90, archive: true },
      payment: { confirmationThresholdCents: 100_000, confirmationTimeoutMs: 15 * 60_000 },
    });
  });

  test('sagas run their event-store steps as local activities unless SAGA_LOCAL_ACTIVITIES=false', () => {
    expect(loadConfig({}).sagaLocalActivities).toBe(true);
    expect(loadConfig({ SAGA_LOCAL_ACTIVITIES: 'false' }).sagaLocalActivities).toBe(false);
    expect(() => loadConfig({ SAGA_LOCAL_ACTIVITIES: 'sometimes' })).toThrow(
      /SAGA_LOCAL_ACTIVITIES must be true or false/,
    );
  });

  test('WORKER_HEALTH_ADDRESS is off by default and must be host:port', () => {
    expect(loadConfig({}).workerHealthAddress).toBeUndefined();
    expect(loadConfig({ WORKER_HEALTH_ADDRESS: '0.0.0.0:9465' }).workerHealthAddress).toBe(
      '0.0.0.0:9465',
    );
    expect(() => loadConfig({ WORKER_HEALTH_ADDRESS: '9465' })).toThrow(
      'Invalid configuration: WORKER_HEALTH_ADDRESS must be host:port, e.g. 0.0.0.0:9465 (got "9465")',
    );
  });

  test('the DB_* variables build a URL, and READ_DATABASE_URL defaults to it', () => {
    const config = loadConfig({
      DB_HOST: 'db',
      DB_NAME: 'shop',
      DB_USER: 'app',
      DB_PASSWORD: 'p@ss',
    });
    expect(config.databaseUrl).toBe('postgres://app:p%40ss@db:5432/shop');
    expect(config.readDatabaseUrl).toBe(config.databaseUrl);
  });

  test('durations, booleans, per-type snapshot intervals and the cache size parse', () => {
    const config = loadConfig({
      PAYMENT_CONFIRMATION_TIMEOUT: '30s',
      EVENT_STORE_COMPRESSION: 'true',
      SNAPSHOT_INTERVAL_INVENTORY: '20',
      AGGREGATE_CACHE_SIZE: '0',
    });
    expect(config.payment.confirmationTimeoutMs).toBe(30_000);
    expect(config.eventStore.compression).toBe(true);
    expect(config.eventStore.snapshotIntervalByType).toEqual({ INVENTORY: 20 });
    expect(config.eventStore.aggregateCacheSize).toBe(0);
  });

  test('old encryption keys for rotation parse from EVENT_STORE_DECRYPTION_KEYS', () => {
    const a = Buffer.alloc(32, 1);
    const b = Buffer.alloc(32, 2);
    const config = loadConfig({
      EVENT_STORE_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
      EVENT_STORE_DECRYPTION_KEYS: `${a.toString('base64')}, ${b.toString('base64')}`,
    });
    expect(config.eventStore.encryptionKey).toEqual(Buffer.alloc(32, 3));
    expect(config.eventStore.decryptionKeys).toEqual([a, b]);
    expect(loadConfig({}).eventStore.decryptionKeys).toEqual([]);
  });

  test('the master key may come from a file (a mounted secret), never from both places', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-key-'));
    const file = path.join(dir, 'master.key');
    fs.writeFileSync(file, `${Buffer.alloc(32, 7).toString('base64')}\n`);
    expect(loadConfig({ EVENT_STORE_ENCRYPTION_KEY_FILE: file }).eventStore.encryptionKey).toEqual(
      Buffer.alloc(32, 7),
    );
    expect(() =>
      loadConfig({
        EVENT_STORE_ENCRYPTION_KEY_FILE: file,
        EVENT_STORE_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      }),
    ).toThrow(/^Invalid configuration: EVENT_STORE_ENCRYPTION_KEY_FILE must not be set together/);
    expect(() =>
      loadConfig({ EVENT_STORE_ENCRYPTION_KEY_FILE: path.join(dir, 'missing') }),
    ).toThrow(/^Invalid configuration: EVENT_STORE_ENCRYPTION_KEY_FILE cannot be read \(ENOENT/);
    fs.writeFileSync(file, 'c2hvcnQ=');
    expect(() => loadConfig({ EVENT_STORE_ENCRYPTION_KEY_FILE: file })).toThrow(
      'EVENT_STORE_ENCRYPTION_KEY_FILE must be a base64-encoded 32-byte key',
    );
    // A wrong key is never echoed back.
    expect(() => loadConfig({ EVENT_STORE_ENCRYPTION_KEY: 'c2hvcnQ=' })).not.toThrow(/c2hvcnQ/);
    expect(loadConfig({}).eventStore.dataKeys).toBe('write');
    expect(loadConfig({ EVENT_STORE_DATA_KEYS: 'read' }).eventStore.dataKeys).toBe('read');
  });

  test('API_TOKEN, API_READ_TOKEN and METRICS_TOKEN parse; unset means open', () => {
    const config = loadConfig({ API_TOKEN: 'w-1', API_READ_TOKEN: 'r-1', METRICS_TOKEN: 'm-1' });
    expect(config).toMatchObject({ apiToken: 'w-1', apiReadToken: 'r-1', metricsToken: 'm-1' });
    expect(loadConfig({ API_READ_TOKEN: '  ' })).toMatchObject({
      apiToken: undefined,
      apiReadToken: undefined,
      metricsToken: undefined,
    });
  });

  test.each([
    [{ API_READ_TOKEN: 'same', API_TOKEN: 'same' }, 'API_READ_TOKEN must differ from API_TOKEN'],
    [{ API_TOKEN: 'two words' }, 'API_TOKEN must be printable ASCII'],
    [{ API_READ_TOKEN: 'caf\u00e9' }, 'API_READ_TOKEN must be printable ASCII'],
    [{ METRICS_TOKEN: 'tab\tbed' }, 'METRICS_TOKEN must be printable ASCII'],
  ])('bad tokens fail with one line naming the variable and never echo it: %p', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain('\n');
    for (const value of Object.values(env)) expect((error as Error).message).not.toContain(value);
  });

  test.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['EVENT_STORE_ENCRYPTION_KEY', 'c2hvcnQ='],
    ['PAYMENT_CONFIRMATION_TIMEOUT', 'soon'],
    ['PAYMENT_CONFIRMATION_TIMEOUT', '0'],
    ['PAYMENT_CONFIRMATION_TIMEOUT', '-5s'],
    ['TEMPORAL_DEPLOYMENT_NAME', 'order.saga'],
    ['TEMPORAL_BUILD_ID', 'has space'],
    ['TEMPORAL_WORKER_VERSIONING', 'sometimes'],
    ['EVENT_STORE_COMPRESSION', 'maybe'],
    ['EVENT_STORE_DATA_KEYS', 'sometimes'],
    ['EVENT_STORE_DECRYPTION_KEYS', `${Buffer.alloc(32, 1).toString('base64')},c2hvcnQ=`],
    ['TEMPORAL_ADDRESS', 'no-port'],
    ['AGGREGATE_CACHE_SIZE', '-1'],
    ['TEMPORAL_TLS_CERT', '/nonexistent/client.pem'],
    ['TEMPORAL_TLS', 'perhaps'],
  ])('bad %s=%s fails with one line naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(name);
    expect((error as Error).message).not.toContain('\n');
  });

  describe('a secured Temporal cluster (mTLS, API key)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-tls-'));
    const cert = path.join(dir, 'client.pem');
    const key = path.join(dir, 'client.key');
    fs.writeFileSync(cert, 'CERT');
    fs.writeFileSync(key, 'KEY');
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('the local dev server, in clear, when nothing is set', () => {
      expect(temporalConnectionOptions(loadConfig({}).temporal)).toEqual({
        address: '127.0.0.1:7233',
      });
    });

    test('a client certificate pair and a server name become the connection TLS', () => {
      const { temporal } = loadConfig({
        TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
        TEMPORAL_TLS_CERT: cert,
        TEMPORAL_TLS_KEY: key,
        TEMPORAL_TLS_SERVER_NAME: 'ns.acct.tmprl.cloud',
      });
      expect(temporalConnectionOptions(temporal)).toEqual({
        address: 'ns.acct.tmprl.cloud:7233',
        tls: {
          serverNameOverride: 'ns.acct.tmprl.cloud',
          clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
        },
      });
    });

    test('an API key alone is passed on (the SDK then connects with TLS)', () => {
      const { temporal } = loadConfig({
        TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233',
        TEMPORAL_API_KEY: 'secret',
      });
      expect(temporalConnectionOptions(temporal)).toEqual({
        address: 'us-east-1.aws.api.temporal.io:7233',
        apiKey: 'secret',
      });
      expect(temporalConnectionOptions(loadConfig({ TEMPORAL_TLS: 'true' }).temporal).tls).toEqual(
        {},
      );
    });

    test('a certificate without its key names the missing variable', () => {
      expect(() => loadConfig({ TEMPORAL_TLS_CERT: cert })).toThrow(
        'Invalid configuration: TEMPORAL_TLS_KEY must be set when TEMPORAL_TLS_CERT is',
      );
    });
  });
});
