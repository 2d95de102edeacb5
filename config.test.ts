import { ConfigError, loadConfig } from './config';

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

  test("the seed's DB_* variables build a URL, and READ_DATABASE_URL defaults to it", () => {
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

  test.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['EVENT_STORE_ENCRYPTION_KEY', 'c2hvcnQ='],
    ['PAYMENT_CONFIRMATION_TIMEOUT', 'soon'],
    ['EVENT_STORE_COMPRESSION', 'maybe'],
    ['EVENT_STORE_DECRYPTION_KEYS', `${Buffer.alloc(32, 1).toString('base64')},c2hvcnQ=`],
    ['TEMPORAL_ADDRESS', 'no-port'],
    ['AGGREGATE_CACHE_SIZE', '-1'],
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
});
