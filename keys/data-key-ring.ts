// Envelope encryption: each purpose (the event store's payloads, Temporal's payloads) and each
// customer has its own random AES-256 data key, stored in `encryption_keys` wrapped by the
// master key (keys/master-key.ts). Rotating the master key rewraps a few rows instead of
// re-encrypting the store, and forgetting a customer destroys one row (crypto-shredding).
//
// Random 96-bit IVs make a key safe for about 2^32 encryptions. Every use of a purpose key is
// counted against `uses_reserved` in blocks that a process reserves ahead (one UPDATE per
// block), so the count is an upper bound even when a process dies mid-block; a key past
// `rotateAfterUses` is retired (still decrypts, never encrypts) and a new one takes over.
import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { type EncryptionKey, type KeySource, toEncryptionKey } from '../eventstore/codec';
import { EncryptionKeyMissingError, KeyUsageExhaustedError } from '../eventstore/errors';
import type { MasterKey, MasterKeys } from './master-key';

export type KeyPurpose = 'event-store' | 'temporal';
export const KEY_PURPOSES: readonly KeyPurpose[] = ['event-store', 'temporal'];
const CUSTOMER = 'customer';

/** Half of the 2^32 bound of random 96-bit IVs. */
export const DEFAULT_ROTATE_AFTER_USES = 2 ** 31;
export const DEFAULT_RESERVE_BLOCK = 100_000;
/**
 * What a process reserves when it opens the ring: a command that never encrypts (`keys`,
 * `customer-ref`) spends no more; the first encryption reserves a whole block.
 */
const OPENING_RESERVE = 1_000;

export interface DataKeyRingOptions {
  /** Encryptions reserved per trip to the database. */
  reserveBlock?: number;
  /** Uses after which a purpose key is retired and replaced. */
  rotateAfterUses?: number;
  /**
   * Keys given as bytes that encrypted payloads directly, before data keys (the master keys of
   * config, which earlier releases used as the encryption key): read only, until re-encrypt.
   */
  legacyKeys?: readonly Buffer[];
  /** How long an opened customer key is kept in memory (default 60 s). */
  customerKeyTtlMs?: number;
  /** How often a process that encrypts looks for a key rotated elsewhere (default 30 s). */
  rotationCheckMs?: number;
}

export interface DataKeyRow {
  key_id: string;
  purpose: string;
  master_key_id: string | null;
  uses_reserved: string;
  created_at: Date;
  retired_at: Date | null;
  destroyed_at: Date | null;
}

interface WrappedRow {
  key_id: string;
  purpose: string;
  master_key_id: string | null;
  wrapped_key: Buffer | null;
  destroyed_at: Date | null;
}

/** Binds a wrapped key to its row: a wrapped key copied onto another row does not unwrap. */
const wrapContext = (keyId: string, purpose: string) =>
  JSON.stringify(['data-key/v1', keyId, purpose]);

const newKeyId = () => randomBytes(8).toString('hex');

/** A customer's key as the ring hands it out: open, or destroyed by forget-customer. */
export type CustomerKey = EncryptionKey | 'destroyed';

const DEFAULT_ROTATION_CHECK_MS = 30_000;
/** Opened customer keys kept in memory: each entry is about 100 bytes. */
const CUSTOMER_CACHE_SIZE = 10_000;

class PurposeKeys implements KeySource {
  key!: EncryptionKey;
  remaining = 0;
  checkedAt = Date.now();
  private reserving: Promise<void> | null = null;

  constructor(
    private readonly ring: DataKeyRing,
    readonly purpose: KeyPurpose,
    private readonly block: number,
    private readonly rotationCheckMs: number,
  ) {}

  get currentKeyId() {
    return this.key.id;
  }

  current(): EncryptionKey {
    if (this.remaining <= 0) {
      this.reserveSoon();
      throw new KeyUsageExhaustedError(this.purpose);
    }
    this.remaining -= 1;
    if (this.remaining < this.block / 2) this.reserveSoon();
    else if (Date.now() - this.checkedAt >= this.rotationCheckMs) this.followRotationSoon();
    return this.key;
  }

  byId(id: string) {
    return this.ring.loadedKey(id);
  }

  /** One reservation at a time; a failure is retried by the next use. */
  reserveSoon() {
    this.inBackground(() => this.ring.reserve(this));
  }

  /** A key rotated elsewhere (`rotate-key`) takes over here within rotationCheckMs. */
  private followRotationSoon() {
    this.checkedAt = Date.now();
    this.inBackground(() => this.ring.followRotation(this));
  }

