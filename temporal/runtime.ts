// The Temporal SDK's runtime, installed once per process before any connection: its own logs
// (and the Rust core's, forwarded) go through the project's pino logger, not the console, and
// with a bind address (TEMPORAL_METRICS_ADDRESS) its Prometheus metrics are served there:
// schedule-to-start latency, task slots used and available, workflow task latency, sticky cache
// hits... at http://<address>/metrics, beside the app's /metrics on the API.
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';

/** The SDK's levels that reach the log only when LOG_LEVEL asks for debug or trace. */
const QUIET_LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO'];

const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/**
 * The SDK narrates at INFO (worker state changes, every workflow bundle webpack builds); below
 * WARN its lines reach the log only when LOG_LEVEL asks for debug or trace.
 */
function sdkLogger(log: Logger, verbose: boolean): SdkLogger {
  const child = log.child({ component: 'temporal' });
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (!verbose && QUIET_LEVELS.includes(level)) return;
    child[PINO_LEVEL[level] as 'info'](meta ?? {}, message);
  };
  return {
    log: write,
    trace: (m, meta) => write('TRACE', m, meta),
    debug: (m, meta) => write('DEBUG', m, meta),
    info: (m, meta) => write('INFO', m, meta),
    warn: (m, meta) => write('WARN', m, meta),
    error: (m, meta) => write('ERROR', m, meta),
  };
}

export interface TemporalRuntimeOptions {
  /** host:port for the SDK's Prometheus endpoint; unset leaves SDK metrics off. */
  metricsAddress?: string;
}

let installed = false;

export function installTemporalRuntime(log: Logger, options: TemporalRuntimeOptions = {}): void {
  if (installed) return;
  installed = true;
  const verbose = log.isLevelEnabled('debug');
  Runtime.install({
    logger: sdkLogger(log, verbose),
    telemetryOptions: {
      logging: { forward: {}, filter: { core: 'WARN', other: 'WARN' } },
      ...(options.metricsAddress
        ? {
            metrics: {
              prometheus: {
                bindAddress: options.metricsAddress,
                // Prometheus conventions: seconds, and counters named *_total.
                useSecondsForDurations: true,
                countersTotalSuffix: true,
              },
            },
          }
        : {}),
    },
  });
}
