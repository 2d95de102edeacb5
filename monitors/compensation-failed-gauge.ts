// order_sagas_compensation_failed: sagas parked in compensation_failed, counted in Temporal
// visibility on a timer (not at scrape time: a slow or unreachable Temporal must not stall
// /metrics), so that an alert fires while one waits for an operator.
import type { Client } from '@temporalio/client';
import { Gauge, type Registry } from 'prom-client';
import { countCompensationFailed } from './compensation-failed';
import { type PollOptions, pollVisibility, type VisibilityPoller } from './visibility-poller';

export type CompensationFailedGauge = VisibilityPoller;

export function startCompensationFailedGauge(
  registry: Registry,
  client: Client,
  options: { taskQueue?: string } & PollOptions = {},
): CompensationFailedGauge {
  const gauge = new Gauge({
    name: 'order_sagas_compensation_failed',
    help: 'Order sagas waiting in compensation_failed for an operator (Temporal visibility)',
    registers: [registry],
  });
  return pollVisibility(
    registry,
    'order_sagas_compensation_failed',
    '1 when the last count of compensation_failed sagas could not be read from Temporal',
    async () => gauge.set(await countCompensationFailed(client, { taskQueue: options.taskQueue })),
    options,
  );
}
