// The data key ring against the real Postgres: one current key per purpose shared by every
// process, uses counted ahead in blocks and a key rotated at its bound, a rotation made by one
// process followed by another, master key rotation by rewrapping, a master key behind the KMS
// interface, and a customer's key destroyed so that what it sealed reads as erased.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { aesDecrypt, aesEncrypt, EncryptionKeyMissingError } from '../eventstore';
import { createTestDatabase, eventually, type TestDatabase } from '../test/harness';
import { DataKeyRing, listDataKeys } from './data-key-ring';
import { localMasterKey, localMasterKeys, type MasterKey } from './master-key';
import { ERASED, isSealed, personalData } from './personal-data';

let t: TestDatabase;
beforeEach(async () => {
  t = await createTestDatabase();
});
afterEach(() => t.close());

const keyRows = async () =>
  (
    await sql<{
      key_id: string;
      purpose: string;
      uses_reserved: string;
      retired_at: Date | null;
      customer_id: string | null;
      wrapped_key: Buffer | null;
      master_key_id: string | null;
    }>`SELECT * FROM encryption_keys ORDER BY created_at`.execute(t.db)
  ).rows;

test('every process shares one current key per purpose, wrapped by the master key', async () => {
  const master = randomBytes(32);
  const [a, b] = await Promise.all([
    DataKeyRing.open(t.db, localMasterKeys(master)),
    DataKeyRing.open(t.db, localMasterKeys(master)),
  ]);
  const rows = await keyRows();
  expect(rows.map((r) => r.purpose).sort()).toEqual(['event-store', 'temporal']);
  for (const purpose of ['event-store', 'temporal'] as const)
    expect(a.source(purpose).currentKeyId).toBe(b.source(purpose).currentKeyId);
  // The row holds the key wrapped, never in clear: the master key opens it, another does not.
  const sealed = aesEncrypt(a.source('event-store').current(), Buffer.from('x'), 'aad');
  expect(aesDecrypt(b.source('event-store').byId(rows[0]!.key_id)!, sealed, 'aad')).toBeDefined();
  await expect(DataKeyRing.open(t.db, localMasterKeys(randomBytes(32)))).rejects.toBeInstanceOf(
    EncryptionKeyMissingError,
  );
});

