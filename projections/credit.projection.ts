// read_models.customer_credit: available and spent cents per customer. A batch is summed per
// customer in memory and written with one multi-row upsert of the deltas.
import type { CreditEvent } from '../domain/credit';
import type { RecordedEvent } from '../eventstore';
import { addSafe, eventTime, type Projection, ProjectionApplyError } from './projection';

export function creditDelta(event: RecordedEvent): { available: number; spent: number } {
  const e = { type: event.type, data: event.data } as CreditEvent;
  const cents = e.data?.cents;
  if (!Number.isSafeInteger(cents))
    throw new ProjectionApplyError(event, `cents ${String(cents)} is not an integer`);
  switch (e.type) {
    case 'CreditGranted':
      return { available: cents, spent: 0 };
    case 'PaymentCharged':
      return { available: -cents, spent: cents };
    case 'PaymentRefunded':
      return { available: cents, spent: -cents };
    default:
      throw new ProjectionApplyError(event, `customer_credit cannot apply ${event.type}`);
  }
}

export interface CreditDelta {
  customerId: string;
  available: number;
  spent: number;
  version: number;
  updatedAt: string;
}

/** Pure: one delta per customer for the whole batch. */
export function foldCredit(events: readonly RecordedEvent[]): CreditDelta[] {
  const byCustomer = new Map<string, CreditDelta>();
  for (const event of events) {
    const d = creditDelta(event);
    let row = byCustomer.get(event.streamId);
    if (!row) {
      row = { customerId: event.streamId, available: 0, spent: 0, version: 0, updatedAt: '' };
      byCustomer.set(event.streamId, row);
    }
    row.available = addSafe(event, row.available, d.available);
    row.spent = addSafe(event, row.spent, d.spent);
    row.version = event.version;
    row.updatedAt = eventTime(event);
  }
  return [...byCustomer.values()];
}

export const creditProjection: Projection = {
  name: 'customer_credit',
  tables: ['customer_credit'],
  handles: new Set(['CreditGranted', 'PaymentCharged', 'PaymentRefunded']),

  async apply({ client, table }, events) {
    const rows = foldCredit(events);
    if (rows.length === 0) return;
    const t = table('customer_credit');
    await client.query(
      `INSERT INTO ${t} AS t (customer_id, available_cents, spent_cents, version, updated_at)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[], $5::timestamptz[])
       ON CONFLICT (customer_id) DO UPDATE SET
         available_cents = t.available_cents + EXCLUDED.available_cents,
         spent_cents = t.spent_cents + EXCLUDED.spent_cents,
         version = EXCLUDED.version,
         updated_at = EXCLUDED.updated_at`,
      [
        rows.map((r) => r.customerId),
        rows.map((r) => r.available),
        rows.map((r) => r.spent),
        rows.map((r) => r.version),
        rows.map((r) => r.updatedAt),
      ],
    );
  },
};
