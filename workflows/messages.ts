// Signals, queries and updates of orderSaga: imported by the workflow and by its clients.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { OrderLine } from '../domain/order';
import type { AddItemResult, SagaState } from './types';

export const cancelOrderSignal = defineSignal<[reason?: string]>('cancelOrder');
export const confirmPaymentSignal = defineSignal('confirmPayment');
export const retryCompensationSignal = defineSignal('retryCompensation');
export const sagaStateQuery = defineQuery<SagaState>('sagaState');
/** Adds a line while the order is pending; refused (ORDER_NOT_PENDING) once payment started. */
export const addItemUpdate = defineUpdate<AddItemResult, [line: OrderLine]>('addItem');
