// Structured logs (pino) for every process; one logger, children per component.
import pino, { type Logger } from 'pino';

export function createLogger(level: string, name = 'order-saga'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
