// CPU time per process around a measured run, read from /proc: it holds from one noisy shared
// machine to the next where throughput does not. Postgres is the sum over the backends serving
// the bench's own databases (other users of the same cluster are left out).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type pg from 'pg';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU of a process in ms, or undefined when it is gone (or not on Linux). */
export function processCpuMs(pid: number): number | undefined {
  return taskCpuMs(`/proc/${pid}/stat`);
}

export function loadAverage(): number | undefined {
  try {
    return Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}

/** CPU of this process's main thread (its tid is the pid), where activities and the client run. */
function mainThreadCpuMs(): number {
  return taskCpuMs(`/proc/self/task/${process.pid}/stat`) ?? NaN;
}

/** utime + stime of a /proc stat file (a process, or one thread under task/). */
function taskCpuMs(file: string): number | undefined {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const stat = fs.readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return undefined;
  }
}

export interface CpuSample {
  nodeMs: number;
  nodeMainThreadMs: number;
  temporalMs: number | undefined;
  postgresMs: number;
  postgresBackends: Map<number, number>;
  temporalBackends: Map<number, number>;
}

export interface CpuUsed {
  nodeMs: number;
  /** The rest of nodeMs ran on other threads: workflow VMs, the core SDK's Rust runtime, GC. */
  nodeMainThreadMs: number;
  temporalMs: number | undefined;
  postgresMs: number;
  /** A Temporal server persisting to Postgres: its backends' CPU (undefined for the dev server). */
  temporalPostgresMs: number | undefined;
}

export class CpuMeter {
  constructor(
    /** Any connection to the cluster: it lists the backends of `databases`. */
    private readonly admin: pg.Pool,
    private readonly databases: () => string[],
    private readonly temporalPid: number | undefined,
    /** The databases a Temporal server persists to, when it does (--temporal-postgres). */
    private readonly temporalDatabases: string[] = [],
  ) {}

  private async backends(databases: string[]): Promise<Map<number, number>> {
    if (databases.length === 0) return new Map();
    const { rows } = await this.admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()',
      [databases],
    );
    const cpu = new Map<number, number>();
    for (const { pid } of rows) {
      const ms = processCpuMs(pid);
      if (ms !== undefined) cpu.set(pid, ms);
    }
    return cpu;
  }

  async sample(): Promise<CpuSample> {
    const usage = process.cpuUsage();
    const postgresBackends = await this.backends(this.databases());
    const temporalBackends = await this.backends(this.temporalDatabases);
    return {
      nodeMs: (usage.user + usage.system) / 1000,
      nodeMainThreadMs: mainThreadCpuMs(),
      temporalMs: this.temporalPid === undefined ? undefined : processCpuMs(this.temporalPid),
      postgresMs: 0,
      postgresBackends,
      temporalBackends,
    };
  }

  /** CPU used since `before`; a backend that started meanwhile counts from zero. */
  async since(before: CpuSample): Promise<CpuUsed> {
    const after = await this.sample();
    const used = (now: Map<number, number>, then: Map<number, number>) => {
      let ms = 0;
      for (const [pid, cpu] of now) ms += cpu - (then.get(pid) ?? 0);
      return ms;
    };
    const postgresMs = used(after.postgresBackends, before.postgresBackends);
    return {
      nodeMs: after.nodeMs - before.nodeMs,
      nodeMainThreadMs: after.nodeMainThreadMs - before.nodeMainThreadMs,
      temporalMs:
        after.temporalMs === undefined || before.temporalMs === undefined
          ? undefined
          : after.temporalMs - before.temporalMs,
      postgresMs,
      temporalPostgresMs:
        this.temporalDatabases.length === 0
          ? undefined
          : used(after.temporalBackends, before.temporalBackends),
    };
  }
}
