// Search attributes the saga keeps current, so the Temporal UI can list sagas by them.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const CustomerIdKey = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);
export const OrderStatusKey = defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD);
export const OrderTotalCentsKey = defineSearchAttributeKey(
  'OrderTotalCents',
  SearchAttributeType.INT,
);

export const SEARCH_ATTRIBUTES = {
  CustomerId: 'Keyword',
  OrderStatus: 'Keyword',
  OrderTotalCents: 'Int',
} as const;
