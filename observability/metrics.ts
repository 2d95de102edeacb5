// Prometheus metrics (prom-client), one registry per process: events appended by type, saga
// outcomes, events applied per projection, and HTTP request durations.
//
// A leaf: it imports no other layer, so the event store, the projection runner, the API and the
// worker can all feed it. What watches other layers (projection lag, sagas in Temporal
// visibility) lives in monitors/ and registers its gauges here.
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface MetricsOptions {
  /** Node.js process metrics (off in tests that create many registries). */
  defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const eventsAppended = new Counter({
    name: 'events_appended_total',
    help: 'Domain events appended to the event store, by event type',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const sagaOutcomes = new Counter({
    name: 'order_saga_outcomes_total',
    help: 'Order sagas that ended, by outcome (completed or cancelled)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const batches = new Counter({
    name: 'projection_events_applied_total',
    help: 'Events applied by this process, per projection',
    labelNames: ['projection'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request durations by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  return {
    registry,
    httpDuration,
    /** The event store's onAppended hook. */
    onAppended: (_stream: unknown, events: readonly { type: string }[]): void => {
      for (const e of events) {
        eventsAppended.inc({ type: e.type });
        if (e.type === 'OrderCompleted') sagaOutcomes.inc({ outcome: 'completed' });
        if (e.type === 'OrderCancelled') sagaOutcomes.inc({ outcome: 'cancelled' });
      }
    },
    /** The projection runner's onBatch hook. */
    onBatch: (info: { projection: string; applied: number }): void => {
      batches.inc({ projection: info.projection }, info.applied);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
