// Installs the Temporal SDK's Runtime once per process, with its Prometheus exporter when a
// bind address is configured (TEMPORAL_METRICS_ADDRESS): schedule-to-start latency, task slots
// used and available, workflow task latency, sticky cache hits... served by the SDK's own
// HTTP server at http://<address>/metrics, beside the app's /metrics on the API.
import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';

export interface TemporalRuntimeOptions {
  /** host:port for the SDK's Prometheus endpoint; unset leaves SDK metrics off. */
  metricsAddress?: string;
  logLevel?: LogLevel;
}

export function installTemporalRuntime(options: TemporalRuntimeOptions = {}): Runtime {
  return Runtime.install({
    logger: new DefaultLogger(options.logLevel ?? 'WARN'),
    ...(options.metricsAddress
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: options.metricsAddress,
                // Prometheus conventions: seconds, and counters named *_total.
                useSecondsForDurations: true,
                countersTotalSuffix: true,
              },
            },
          },
        }
      : {}),
  });
}
