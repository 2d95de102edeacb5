// Personal fields of a customer (an order's shipping address) are sealed under that customer's
// data key before they leave the client: the saga's input in Temporal, the events, snapshots and
// anything copied from them hold only the sealed form. Forgetting the customer destroys the key
// (DataKeyRing.forgetCustomer), and every copy reads as erased at once, with nothing rewritten.
//
// Fields, not whole payloads: the saga never opens them, so a saga in flight for a forgotten
// customer still replays, compensates or completes; only the sealed fields are gone.
import { createHmac } from 'node:crypto';
import { aesDecrypt, aesEncrypt } from '../eventstore/codec';
import type { DataKeyRing } from './data-key-ring';

export const SEALED_V1 = 'customer/v1';

/** The stored form of a personal field: JSON, so it passes through every layer as a value. */
export interface SealedField {
  sealed: typeof SEALED_V1;
  /** The customer data key's id. */
  key: string;
  /** base64 of IV, tag and ciphertext of the field's JSON. */
  data: string;
}

/** What a sealed field reads as once its customer has been forgotten. */
export interface ErasedField {
  erased: true;
}
export const ERASED: ErasedField = Object.freeze({ erased: true });

export function isSealed(value: unknown): value is SealedField {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { sealed?: unknown }).sealed === SEALED_V1 &&
    typeof (value as { key?: unknown }).key === 'string' &&
    typeof (value as { data?: unknown }).data === 'string'
  );
}

export function isErased(value: unknown): value is ErasedField {
  return typeof value === 'object' && value !== null && (value as ErasedField).erased === true;
}

/** The field's customer and name are bound to the ciphertext: it cannot be moved to another. */
const aad = (customerId: string, field: string) =>
  JSON.stringify(['sealed', SEALED_V1, customerId, field]);

export interface PersonalData {
  /** Seals a field under the customer's key (created on first use); a sealed value is kept. */
  seal(customerId: string, field: string, value: unknown): Promise<unknown>;
  /** The field in clear; ERASED when its customer was forgotten; a clear value as it is. */
  open(customerId: string, field: string, value: unknown): Promise<unknown>;
  /**
   * The customer's opaque reference (`c-` and 32 hex digits), for what Temporal indexes in
   * clear: an HMAC under the customer's key, so it names no one and, once the key is
   * destroyed, cannot be computed again. Undefined where references are not given out.
   */
  reference(customerId: string): Promise<string | undefined>;
}

export function personalData(
  ring: DataKeyRing,
  { references = true }: { references?: boolean } = {},
): PersonalData {
  return {
    async reference(customerId) {
      if (!references) return undefined;
      const key = (await ring.customerKey(customerId, { create: true }))!;
      const mac = createHmac('sha256', key.key).update('customer-ref/v1').digest('hex');
      return `c-${mac.slice(0, 32)}`;
    },

    async seal(customerId, field, value) {
      if (value === null || value === undefined || isSealed(value) || isErased(value)) return value;
      const key = (await ring.customerKey(customerId, { create: true }))!;
      const sealed: SealedField = {
        sealed: SEALED_V1,
        key: key.id,
        data: aesEncrypt(key, Buffer.from(JSON.stringify(value)), aad(customerId, field)).toString(
          'base64',
        ),
      };
      return sealed;
    },

    async open(customerId, field, value) {
      if (!isSealed(value)) return value;
      const key = await ring.customerKeyById(value.key);
      if (key === 'destroyed') return ERASED;
      const plain = aesDecrypt(key, Buffer.from(value.data, 'base64'), aad(customerId, field));
      return JSON.parse(plain.toString('utf8')) as unknown;
    },
  };
}

/** Without a master key nothing is sealed: fields are stored as given. */
export const clearPersonalData: PersonalData = {
  seal: (_customerId, _field, value) => Promise.resolve(value),
  open: (_customerId, _field, value) => Promise.resolve(value),
  reference: () => Promise.resolve(undefined),
};
