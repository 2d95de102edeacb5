// The saga bench's baselines, bundled on their own, never registered by the product's worker:
// - bareSaga: runs as many activities as orderSaga (four, one after the other) doing nothing:
//   Temporal's own cost for the saga's shape; with `waitMs`, each activity waits that long first
//   (what waiting on I/O costs, apart from the work of the saga's activities);
// - bareOrderSaga: runs orderSaga's four event-store activities with the same arguments and
//   nothing around them (no input check, state, lock, compensations or search attributes):
//   what is left between it and orderSaga is the saga's own workflow code;
// - with `announced`, bareOrderSaga also does what orderSaga does towards Temporal beyond its
//   activities: OrderStatus upserted on completion (the bench starts it with orderSaga's memo
//   and search attributes). What is left between that and orderSaga is the saga's workflow code proper.
import {
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { OrderActivities } from '../../activities/order.activities';
import { OrderStatusKey } from '../../workflows/search-attributes';
import type { OrderSagaInput } from '../../workflows/types';
import type { BareActivities } from './activities';
import { sagaSteps } from './steps';

const options = { startToCloseTimeout: '10 seconds' } as const;
const remote = proxyActivities<BareActivities>(options);
const local = proxyLocalActivities<BareActivities>(options);
const remoteOrder = proxyActivities<OrderActivities>(options);
const localOrder = proxyLocalActivities<OrderActivities>(options);

export async function bareSaga(input: {
  steps: number;
  local: boolean;
  waitMs?: number;
}): Promise<number> {
  const acts = input.local ? local : remote;
  for (let i = 0; i < input.steps; i++)
    await (input.waitMs ? acts.wait(input.waitMs) : acts.noop(i));
  return input.steps;
}

export async function bareOrderSaga(
  input: OrderSagaInput & { announced?: boolean },
): Promise<void> {
  const acts = input.useLocalActivities ? localOrder : remoteOrder;
  const steps = sagaSteps(input);
  await acts.createOrder(steps.createOrder);
  await acts.reserveInventoryItems(steps.reserveInventoryItems);
  await acts.chargePayment(steps.chargePayment);
  await acts.confirmOrder(steps.confirmOrder);
  if (input.announced) upsertSearchAttributes([{ key: OrderStatusKey, value: 'completed' }]);
}
