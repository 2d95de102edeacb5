// The connection budget of one process: how many Postgres connections its pieces can open to
// DATABASE_URL at most, checked at start against DB_CONNECTION_BUDGET and against what the
// server can give at all, so a deployment that would exhaust max_connections under load fails
// at start with one line instead of with "too many clients" in the middle of a saga.

export type BudgetPiece = 'worker' | 'projector' | 'api';

/** Bootstrap pool of a process that serves reads (API) or reads the log (projector). */
export const BOOTSTRAP_POOL_MAX = 10;
/** Bootstrap pool of a worker-only process: migrations and the restore check, nothing hot. */
export const BOOTSTRAP_POOL_MAX_WORKER_ONLY = 2;
/** The worker's retention pool (temporal/order-worker.ts). */
export const RETENTION_POOL_MAX = 2;

export interface BudgetInput {
  pieces: readonly BudgetPiece[];
  workerDbPoolMax: number;
  /** Projections the projector runs: one session connection each, plus its LISTEN. */
  projections: number;
}

export interface ConnectionPlan {
  total: number;
  /** Each pool or session and its maximum, for the error line and the logs. */
  parts: { name: string; max: number }[];
}

export function bootstrapPoolMax(pieces: readonly BudgetPiece[]): number {
  return pieces.includes('api') || pieces.includes('projector')
    ? BOOTSTRAP_POOL_MAX
    : BOOTSTRAP_POOL_MAX_WORKER_ONLY;
}

/** The most connections the process's pieces open to DATABASE_URL (a read replica aside). */
export function plannedConnections(input: BudgetInput): ConnectionPlan {
  const parts = [{ name: 'bootstrap', max: bootstrapPoolMax(input.pieces) }];
  if (input.pieces.includes('worker'))
    parts.push(
      { name: 'worker (WORKER_DB_POOL_MAX)', max: input.workerDbPoolMax },
      { name: 'retention', max: RETENTION_POOL_MAX },
    );
  if (input.pieces.includes('projector'))
    parts.push(
      { name: 'projector sessions', max: input.projections },
      { name: 'projector LISTEN', max: 1 },
    );
  if (input.pieces.includes('api')) parts.push({ name: 'ops page LISTEN', max: 1 });
  return { total: parts.reduce((n, p) => n + p.max, 0), parts };
}

export class ConnectionBudgetError extends Error {
  readonly code = 'CONNECTION_BUDGET_EXCEEDED';
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionBudgetError';
  }
}

const describe = (plan: ConnectionPlan) => plan.parts.map((p) => `${p.name} ${p.max}`).join(' + ');

/** Refuses a plan above DB_CONNECTION_BUDGET. */
export function assertWithinBudget(plan: ConnectionPlan, budget: number): void {
  if (plan.total > budget)
    throw new ConnectionBudgetError(
      `DB_CONNECTION_BUDGET=${budget} is below the ${plan.total} connections this process can ` +
        `open (${describe(plan)}): lower WORKER_DB_POOL_MAX or raise DB_CONNECTION_BUDGET`,
    );
}

/**
 * Refuses a budget the server cannot honour: more than its usable connections
 * (max_connections less those reserved for superusers). Other processes' use is not counted:
 * it changes from minute to minute, and a start must not depend on which process came first.
 */
export function assertServerCanHonour(budget: number, usable: number): void {
  if (budget > usable)
    throw new ConnectionBudgetError(
      `DB_CONNECTION_BUDGET=${budget} is more than the ${usable} connections the server accepts ` +
        `(max_connections less superuser_reserved_connections): lower DB_CONNECTION_BUDGET ` +
        `to this process's share`,
    );
}
