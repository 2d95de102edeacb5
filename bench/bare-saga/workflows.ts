// The saga bench's baseline: a workflow that runs the same number of activities as orderSaga
// (four, one after the other) doing nothing. Bundled on its own, never registered by the
// product's worker.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { BareActivities } from './activities';

const options = { startToCloseTimeout: '10 seconds' } as const;
const remote = proxyActivities<BareActivities>(options);
const local = proxyLocalActivities<BareActivities>(options);

export async function bareSaga(input: { steps: number; local: boolean }): Promise<number> {
  const acts = input.local ? local : remote;
  for (let i = 0; i < input.steps; i++) await acts.noop(i);
  return input.steps;
}
