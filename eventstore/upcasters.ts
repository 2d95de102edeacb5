// Upcasters turn a stored event of an older schema version into the current shape on read.
// They are registered per (event type, from version) and chain: v1 -> v2 -> v3.
import { createHash } from 'node:crypto';

export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

/** What an upcaster chain declares about itself, for snapshot invalidation. */
export interface ChainDeclaration {
  /**
   * The aggregate type whose streams hold this event type. Only that type's snapshots depend
   * on the chain. Left out, the chain counts for every aggregate type (the safe default).
   */
  aggregateType?: string;
  /**
   * The step's revision (default 1). Bump it when the code of a step already released changes:
   * snapshots folded under the old code are then ignored. Adding a step needs no bump.
   */
  revision?: number;
}

interface Step {
  upcast: Upcaster;
  aggregateType: string | undefined;
  revision: number;
}

/** Prefix of every chain version: no fingerprint of the former whole-registry hash has it. */
const CHAIN_VERSION_PREFIX = 'c1:';

export class UpcasterRegistry {
  private readonly steps = new Map<string, Step>();
  private readonly latest = new Map<string, number>();
  private readonly versions = new Map<string, string>();

  /** Registers the step that turns `fromVersion` data into `fromVersion + 1`. */
  register(
    eventType: string,
    fromVersion: number,
    upcast: Upcaster,
    chain: ChainDeclaration = {},
  ): this {
    const key = `${eventType}@${fromVersion}`;
    if (this.steps.has(key)) throw new Error(`Upcaster ${key} is already registered`);
    const revision = chain.revision ?? 1;
    if (!Number.isInteger(revision) || revision < 1)
      throw new Error(`Upcaster ${key}: revision must be a positive integer, got ${revision}`);
    this.steps.set(key, { upcast, aggregateType: chain.aggregateType, revision });
    this.versions.clear();
    this.latest.set(eventType, Math.max(this.latestVersion(eventType), fromVersion + 1));
    return this;
  }

  /**
   * The version of the upcaster chains an aggregate type's snapshots are folded under: the
   * declared steps (keys and revisions) of the chains of that type and of those declared for
   * any type. A snapshot records it; under another version the same events may fold to another
   * state, so the snapshot is ignored and the aggregate folded again from its events. It is
   * built from declarations only, never from the functions' source text, so `tsx` and the
   * compiled build agree, and a new step for one aggregate's events leaves the others'
   * snapshots valid.
   */
  chainVersion(aggregateType: string): string {
    let version = this.versions.get(aggregateType);
    if (version === undefined) {
      const declared = [...this.steps]
        .filter(([, s]) => s.aggregateType === undefined || s.aggregateType === aggregateType)
        .map(([key, s]) => `${key}r${s.revision}`)
        .sort();
      version =
        CHAIN_VERSION_PREFIX +
        createHash('sha256').update(declared.join('\u0000')).digest('hex').slice(0, 16);
      this.versions.set(aggregateType, version);
    }
    return version;
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
    // Most events are already at their type's newest version: no step to look up.
    const latest = this.latest.get(eventType);
    if (latest === undefined || schemaVersion >= latest) return { schemaVersion, data };
    let version = schemaVersion;
    let current = data;
    for (;;) {
      const step = this.steps.get(`${eventType}@${version}`);
      if (!step) return { schemaVersion: version, data: current };
      current = step.upcast({ ...(current as Record<string, unknown>) });
      version += 1;
    }
  }
}

/** The two classic examples, registered for the Order events. */
export function defaultUpcasters(): UpcasterRegistry {
  return new UpcasterRegistry()
    .register('OrderCreated', 1, (data) => ({ ...data, shipping_address: null }), {
      aggregateType: 'Order',
    })
    .register('OrderItemAdded', 1, (data) => ({ ...data, tax_amount: 0 }), {
      aggregateType: 'Order',
    });
}
