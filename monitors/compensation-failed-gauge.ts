// order_sagas_compensation_failed: sagas parked in compensation_failed, counted in Temporal
// visibility on a timer (not at scrape time: a slow or unreachable Temporal must not stall
// /metrics), so that an alert fires while one waits for an operator.
import type { Client } from '@temporalio/client';
import { Gauge, type Registry } from 'prom-client';
import { countCompensationFailed } from './compensation-failed';

export interface CompensationFailedGauge {
  /** Counts now (tests; the timer does it every refreshMs). */
  refresh(): Promise<void>;
  stop(): void;
}

export function startCompensationFailedGauge(
  registry: Registry,
  client: Client,
  options: { taskQueue?: string; refreshMs?: number; onError?: (err: unknown) => void } = {},
): CompensationFailedGauge {
  const gauge = new Gauge({
    name: 'order_sagas_compensation_failed',
    help: 'Order sagas waiting in compensation_failed for an operator (Temporal visibility)',
    registers: [registry],
  });
  const errors = new Gauge({
    name: 'order_sagas_compensation_failed_refresh_errors',
    help: '1 when the last count of compensation_failed sagas could not be read from Temporal',
    registers: [registry],
  });
  const refresh = async () => {
    try {
      gauge.set(await countCompensationFailed(client, { taskQueue: options.taskQueue }));
      errors.set(0);
    } catch (err) {
      errors.set(1);
      options.onError?.(err);
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), options.refreshMs ?? 15_000);
  timer.unref();
  return { refresh, stop: () => clearInterval(timer) };
}
