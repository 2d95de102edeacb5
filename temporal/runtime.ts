// The Temporal SDK's runtime, installed once per process before any connection: its own logs
// (and the Rust core's, forwarded) go through the project's pino logger, not the console, and
// with a bind address (TEMPORAL_METRICS_ADDRESS) its Prometheus metrics are served there:
// schedule-to-start latency, task slots used and available, workflow task latency, sticky cache
// hits... at http://<address>/metrics, beside the app's /metrics on the API.
import {
  LoggerWithComposedMetadata,
  type LogLevel,
  type LogMetadata,
  type Logger as SdkLogger,
} from '@temporalio/common';
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
  if (!verbose) skipComposingDroppedLines(Runtime.instance().logger, QUIET_LEVELS);
}

/**
 * The SDK's worker and activities log through loggers that compose each line's metadata (the
 * worker's task queue, the activity's info) before they hand the line to the runtime's logger,
 * trace and debug lines included: on every workflow activation and every activity, objects
 * built and filtered for a logger that then drops the line (0.3-0.4 ms of CPU per saga in a
 * profile of the worker). This makes them ask first: a line at a level the runtime's logger
 * (`root`) drops stops before its metadata is composed. Loggers composed on any other logger
 * are left as they were.
 */
export function skipComposingDroppedLines(root: SdkLogger, dropped: readonly LogLevel[]): void {
  type Composed = { parentLogger: SdkLogger };
  type Line = (this: Composed, message: string, meta?: LogMetadata) => void;
  const proto = LoggerWithComposedMetadata.prototype as unknown as Record<string, Line>;
  for (const level of dropped) {
    const method = level.toLowerCase();
    const composeAndLog = proto[method]!;
    proto[method] = function (message, meta) {
      if (this.parentLogger === root) return;
      composeAndLog.call(this, message, meta);
    };
  }
}
