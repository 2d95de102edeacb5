// order_sagas_running_longer_than{older_than}: order sagas still Running that started more than
// a limit ago (1h, 6h, 24h), counted in Temporal visibility on a timer like the
// compensation_failed gauge, so that an alert fires on a saga stuck past any path it can take
// (a workflow task failing over and over, a step retrying through an outage). Sagas parked in
// compensation_failed are left out: they have their own gauge and alert.
import type { Client } from '@temporalio/client';
import { Gauge, type Registry } from 'prom-client';
import { OrderStatusKey } from '../workflows/search-attributes';
import { type PollOptions, pollVisibility, type VisibilityPoller } from './visibility-poller';

export interface AgeLimit {
  /** The label value, e.g. "1h". */
  label: string;
  ms: number;
}

export const DEFAULT_AGE_LIMITS: readonly AgeLimit[] = [
  { label: '1h', ms: 3_600_000 },
  { label: '6h', ms: 6 * 3_600_000 },
  { label: '24h', ms: 24 * 3_600_000 },
];

const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Running orderSagas started before `startedBefore`, not parked in compensation_failed. */
export function longRunningSagasQuery(startedBefore: Date, taskQueue?: string): string {
  return (
    `WorkflowType = 'orderSaga' AND ExecutionStatus = 'Running'` +
    ` AND StartTime < ${quoted(startedBefore.toISOString())}` +
    ` AND ${OrderStatusKey.name} != 'compensation_failed'` +
    (taskQueue === undefined ? '' : ` AND TaskQueue = ${quoted(taskQueue)}`)
  );
}

export type LongRunningSagasGauge = VisibilityPoller;

export function startLongRunningSagasGauge(
  registry: Registry,
  client: Client,
  options: { taskQueue?: string; limits?: readonly AgeLimit[] } & PollOptions = {},
): LongRunningSagasGauge {
  const limits = options.limits ?? DEFAULT_AGE_LIMITS;
  const gauge = new Gauge({
    name: 'order_sagas_running_longer_than',
    help: 'Order sagas Running for longer than older_than, compensation_failed ones aside (Temporal visibility)',
    labelNames: ['older_than'],
    registers: [registry],
  });
  return pollVisibility(
    registry,
    'order_sagas_running_longer_than',
    '1 when the last count of long-running sagas could not be read from Temporal',
    async () => {
      const now = Date.now();
      const counts = await Promise.all(
        limits.map(
          async (limit) =>
            (
              await client.workflow.count(
                longRunningSagasQuery(new Date(now - limit.ms), options.taskQueue),
              )
            ).count,
        ),
      );
      limits.forEach((limit, i) => gauge.set({ older_than: limit.label }, counts[i]!));
    },
    options,
  );
}
