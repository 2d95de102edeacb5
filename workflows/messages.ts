// Signals, queries and updates of orderSaga: imported by the workflow and by its clients.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { SagaState } from './types';

export const cancelOrderSignal = defineSignal<[reason?: string]>('cancelOrder');
export const confirmPaymentSignal = defineSignal('confirmPayment');
export const retryCompensationSignal = defineSignal('retryCompensation');
export const sagaStateQuery = defineQuery<SagaState>('sagaState');
