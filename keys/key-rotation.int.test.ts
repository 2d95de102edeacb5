// Keys over the years, on the real Postgres: the rollout from a release that encrypted with
// the master key itself (EVENT_STORE_DATA_KEYS=read, then write), re-encryption under the data
// key, a new master key (rewrap, then the old one removed), and a data key rotated and its
// payloads moved: at every step every stream and snapshot loads with what the process holds.
import { randomBytes } from 'node:crypto';
import { loadAggregate } from '../application';
import { restockProduct } from '../catalog/catalog';
import { InventoryDecider } from '../domain/inventory';
import {
  countStale,
  createEventStore,
  encryptionKeyId,
  eventStoreOptionsFromConfig,
  type EventStore,
  keyUsage,
  reEncrypt,
} from '../eventstore';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { openKeys, type KeySettings } from './open-keys';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

const storeSettings = { compression: false, snapshotInterval: 2 };

/** A process of this release: its keys opened from configuration, as bootstrap opens them. */
async function processWith(settings: KeySettings) {
  const keys = await openKeys(t.db, settings);
  const options = eventStoreOptionsFromConfig(keys.withKeys({ ...storeSettings, ...settings }));
  return { keys, store: createEventStore(t.db, options), codec: options.codec! };
}

/** A process of the release before data keys: the master key encrypts directly. */
const earlierRelease = (key: Buffer) =>
  createEventStore(t.db, eventStoreOptionsFromConfig({ ...storeSettings, encryptionKey: key }));

const onHand = async (store: EventStore, sku: string) =>
  ((await loadAggregate(store, InventoryDecider, sku)).state as { onHand: number }).onHand;

const keysInUse = async () =>
  new Set((await keyUsage(t.db)).filter((u) => u.keyId).map((u) => u.keyId));

test('from a master key that encrypted everything to data keys, a new master key, a rotated data key', async () => {
  const first = randomBytes(32);
  const old = earlierRelease(first);
  for (let i = 0; i < 3; i += 1) await restockProduct(old, 'sku-a', 10);

  // The rollout: this release reads data keys but still writes under the master key, so the
  // earlier release's processes, still running, read what it writes.
  const rollout = await processWith({ encryptionKey: first, dataKeys: 'read' });
  await restockProduct(rollout.store, 'sku-a', 10);
  expect(await keysInUse()).toEqual(new Set([encryptionKeyId(first)]));
  expect(await onHand(old, 'sku-a')).toBe(40);

  // Every process upgraded: new payloads go under the event store's data key.
  const upgraded = await processWith({ encryptionKey: first });
  const dataKey = upgraded.keys.ring!.source('event-store').currentKeyId;
  await restockProduct(upgraded.store, 'sku-a', 10);
  await restockProduct(upgraded.store, 'sku-b', 5);
  expect(await keysInUse()).toEqual(new Set([encryptionKeyId(first), dataKey]));
  expect(await onHand(rollout.store, 'sku-a')).toBe(50);
  const stale = Object.values(await countStale(t.db, upgraded.codec)).reduce((a, b) => a + b);
  expect(stale).toBeGreaterThan(0);
  const report = await reEncrypt(t.db, upgraded.codec, { batchSize: 2 });
  expect(report.remaining).toBe(0);
  expect(await keysInUse()).toEqual(new Set([dataKey]));

  // A new master key: the data keys are rewrapped (a few rows), no payload is rewritten.
  const second = randomBytes(32);
  const rotating = await processWith({ encryptionKey: second, decryptionKeys: [first] });
  expect(await rotating.keys.ring!.rewrap()).toBe(2);
  expect(await keysInUse()).toEqual(new Set([dataKey]));
  // The first master key is gone from configuration: everything still loads.
  const later = await processWith({ encryptionKey: second });
  expect(await onHand(later.store, 'sku-a')).toBe(50);
  expect(await onHand(later.store, 'sku-b')).toBe(5);
  await expect(processWith({ encryptionKey: first })).rejects.toThrow(/not configured/);

  // A data key rotated (`rotate-key`), then re-encrypt moves every payload under the next one.
  const next = await later.keys.ring!.rotate('event-store', dataKey);
  expect(next).not.toBe(dataKey);
  await restockProduct(later.store, 'sku-b', 5);
  expect(await keysInUse()).toEqual(new Set([dataKey, next]));
  expect((await reEncrypt(t.db, later.codec, { batchSize: 3 })).remaining).toBe(0);
  expect(await keysInUse()).toEqual(new Set([next]));
  const restarted = await processWith({ encryptionKey: second });
  expect(await onHand(restarted.store, 'sku-a')).toBe(50);
  expect(await onHand(restarted.store, 'sku-b')).toBe(10);
});
