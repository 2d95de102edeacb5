// What a benchmark scenario is, and the context the runner gives it. Each scenario measures a
// figure side by side with its baseline in the same run, on the same Postgres.
import type { EphemeralInfrastructure } from '../provision/ephemeral';

export interface BenchRow {
  scenario: string;
  /** e.g. "this store", "emmett", "raw pg" */
  subject: string;
  /** e.g. "concurrency 8" */
  variant: string;
  metric: string;
  unit: string;
  /** Median over the runs. */
  value: number;
  runs: number[];
  /** value / baseline value of the same metric and variant, when this row has a baseline. */
  ratio?: number;
  baseline?: string;
  /** The machine's 1-minute load average at the end of each run (a shared machine swings). */
  load?: number[];
}

export interface BenchContext {
  infra: EphemeralInfrastructure;
  /** A fresh, migrated database (copy of the template); URL. */
  freshDatabase: () => Promise<string>;
  /** Smaller sizes for a quick look (`npm run bench -- --quick`). */
  quick: boolean;
  /** How many times each measurement is repeated (the median is reported). */
  repeats: number;
  /** `--name=value` options from the command line (e.g. `--clients=1,16`), by name. */
  options: Map<string, string[]>;
  log: (line: string) => void;
}

export interface BenchScenario {
  name: string;
  needsTemporal?: boolean;
  run: (ctx: BenchContext) => Promise<BenchRow[]>;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Marks each row with its ratio to the row of `baseline` with the same variant and metric. */
export function withRatios(rows: BenchRow[], baseline: string): BenchRow[] {
  return rows.map((row) => {
    if (row.subject === baseline) return row;
    const base = rows.find(
      (r) => r.subject === baseline && r.variant === row.variant && r.metric === row.metric,
    );
    return base ? { ...row, baseline, ratio: row.value / base.value } : row;
  });
}
