// Kysely table types for what this module owns: read_models.* and projection_checkpoints.
import type { ColumnType } from 'kysely';
import type { EventStoreTables } from '../eventstore/schema';

type Int8 = ColumnType<string, number | string, number | string>;

export interface ProjectionCheckpointsTable {
  name: string;
  transaction_id: ColumnType<string, string | undefined, string>;
  global_position: Int8;
  events_processed: Int8;
  status: string;
  last_error: string | null;
  last_event_at: Date | null;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface OrdersTable {
  id: string;
  customer_id: string;
  status: string;
  currency: string;
  total_amount: Int8;
  item_count: number;
  created_at: Date | string;
  updated_at: Date | string;
  completed_at: Date | string | null;
  cancelled_at: Date | string | null;
  cancellation_reason: string | null;
  version: number;
}

export interface OrderItemsTable {
  order_id: string;
  line_no: number;
  product_id: string;
  quantity: number;
  unit_price: Int8;
  total_price: Int8;
  created_at: Date | string;
}

export interface OrderStatsTable {
  status: string;
  count: Int8;
  revenue: Int8;
}

export interface InventoryTable {
  product_id: string;
  on_hand: Int8;
  reserved: Int8;
  available: Int8;
  version: number;
  updated_at: Date | string;
}

export interface CustomerCreditTable {
  customer_id: string;
  available_cents: Int8;
  spent_cents: Int8;
  version: number;
  updated_at: Date | string;
}

export interface ReadModelTables {
  projection_checkpoints: ProjectionCheckpointsTable;
  'read_models.orders': OrdersTable;
  'read_models.order_items': OrderItemsTable;
  'read_models.order_stats': OrderStatsTable;
  'read_models.inventory': InventoryTable;
  'read_models.customer_credit': CustomerCreditTable;
}

export type ProjectionDb = EventStoreTables & ReadModelTables;
