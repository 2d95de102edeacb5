// Prometheus metrics (prom-client), one registry per process: events appended by type, saga
// outcomes, projection position and lag (events and seconds), the oldest open transaction
// (it holds back every reader of the log), and HTTP request durations.
import type { Kysely } from 'kysely';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { StreamName } from '../eventstore';
import { type ProjectionHealth, projectionHealth } from '../projections/read-models';
import type { ProjectionDb } from '../projections/schema';
import type { BatchInfo } from '../projections/runner';

export interface MetricsOptions {
  /** Where projection lag is measured at scrape time (the read database). */
  db?: Kysely<ProjectionDb>;
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

  const db = options.db;
  if (db) {
    // Measured at scrape time from the checkpoints, so any process exposing /metrics sees
    // every projection, whichever runner is active. prom-client collects every gauge of a
    // scrape at once: they share one in-flight query, so a scrape costs one statement.
    let inFlight: Promise<ProjectionHealth> | undefined;
    const health = (): Promise<ProjectionHealth> => {
      inFlight ??= projectionHealth(db).finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    };
    const status = async () => (await health()).projections;
    new Gauge({
      name: 'projection_position',
      help: 'Global position of the last event each projection has applied',
      labelNames: ['projection'] as const,
      registers: [registry],
      async collect() {
        for (const p of await status()) this.set({ projection: p.name }, p.globalPosition);
      },
    });
    new Gauge({
      name: 'projection_lag_events',
      help: 'Committed events each projection has not applied yet (readable or behind an open transaction)',
      labelNames: ['projection'] as const,
      registers: [registry],
      async collect() {
        for (const p of await status()) this.set({ projection: p.name }, p.lagEvents);
      },
    });
    new Gauge({
      name: 'projection_lag_seconds',
      help: 'Age of the oldest committed event each projection has not applied yet',
      labelNames: ['projection'] as const,
      registers: [registry],
      async collect() {
        for (const p of await status()) this.set({ projection: p.name }, p.lagSeconds);
      },
    });
    new Gauge({
      name: 'projection_failed',
      help: '1 when a projection has stopped on an event it cannot apply',
      labelNames: ['projection'] as const,
      registers: [registry],
      async collect() {
        for (const p of await status())
          this.set({ projection: p.name }, p.status === 'failed' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'projection_dead_letters',
      help: 'Events each projection could not fold and set aside (parked in projection_dead_letters)',
      labelNames: ['projection'] as const,
      registers: [registry],
      async collect() {
        for (const p of await status()) this.set({ projection: p.name }, p.deadLetters);
      },
    });
    new Gauge({
      name: 'postgres_oldest_transaction_age_seconds',
      help: 'Age of the oldest open transaction with an xid (holds back projection reads)',
      registers: [registry],
      async collect() {
        this.set((await health()).oldestTransactionAgeSeconds);
      },
    });
  }

  return {
    registry,
    httpDuration,
    /** The event store's onAppended hook. */
    onAppended: (_stream: StreamName, events: readonly { type: string }[]): void => {
      for (const e of events) {
        eventsAppended.inc({ type: e.type });
        if (e.type === 'OrderCompleted') sagaOutcomes.inc({ outcome: 'completed' });
        if (e.type === 'OrderCancelled') sagaOutcomes.inc({ outcome: 'cancelled' });
      }
    },
    /** The projection runner's onBatch hook. */
    onBatch: (info: BatchInfo): void => {
      batches.inc({ projection: info.projection }, info.applied);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
