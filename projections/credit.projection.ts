// read_models.customer_credit: available and spent cents per customer.
import { sql } from 'kysely';
import type { CreditEvent } from '../domain/credit';
import type { Projection } from './projection';

function delta(event: CreditEvent): { available: number; spent: number } {
  switch (event.type) {
    case 'CreditGranted':
      return { available: event.data.cents, spent: 0 };
    case 'PaymentCharged':
      return { available: -event.data.cents, spent: event.data.cents };
    case 'PaymentRefunded':
      return { available: event.data.cents, spent: -event.data.cents };
  }
}

export const creditProjection: Projection = {
  name: 'customer_credit',
  tables: ['read_models.customer_credit'],
  handles: new Set(['CreditGranted', 'PaymentCharged', 'PaymentRefunded']),

  async apply(db, event) {
    const d = delta({ type: event.type, data: event.data } as CreditEvent);
    await db
      .insertInto('read_models.customer_credit')
      .values({
        customer_id: event.streamId,
        available_cents: d.available,
        spent_cents: d.spent,
        version: event.version,
        updated_at: event.createdAt,
      })
      .onConflict((oc) =>
        oc.column('customer_id').doUpdateSet({
          available_cents: sql`read_models.customer_credit.available_cents + ${d.available}`,
          spent_cents: sql`read_models.customer_credit.spent_cents + ${d.spent}`,
          version: event.version,
          updated_at: event.createdAt,
        }),
      )
      .execute();
  },
};
