// Upcasters turn a stored event of an older schema version into the current shape on read.
// They are registered per (event type, from version) and chain: v1 -> v2 -> v3.
import { createHash } from 'node:crypto';

export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

export class UpcasterRegistry {
  private readonly steps = new Map<string, Upcaster>();
  private readonly latest = new Map<string, number>();
  private print: string | undefined;

  /** Registers the step that turns `fromVersion` data into `fromVersion + 1`. */
  register(eventType: string, fromVersion: number, upcast: Upcaster): this {
    const key = `${eventType}@${fromVersion}`;
    if (this.steps.has(key)) throw new Error(`Upcaster ${key} is already registered`);
    this.steps.set(key, upcast);
    this.print = undefined;
    this.latest.set(eventType, Math.max(this.latestVersion(eventType), fromVersion + 1));
    return this;
  }

  /**
   * Identifies the set of upcasters (their keys and code). A snapshot records the set its state
   * was folded under: under another set the same events may fold to another state, so the
   * snapshot is ignored and the aggregate folded again from its events.
   */
  fingerprint(): string {
    if (this.print === undefined) {
      const hash = createHash('sha256');
      for (const key of [...this.steps.keys()].sort())
        hash.update(`${key}\u0000${this.steps.get(key)!.toString()}\u0000`);
      this.print = hash.digest('hex').slice(0, 16);
    }
    return this.print;
  }

  /** The schema version new events of this type are written with. */
  latestVersion(eventType: string): number {
    return this.latest.get(eventType) ?? 1;
  }

  upcast(
    eventType: string,
    schemaVersion: number,
    data: unknown,
  ): { schemaVersion: number; data: unknown } {
    let version = schemaVersion;
    let current = data;
    for (;;) {
      const step = this.steps.get(`${eventType}@${version}`);
      if (!step) return { schemaVersion: version, data: current };
      current = step({ ...(current as Record<string, unknown>) });
      version += 1;
    }
  }
}

/** The two classic examples, registered for the Order events. */
export function defaultUpcasters(): UpcasterRegistry {
  return new UpcasterRegistry()
    .register('OrderCreated', 1, (data) => ({ ...data, shipping_address: null }))
    .register('OrderItemAdded', 1, (data) => ({ ...data, tax_amount: 0 }));
}
