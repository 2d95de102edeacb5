// Payload codecs and upcasters through the real Postgres: what is stored, what is read back,
// key rotation, tampering, and idempotent retries of encrypted appends.
import { randomBytes, randomUUID } from 'node:crypto';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { aesEncrypt, createPayloadCodec, encryptionKeyId, toEncryptionKey } from './codec';
import { EventIdConflictError, PayloadIntegrityError } from './errors';
import { createEventStore } from './postgres-event-store';
import { eventStoreOptionsFromConfig } from './options-from-config';
import { START } from './types';
import { defaultUpcasters } from './upcasters';

// jest.config.js's per-project testTimeout is not applied by Jest: these tests race real
// writers and wait on Temporal, which under load takes longer than Jest's default 5 s.
jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

const stream = () => ({ type: 'Order', id: randomUUID() });
const large = { customer_id: 'alice', note: 'gift wrap please '.repeat(200) };

async function storedRow(eventId: string) {
  const { rows } = await t.pool.query<{
    codec: string;
    key_id: string | null;
    event_data: unknown;
    event_data_bytes: Buffer | null;
  }>('SELECT codec, key_id, event_data, event_data_bytes FROM domain_events WHERE event_id = $1', [
    eventId,
  ]);
  return rows[0]!;
}

it('compression and encryption round-trip through Postgres, with no plaintext stored', async () => {
  const key = randomBytes(32);
  const store = createEventStore(
    t.db,
    eventStoreOptionsFromConfig({ compression: true, encryptionKey: key, snapshotInterval: 0 }),
  );
  const s = stream();
  const small = { customer_id: 'alice' };
  const result = await store.appendToStream(s, 'no_stream', [
    { type: 'Noted', data: small },
    { type: 'Noted', data: large },
  ]);
  const [first, second] = result.positions;
  const a = await storedRow(first!.eventId);
  const b = await storedRow(second!.eventId);
  expect(a).toMatchObject({
    codec: 'aes-256-gcm-v2',
    key_id: encryptionKeyId(key),
    event_data: null,
  });
  expect(b).toMatchObject({ codec: 'gzip+aes-256-gcm-v2', event_data: null });
  for (const row of [a, b]) expect(row.event_data_bytes!.toString('latin1')).not.toContain('alice');
  expect(b.event_data_bytes!.length).toBeLessThan(JSON.stringify(large).length / 5);

  expect((await store.readStream(s)).map((e) => e.data)).toEqual([small, large]);
  // The global log shows an event once no older transaction in the cluster is still open.
  const fromLog = await eventually(async () => {
    const all = await store.readAllFrom(START, 1000);
    return all.events.find((e) => e.eventId === second!.eventId);
  });
  expect(fromLog.data).toEqual(large);

  const compressedOnly = createEventStore(
    t.db,
    eventStoreOptionsFromConfig({ compression: true, snapshotInterval: 0 }),
  );
  const c = await compressedOnly.appendToStream(stream(), 'no_stream', [
    { type: 'Noted', data: large },
  ]);
  expect(await storedRow(c.positions[0]!.eventId)).toMatchObject({ codec: 'gzip', key_id: null });
});

it('after a key rotation old events still decrypt, new ones use the new key', async () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const s = stream();
  const before = createEventStore(t.db, { codec: createPayloadCodec({ encryptionKey: oldKey }) });
  await before.appendToStream(s, 'no_stream', [{ type: 'Noted', data: { n: 1 } }]);
  const after = createEventStore(t.db, {
    codec: createPayloadCodec({ encryptionKey: newKey, decryptionKeys: [oldKey] }),
  });
  const appended = await after.appendToStream(s, 1, [{ type: 'Noted', data: { n: 2 } }]);
  expect((await storedRow(appended.positions[0]!.eventId)).key_id).toBe(encryptionKeyId(newKey));
  expect((await after.readStream(s)).map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
  const forgetful = createEventStore(t.db, {
    codec: createPayloadCodec({ encryptionKey: newKey }),
  });
  await expect(forgetful.readStream(s)).rejects.toMatchObject({ code: 'ENCRYPTION_KEY_MISSING' });
});

it('detects a tampered payload and a payload copied onto another event', async () => {
  const store = createEventStore(t.db, {
    codec: createPayloadCodec({ encryptionKey: randomBytes(32) }),
  });
  const s = stream();
  const r = await store.appendToStream(s, 'no_stream', [
    { type: 'Noted', data: { cents: 100 } },
    { type: 'Noted', data: { cents: 999999 } },
  ]);
  const [one, two] = r.positions.map((p) => p.eventId);
  await t.pool.query(
    `UPDATE domain_events SET event_data_bytes = (SELECT event_data_bytes FROM domain_events WHERE event_id = $2)
     WHERE event_id = $1`,
    [one, two],
  );
  await expect(store.readStream(s)).rejects.toBeInstanceOf(PayloadIntegrityError);

  const s2 = stream();
  const r2 = await store.appendToStream(s2, 'no_stream', [{ type: 'Noted', data: { n: 1 } }]);
  await t.pool.query(
    `UPDATE domain_events SET event_data_bytes = set_byte(event_data_bytes, 30, get_byte(event_data_bytes, 30) # 1)
     WHERE event_id = $1`,
    [r2.positions[0]!.eventId],
  );
  await expect(store.readStream(s2)).rejects.toMatchObject({ code: 'PAYLOAD_TAMPERED' });
});

