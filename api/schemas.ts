// zod schemas of what clients send. Unknown fields are refused so typos do not pass silently.
import { z } from 'zod';

export const idSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits and . _ : - only');

const cents = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const orderLineSchema = z.strictObject({
  productId: idSchema,
  quantity: z.number().int().positive().max(1_000_000),
  unitPriceCents: cents,
});

export const createOrderSchema = z.strictObject({
  orderId: idSchema.optional(),
  customerId: idSchema,
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code')
    .optional(),
  items: z.array(orderLineSchema).min(1).max(100),
  shippingAddress: z.record(z.string(), z.unknown()).nullable().optional(),
});
