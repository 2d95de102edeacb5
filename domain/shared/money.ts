// Money is integer cents with a currency; a float never holds an amount.
import { ensure } from './errors';

export interface Money {
  cents: number;
  currency: string;
}

export function isCents(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

export function money(cents: number, currency: string): Money {
  ensure(isCents(cents), 'INVALID_COMMAND', `amount must be a non-negative integer of cents`, {
    cents,
  });
  ensure(/^[A-Z]{3}$/.test(currency), 'INVALID_COMMAND', `currency must be an ISO 4217 code`, {
    currency,
  });
  return { cents, currency };
}

export function multiply(unitCents: number, quantity: number): number {
  ensure(
    isCents(unitCents),
    'INVALID_COMMAND',
    'unit price must be a non-negative integer of cents',
    {
      unitCents,
    },
  );
  ensure(
    Number.isSafeInteger(quantity) && quantity > 0,
    'INVALID_COMMAND',
    'quantity must be a positive integer',
    { quantity },
  );
  const total = unitCents * quantity;
  ensure(
    isCents(total),
    'INVALID_COMMAND',
    `line total must not exceed ${Number.MAX_SAFE_INTEGER} cents`,
    {
      unitCents,
      quantity,
    },
  );
  return total;
}

export function addCents(a: number, b: number): number {
  const total = a + b;
  ensure(
    isCents(total),
    'INVALID_COMMAND',
    `total must not exceed ${Number.MAX_SAFE_INTEGER} cents`,
  );
  return total;
}
