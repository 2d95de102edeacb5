// Signals, queries and updates of orderSaga: imported by the workflow and by its clients.
// Arguments are typed for clients; the saga validates them anyway (workflows/order-input.ts),
// since anyone with the Temporal client can send anything.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { OrderLine } from '../domain/order';
import type {
  AddItemResult,
  CancelOrderResult,
  ConfirmPaymentResult,
  SagaState,
  SkipCompensationResult,
} from './types';

/** Old clients: a cancel request that does not say whether it took effect. */
export const cancelOrderSignal = defineSignal<[reason?: string]>('cancelOrder');
/** Answers `cancelled` (the order will end cancelled) or `too late` (it is being confirmed). */
export const cancelOrderUpdate = defineUpdate<CancelOrderResult, [request: { reason?: string }]>(
  'cancelOrder',
);
/**
 * Old clients: taken only while the saga awaits a confirmation (an early one is ignored, not
 * latched). New clients use the update, which carries the amount and says whether it counted.
 */
export const confirmPaymentSignal = defineSignal('confirmPayment');
/** Accepted only while awaiting_payment_confirmation and for the saga's current total. */
export const confirmPaymentUpdate = defineUpdate<
  ConfirmPaymentResult,
  [request: { amountCents: number }]
>('confirmPayment');
export const retryCompensationSignal = defineSignal('retryCompensation');
/** Gives up the failed compensation named (saga in compensation_failed), with a reason. */
export const skipCompensationUpdate = defineUpdate<
  SkipCompensationResult,
  [request: { compensation: string; reason: string }]
>('skipCompensation');
export const sagaStateQuery = defineQuery<SagaState>('sagaState');
/** Adds a line while the order is pending; refused (ORDER_NOT_PENDING) once payment started. */
export const addItemUpdate = defineUpdate<AddItemResult, [line: OrderLine]>('addItem');
