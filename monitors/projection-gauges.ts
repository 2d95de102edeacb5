// The projections' gauges on /metrics: position, lag (events and seconds), failed, dead
// letters, and the oldest open transaction (it holds back every reader of the log). Measured
// at scrape time from the checkpoints, so any process exposing /metrics sees every projection,
// whichever runner is active.
import type { Kysely } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import { type ProjectionHealth, projectionHealth } from '../projections/read-models';
import type { ProjectionDb } from '../projections/schema';

/** Registers the projection gauges on `registry`, read from `db` (the read database). */
export function registerProjectionGauges(registry: Registry, db: Kysely<ProjectionDb>): void {
  // prom-client collects every gauge of a scrape at once: they share one in-flight query, so a
  // scrape costs one statement.
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