test('uses are reserved ahead in blocks, and a key past its bound is replaced', async () => {
  const masters = localMasterKeys(randomBytes(32));
  await expect(
    DataKeyRing.open(t.db, masters, { reserveBlock: 10, rotateAfterUses: 10 }),
  ).rejects.toThrow(RangeError);
  const ring = await DataKeyRing.open(t.db, masters, { reserveBlock: 10, rotateAfterUses: 40 });
  const source = ring.source('event-store');
  const first = source.currentKeyId;
  const sealed: Buffer[] = [];
  // As many encryptions as it takes to pass the bound, however long each reservation takes.
  for (let i = 0; sealed.length < 60 && i < 5_000; i += 1) {
    try {
      sealed.push(aesEncrypt(source.current(), Buffer.from(String(i)), 'aad'));
    } catch {
      // The block is spent before the next reservation came back: wait for it, as a retry would.
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  expect(sealed.length).toBeGreaterThan(40);
  const rows = (await keyRows()).filter((r) => r.purpose === 'event-store');
  // Never more uses than reserved, and no key reserved far past its bound.
  expect(rows.length).toBeGreaterThanOrEqual(2);
  const reserved = rows.reduce((n, r) => n + Number(r.uses_reserved), 0);
  expect(reserved).toBeGreaterThanOrEqual(sealed.length);
  for (const r of rows) expect(Number(r.uses_reserved)).toBeLessThanOrEqual(40 + 10);
  expect(rows.filter((r) => r.retired_at === null)).toHaveLength(1);
  expect(source.currentKeyId).not.toBe(first);
  // A retired key still decrypts what it encrypted.
  expect(aesDecrypt(source.byId(first)!, sealed[0]!, 'aad').toString()).toBe('0');
});

test('a key rotated by one process is taken up by another, which then reads both', async () => {
  const master = randomBytes(32);
  const worker = await DataKeyRing.open(t.db, localMasterKeys(master), { rotationCheckMs: 0 });
  const operator = await DataKeyRing.open(t.db, localMasterKeys(master));
  const before = worker.source('temporal').currentKeyId;
  const after = await operator.rotate('temporal', before);
  expect(after).not.toBe(before);
  // A use notices the rotation in the background; a later one uses the new key.
  const key = await eventually(
    async () => {
      const k = worker.source('temporal').current();
      return k.id === after ? k : undefined;
    },
    20_000,
    'the worker to take up the rotated key',
  );
  expect(key.id).toBe(after);
  // Rotating the same key twice (two processes that both saw it spent) rotates once.
  expect(await operator.rotate('temporal', before)).toBe(after);
  expect((await keyRows()).filter((r) => r.purpose === 'temporal')).toHaveLength(2);
});

test('a new master key rewraps the data keys; then the old one can go', async () => {
  const oldMaster = randomBytes(32);
  const newMaster = randomBytes(32);
  const before = await DataKeyRing.open(t.db, localMasterKeys(oldMaster));
  const customerKey = await before.customerKey('carol', { create: true });
  const sealed = aesEncrypt(before.source('event-store').current(), Buffer.from('kept'), 'aad');

  const rotated = await DataKeyRing.open(t.db, localMasterKeys(newMaster, [oldMaster]));
  expect(await rotated.rewrap()).toBe(3);
  expect(await rotated.rewrap()).toBe(0);
  const newId = localMasterKey(newMaster).id;
  expect((await keyRows()).every((r) => r.master_key_id === newId)).toBe(true);

  const after = await DataKeyRing.open(t.db, localMasterKeys(newMaster));
  expect(
    aesDecrypt(
      after.source('event-store').byId(before.source('event-store').currentKeyId)!,
      sealed,
      'aad',
    ).toString(),
  ).toBe('kept');
  expect((await after.customerKey('carol', { create: false }))?.key).toEqual(customerKey?.key);
});

test('a master key behind the KMS interface wraps every data key, and the wrap is bound to its row', async () => {
  const calls: string[] = [];
  const inner = localMasterKey(randomBytes(32));
  const kms: MasterKey = {
    id: 'kms:alias/orders',
    wrap: (key, context) => {
      calls.push(`wrap ${context}`);
      return inner.wrap(key, context);
    },
    unwrap: (wrapped, context) => {
      calls.push(`unwrap ${context}`);
      return inner.unwrap(wrapped, context);
    },
  };
  await DataKeyRing.open(t.db, { current: kms, former: [] });
  expect(calls.filter((c) => c.startsWith('wrap'))).toHaveLength(2);
  expect((await keyRows()).every((r) => r.master_key_id === 'kms:alias/orders')).toBe(true);
  // A wrapped key copied onto another row does not unwrap there.
  const [a, b] = await keyRows();
  await sql`UPDATE encryption_keys SET wrapped_key = ${a!.wrapped_key} WHERE key_id = ${b!.key_id}`.execute(
    t.db,
  );
  await expect(DataKeyRing.open(t.db, { current: kms, former: [] })).rejects.toThrow(
    /tampered|authenticat/i,
  );
});

test('forgetting a customer destroys their key: sealed fields read as erased, others stay', async () => {
  const master = randomBytes(32);
  const ring = await DataKeyRing.open(t.db, localMasterKeys(master));
  const personal = personalData(ring);
  const address = { name: 'Dora Example', street: '7 Quiet Road' };
  const dora = await personal.seal('dora', 'shipping_address', address);
  const eve = await personal.seal('eve', 'shipping_address', { name: 'Eve Example' });
  expect(isSealed(dora)).toBe(true);
  expect(JSON.stringify(dora)).not.toContain('Dora');
  expect(await personal.open('dora', 'shipping_address', dora)).toEqual(address);
  // Bound to its customer and field: moved to another, it does not open.
  await expect(personal.open('eve', 'shipping_address', dora)).rejects.toThrow();

  const destroyed = await ring.forgetCustomer('dora');
  expect(destroyed).toHaveLength(1);
  // Another process, with nothing cached, reads it as erased too.
  const other = personalData(await DataKeyRing.open(t.db, localMasterKeys(master)));
  expect(await personal.open('dora', 'shipping_address', dora)).toEqual(ERASED);
  expect(await other.open('dora', 'shipping_address', dora)).toEqual(ERASED);
  expect(await personal.open('eve', 'shipping_address', eve)).toEqual({ name: 'Eve Example' });
  const row = (await keyRows()).find((r) => r.key_id === destroyed[0]);
  expect(row).toMatchObject({ customer_id: null, wrapped_key: null, master_key_id: null });
  expect(await ring.forgetCustomer('dora')).toEqual([]);
  // A forgotten customer who orders again gets a new key; the old fields stay erased.
  const again = await personal.seal('dora', 'shipping_address', address);
  expect((again as { key: string }).key).not.toBe((dora as { key: string }).key);
  expect(await personal.open('dora', 'shipping_address', again)).toEqual(address);
  const listed = await listDataKeys(t.db);
  expect(listed.customerKeys.find((c) => c.masterKeyId === null)?.keys).toBe(1);
  // A key id the ring never had is a missing key, not an erased field.
  await expect(
    personal.open('dora', 'shipping_address', { ...(dora as object), key: 'feedfeedfeedfeed' }),
  ).rejects.toBeInstanceOf(EncryptionKeyMissingError);
});