it('an encrypted retry is recognised by decoded content (ciphertexts differ each time)', async () => {
  const store = createEventStore(t.db, {
    codec: createPayloadCodec({ encryptionKey: randomBytes(32), compression: true }),
  });
  const s = stream();
  const events = [{ eventId: randomUUID(), type: 'Noted', data: large }];
  const first = await store.appendToStream(s, 'no_stream', events);
  expect(await store.appendToStream(s, 'no_stream', events)).toEqual(first);
  await expect(
    store.appendToStream(s, 1, [{ ...events[0]!, data: { ...large, note: 'changed' } }]),
  ).rejects.toBeInstanceOf(EventIdConflictError);
  expect(await store.readStream(s)).toHaveLength(1);
});

it('upcasts v1 events on read, chained, and writes new events at the latest version', async () => {
  const s = stream();
  // Events written before the upcasters existed: schema version 1, old shapes.
  await t.store.appendToStream(s, 'no_stream', [
    { type: 'OrderCreated', schemaVersion: 1, data: { order_id: s.id, customer_id: 'bob' } },
    { type: 'OrderItemAdded', schemaVersion: 1, data: { product_id: 'SKU-MUG', quantity: 2 } },
  ]);
  const read = await t.store.readStream(s);
  expect(read.map((e) => [e.schemaVersion, e.data])).toEqual([
    [2, { order_id: s.id, customer_id: 'bob', shipping_address: null }],
    [2, { product_id: 'SKU-MUG', quantity: 2, tax_amount: 0 }],
  ]);

  // A third version chains after the two registered ones: v1 -> v2 -> v3.
  const upcasters = defaultUpcasters().register('OrderItemAdded', 2, (d) => ({
    ...d,
    tax_amount: { cents: d.tax_amount, currency: 'USD' },
  }));
  const v3 = createEventStore(t.db, { upcasters });
  expect((await v3.readStream(s))[1]).toMatchObject({
    schemaVersion: 3,
    data: { product_id: 'SKU-MUG', tax_amount: { cents: 0, currency: 'USD' } },
  });
  const appended = await v3.appendToStream(s, 2, [
    {
      type: 'OrderItemAdded',
      data: { product_id: 'SKU-TEE', quantity: 1, tax_amount: { cents: 5, currency: 'USD' } },
    },
  ]);
  const { rows } = await t.pool.query<{ schema_version: number }>(
    'SELECT schema_version FROM domain_events WHERE event_id = $1',
    [appended.positions[0]!.eventId],
  );
  expect(rows[0]!.schema_version).toBe(3);
});

it('detects an encrypted row moved to another stream, and still reads rows of the v1 envelope', async () => {
  const key = randomBytes(32);
  const store = createEventStore(t.db, { codec: createPayloadCodec({ encryptionKey: key }) });
  const from = stream();
  const to = stream();
  const r = await store.appendToStream(from, 'no_stream', [
    { type: 'Noted', data: { cents: 100 } },
  ]);
  const eventId = r.positions[0]!.eventId;
  // Someone with write access to the table moves the row (same event id) onto another stream.
  await t.pool.query(`UPDATE domain_events SET aggregate_id = $2 WHERE event_id = $1`, [
    eventId,
    to.id,
  ]);
  await expect(store.readStream(to)).rejects.toMatchObject({ code: 'PAYLOAD_TAMPERED' });
  await t.pool.query(`UPDATE domain_events SET aggregate_id = $2 WHERE event_id = $1`, [
    eventId,
    from.id,
  ]);
  expect((await store.readStream(from)).map((e) => e.data)).toEqual([{ cents: 100 }]);

  // A row as earlier releases wrote it: codec aes-256-gcm, bound to its event id only.
  const legacy = stream();
  const legacyId = randomUUID();
  await t.pool.query(
    `INSERT INTO domain_events (event_id, aggregate_type, aggregate_id, version, event_type,
       event_data_bytes, codec, key_id)
     VALUES ($1, $2, $3, 1, 'Noted', $4, 'aes-256-gcm', $5)`,
    [
      legacyId,
      legacy.type,
      legacy.id,
      aesEncrypt(toEncryptionKey(key), Buffer.from(JSON.stringify({ n: 'old' })), legacyId),
      encryptionKeyId(key),
    ],
  );
  expect((await store.readStream(legacy)).map((e) => e.data)).toEqual([{ n: 'old' }]);
});
