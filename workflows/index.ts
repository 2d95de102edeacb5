// The workflows the worker registers (this file is the bundle's entry point).
export { orderSaga } from './order-saga.workflow';
export { eventStoreRetention } from './retention.workflow';