  private inBackground(task: () => Promise<void>) {
    this.reserving ??= task()
      .catch(() => undefined)
      .finally(() => {
        this.reserving = null;
      });
  }
}

export class DataKeyRing {
  private readonly keys = new Map<string, EncryptionKey>();
  private readonly purposes = new Map<KeyPurpose, PurposeKeys>();
  private readonly customers = new Map<string, { key: CustomerKey; until: number }>();
  private readonly loading = new Set<string>();
  private readonly block: number;
  private readonly rotateAfter: number;
  private readonly customerTtl: number;
  private readonly rotationCheckMs: number;

  private constructor(
    private readonly db: Kysely<any>,
    private readonly masters: MasterKeys,
    options: DataKeyRingOptions,
  ) {
    this.block = options.reserveBlock ?? DEFAULT_RESERVE_BLOCK;
    this.rotateAfter = options.rotateAfterUses ?? DEFAULT_ROTATE_AFTER_USES;
    this.customerTtl = options.customerKeyTtlMs ?? 60_000;
    this.rotationCheckMs = options.rotationCheckMs ?? DEFAULT_ROTATION_CHECK_MS;
    // A block larger than the bound would retire every new key as soon as it is reserved.
    if (this.rotateAfter <= this.block)
      throw new RangeError(
        `rotateAfterUses (${this.rotateAfter}) must exceed reserveBlock (${this.block})`,
      );
    for (const legacy of options.legacyKeys ?? []) {
      const k = toEncryptionKey(legacy);
      this.keys.set(k.id, k);
    }
  }

  /** Creates each purpose's first key when missing, opens every purpose key, reserves uses. */
  static async open(
    db: Kysely<any>,
    masters: MasterKeys,
    options: DataKeyRingOptions = {},
  ): Promise<DataKeyRing> {
    const ring = new DataKeyRing(db, masters, options);
    const { rows } = await sql<WrappedRow>`
      SELECT key_id, purpose, master_key_id, wrapped_key, destroyed_at FROM encryption_keys
      WHERE purpose <> ${CUSTOMER} AND destroyed_at IS NULL`.execute(db);
    for (const row of rows) ring.keys.set(row.key_id, await ring.unwrap(row));
    for (const purpose of KEY_PURPOSES) {
      const keys = new PurposeKeys(ring, purpose, ring.block, ring.rotationCheckMs);
      ring.purposes.set(purpose, keys);
      await ring.reserve(keys, Math.min(ring.block, OPENING_RESERVE));
    }
    return ring;
  }

  /** The KeySource of a purpose, for the event store's codec or Temporal's payload codec. */
  source(purpose: KeyPurpose): KeySource {
    return this.purposes.get(purpose)!;
  }

  /** A key this process has opened; an unknown id is looked up in the background. */
  loadedKey(id: string): EncryptionKey | undefined {
    const key = this.keys.get(id);
    if (!key && !this.loading.has(id)) {
      // A key created by another process since this one started (a rotation): the read fails
      // once with ENCRYPTION_KEY_MISSING, which callers retry, and finds it the next time.
      this.loading.add(id);
      void this.loadPurposeKey(id)
        .catch(() => undefined)
        .finally(() => this.loading.delete(id));
    }
    return key;
  }

  private async loadPurposeKey(id: string) {
    const { rows } = await sql<WrappedRow>`
      SELECT key_id, purpose, master_key_id, wrapped_key, destroyed_at FROM encryption_keys
      WHERE key_id = ${id} AND purpose <> ${CUSTOMER}`.execute(this.db);
    if (rows[0]?.wrapped_key) this.keys.set(id, await this.unwrap(rows[0]));
  }

  /**
   * Reserves the next block of uses of the purpose's current key, following a rotation made by
   * another process, and rotates the key itself once it is past its bound.
   */
  async reserve(keys: PurposeKeys, size = this.block): Promise<void> {
    for (;;) {
      const { rows } = await sql<{ key_id: string; uses_reserved: string }>`
        UPDATE encryption_keys SET uses_reserved = uses_reserved + ${size}
        WHERE purpose = ${keys.purpose} AND retired_at IS NULL
        RETURNING key_id, uses_reserved`.execute(this.db);
      const row = rows[0];
      if (!row) {
        await this.createPurposeKey(keys.purpose);
        continue;
      }
      if (Number(row.uses_reserved) > this.rotateAfter) {
        await this.rotate(keys.purpose, row.key_id);
        continue;
      }
      if (!this.keys.has(row.key_id)) await this.loadPurposeKey(row.key_id);
      const key = this.keys.get(row.key_id);
      if (!key) throw new EncryptionKeyMissingError(row.key_id);
      if (keys.key?.id !== key.id) keys.remaining = 0;
      keys.key = key;
      keys.remaining += size;
      keys.checkedAt = Date.now();
      return;
    }
  }

