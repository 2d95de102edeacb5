// zod schemas of what clients send: path parameters, query strings and bodies. Unknown fields
// are refused so typos do not pass silently; numbers must be safe integers.
import { z } from 'zod';
import { orderInputSchemas } from '../workflows/order-input';

// The order and the saga's messages: one schema with the workflow and the CLI.
export const {
  cancelOrderSchema,
  confirmPaymentSchema,
  createOrderSchema,
  idSchema,
  orderLineSchema,
  skipCompensationSchema,
} = orderInputSchemas();
export { MAX_ITEMS_PER_ORDER } from '../workflows/order-input';

/** Routes that take no query parameters refuse any (a typo is a 400, not silently ignored). */
export const noQuerySchema = z.strictObject({});

export const restockSchema = z.strictObject({
  quantity: z.number().int().positive().max(1_000_000_000),
});

export const grantCreditSchema = z.strictObject({
  cents: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

/** A non-negative integer in a query string, as digits only (no signs, exponents or blanks). */
const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
export const MAX_OFFSET = 100_000;

const page = {
  /** Larger values are capped at MAX_PAGE_SIZE; the response says which limit applied. */
  limit: queryInt(1, Number.MAX_SAFE_INTEGER)
    .transform((n) => Math.min(n, MAX_PAGE_SIZE))
    .default(DEFAULT_PAGE_SIZE),
  offset: queryInt(0, MAX_OFFSET).default(0),
};

export const pageQuerySchema = z.strictObject(page);

export const listOrdersQuerySchema = z.strictObject({
  ...page,
  status: z.enum(['pending', 'completed', 'cancelled']).optional(),
  customerId: idSchema.optional(),
});

export const MAX_WAIT_MS = 10_000;

export const orderQuerySchema = z.strictObject({
  /** Read-your-writes: wait (boundedly) until the read model has reached this version. */
  minVersion: queryInt(1, Number.MAX_SAFE_INTEGER).optional(),
  /** How long to wait for minVersion (default 2000 ms, at most MAX_WAIT_MS). */
  waitMs: queryInt(0, MAX_WAIT_MS).optional(),
});

export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const correlationIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/);
