// Forgetting a customer (an erasure request): their data key is destroyed, so every personal
// field sealed under it (keys/personal-data.ts) reads as erased wherever a copy of it lives:
// events, the archive, snapshots, Temporal histories. Nothing else about their orders changes:
// amounts, items and stock movements stay, and so do the read models built from them.
import type { DataKeyRing } from './data-key-ring';

export interface ForgottenCustomer {
  customerId: string;
  /** Keys destroyed now: 0 when the customer had none (never sealed anything, or forgotten). */
  keysDestroyed: number;
}

export type ForgetCustomer = (customerId: string) => Promise<ForgottenCustomer>;

export function forgetCustomerWith(ring: DataKeyRing): ForgetCustomer {
  return async (customerId) => ({
    customerId,
    keysDestroyed: (await ring.forgetCustomer(customerId)).length,
  });
}