  /** Switches to the purpose's current key if another process has rotated it. */
  async followRotation(keys: PurposeKeys): Promise<void> {
    const { rows } = await sql<{ key_id: string }>`
      SELECT key_id FROM encryption_keys
      WHERE purpose = ${keys.purpose} AND retired_at IS NULL`.execute(this.db);
    if (rows[0] && rows[0].key_id !== keys.key.id) {
      keys.remaining = 0;
      await this.reserve(keys);
    }
  }

  private async createPurposeKey(purpose: KeyPurpose) {
    const keyId = newKeyId();
    const wrapped = await this.masters.current.wrap(randomBytes(32), wrapContext(keyId, purpose));
    // Two processes starting at once: the partial unique index keeps one current key.
    await sql`
      INSERT INTO encryption_keys (key_id, purpose, master_key_id, wrapped_key)
      VALUES (${keyId}, ${purpose}, ${this.masters.current.id}, ${wrapped})
      ON CONFLICT (purpose) WHERE retired_at IS NULL AND purpose <> 'customer' DO NOTHING`.execute(
      this.db,
    );
  }

  /**
   * Retires the purpose's current key `fromKeyId` (it keeps decrypting) and creates the next.
   * Naming the key retired makes two processes that both saw it past its bound rotate once.
   */
  async rotate(purpose: KeyPurpose, fromKeyId?: string): Promise<string> {
    await this.db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ key_id: string }>`
        UPDATE encryption_keys SET retired_at = now()
        WHERE purpose = ${purpose} AND retired_at IS NULL
          AND (${fromKeyId ?? null}::text IS NULL OR key_id = ${fromKeyId ?? null})
        RETURNING key_id`.execute(tx);
      if (rows.length === 0) return;
      const keyId = newKeyId();
      const wrapped = await this.masters.current.wrap(randomBytes(32), wrapContext(keyId, purpose));
      await sql`
        INSERT INTO encryption_keys (key_id, purpose, master_key_id, wrapped_key)
        VALUES (${keyId}, ${purpose}, ${this.masters.current.id}, ${wrapped})`.execute(tx);
    });
    const keys = this.purposes.get(purpose);
    if (keys) {
      keys.remaining = 0;
      await this.reserve(keys);
      return keys.key.id;
    }
    const { rows } = await sql<{ key_id: string }>`
      SELECT key_id FROM encryption_keys WHERE purpose = ${purpose} AND retired_at IS NULL`.execute(
      this.db,
    );
    return rows[0]!.key_id;
  }

  private masterFor(id: string | null): MasterKey {
    const master = [this.masters.current, ...this.masters.former].find((m) => m.id === id);
    if (!master) throw new EncryptionKeyMissingError(id);
    return master;
  }

  private async unwrap(row: WrappedRow): Promise<EncryptionKey> {
    const master = this.masterFor(row.master_key_id);
    const key = await master.unwrap(row.wrapped_key!, wrapContext(row.key_id, row.purpose));
    return { id: row.key_id, key };
  }

  /**
   * The customer's key, created on first use when `create` is set; undefined when the customer
   * has none (never sealed anything, or was forgotten and has not come back).
   */
  async customerKey(
    customerId: string,
    { create }: { create: boolean },
  ): Promise<EncryptionKey | undefined> {
    const cached = this.customers.get(`customer:${customerId}`);
    if (cached && cached.until > Date.now() && cached.key !== 'destroyed') return cached.key;
    const find = () =>
      sql<WrappedRow>`
      SELECT key_id, purpose, master_key_id, wrapped_key, destroyed_at FROM encryption_keys
      WHERE customer_id = ${customerId} AND destroyed_at IS NULL`.execute(this.db);
    let { rows } = await find();
    if (rows.length === 0 && create) {
      const keyId = newKeyId();
      const wrapped = await this.masters.current.wrap(
        randomBytes(32),
        wrapContext(keyId, CUSTOMER),
      );
      await sql`
        INSERT INTO encryption_keys (key_id, purpose, customer_id, master_key_id, wrapped_key)
        VALUES (${keyId}, ${CUSTOMER}, ${customerId}, ${this.masters.current.id}, ${wrapped})
        ON CONFLICT (customer_id) WHERE destroyed_at IS NULL DO NOTHING`.execute(this.db);
      ({ rows } = await find());
    }
    if (!rows[0]) return undefined;
    const key = await this.unwrap(rows[0]);
    this.remember(`customer:${customerId}`, key);
    this.remember(key.id, key);
    return key;
  }

  /** A customer key by id (what a sealed field names): open, or destroyed. */
  async customerKeyById(keyId: string): Promise<CustomerKey> {
    const cached = this.customers.get(keyId);
    if (cached && cached.until > Date.now()) return cached.key;
    const { rows } = await sql<WrappedRow>`
      SELECT key_id, purpose, master_key_id, wrapped_key, destroyed_at FROM encryption_keys
      WHERE key_id = ${keyId} AND purpose = ${CUSTOMER}`.execute(this.db);
    const row = rows[0];
    if (!row) throw new EncryptionKeyMissingError(keyId);
    const key: CustomerKey = row.destroyed_at ? 'destroyed' : await this.unwrap(row);
    this.remember(keyId, key);
    return key;
  }

  /**
   * Keeps an opened customer key for customerKeyTtlMs, and at most CUSTOMER_CACHE_SIZE of them
   * (the oldest go first), so a long-running API does not hold every customer it ever served.
   */
  private remember(name: string, key: CustomerKey) {
    this.customers.delete(name);
    this.customers.set(name, { key, until: Date.now() + this.customerTtl });
    if (this.customers.size > CUSTOMER_CACHE_SIZE)
      this.customers.delete(this.customers.keys().next().value!);
  }

  /**
   * Destroys the customer's key: the wrapped key and the customer id leave the row, which stays
   * as a marker so that what the key sealed reads as erased rather than as a missing key.
   * VACUUM then removes the old row version from the table's pages; a role that may not vacuum
   * the table leaves that to autovacuum, and the forget stands.
   */
  async forgetCustomer(customerId: string): Promise<string[]> {
    const { rows } = await sql<{ key_id: string }>`
      UPDATE encryption_keys
      SET wrapped_key = NULL, master_key_id = NULL, customer_id = NULL, destroyed_at = now()
      WHERE customer_id = ${customerId} AND destroyed_at IS NULL
      RETURNING key_id`.execute(this.db);
    this.customers.delete(`customer:${customerId}`);
    for (const r of rows) this.remember(r.key_id, 'destroyed');
    await sql`VACUUM encryption_keys`.execute(this.db).catch(() => undefined);
    return rows.map((r) => r.key_id);
  }

  /** Rewraps every data key not under the current master key; returns how many it moved. */
  async rewrap(): Promise<number> {
    const { rows } = await sql<WrappedRow>`
      SELECT key_id, purpose, master_key_id, wrapped_key, destroyed_at FROM encryption_keys
      WHERE wrapped_key IS NOT NULL AND master_key_id <> ${this.masters.current.id}`.execute(
      this.db,
    );
    let moved = 0;
    for (const row of rows) {
      const { key } = await this.unwrap(row);
      const wrapped = await this.masters.current.wrap(key, wrapContext(row.key_id, row.purpose));
      const result = await sql`
        UPDATE encryption_keys SET wrapped_key = ${wrapped}, master_key_id = ${this.masters.current.id}
        WHERE key_id = ${row.key_id} AND master_key_id = ${row.master_key_id}`.execute(this.db);
      moved += Number(result.numAffectedRows ?? 0);
    }
    return moved;
  }
}

/** Every purpose key, and the customer keys counted (never listed: a customer id is personal). */
export async function listDataKeys(db: Kysely<any>) {
  const { rows: purposeKeys } = await sql<DataKeyRow>`
    SELECT key_id, purpose, master_key_id, uses_reserved, created_at, retired_at, destroyed_at
    FROM encryption_keys WHERE purpose <> ${CUSTOMER} ORDER BY purpose, created_at`.execute(db);
  const { rows: customers } = await sql<{ master_key_id: string | null; n: string }>`
    SELECT master_key_id, count(*) AS n FROM encryption_keys WHERE purpose = ${CUSTOMER}
    GROUP BY master_key_id ORDER BY master_key_id NULLS LAST`.execute(db);
  return {
    purposeKeys,
    customerKeys: customers.map((c) => ({ masterKeyId: c.master_key_id, keys: Number(c.n) })),
  };
}
