// Structured logs (pino) for every process; one logger, children per component. A request's
// correlation id (x-correlation-id) rides along in its child logger, into the saga's input and
// from there into the metadata of every event the saga appends, so one id finds them all.
import pino, { type Logger } from 'pino';

export function createLogger(level: string, name = 'order-saga'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

/** A child logger whose every line carries the correlation id. */
export function withCorrelation(log: Logger, correlationId: string): Logger {
  return log.child({ correlationId });
}
