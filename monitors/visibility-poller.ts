// The timer both Temporal-visibility gauges run on: counted on a timer, not at scrape time (a
// slow or unreachable Temporal must not stall /metrics), with a `<name>_refresh_errors` gauge
// that reads 1 while the last count failed.
import { Gauge, type Registry } from 'prom-client';

export interface VisibilityPoller {
  /** Counts now (tests; the timer does it every refreshMs). */
  refresh(): Promise<void>;
  stop(): void;
}

export interface PollOptions {
  refreshMs?: number;
  onError?: (err: unknown) => void;
}

/** Runs `count` now and every `refreshMs` (15 s), reporting failures on `${name}_refresh_errors`. */
export function pollVisibility(
  registry: Registry,
  name: string,
  errorsHelp: string,
  count: () => Promise<void>,
  options: PollOptions,
): VisibilityPoller {
  const errors = new Gauge({
    name: `${name}_refresh_errors`,
    help: errorsHelp,
    registers: [registry],
  });
  const refresh = async () => {
    try {
      await count();
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
