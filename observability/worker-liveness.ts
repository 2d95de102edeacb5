// GET /livez for a process running the saga's Temporal worker (WORKER_HEALTH_ADDRESS): 200 while
// its event loop keeps time and the worker is RUNNING with its pollers asking for tasks, 503
// with the reasons otherwise, so that an orchestrator (compose's healthcheck, a Kubernetes
// livenessProbe) restarts a worker that no longer works. Whether the worker reaches the server
// is the alerts' job (WorkerNotPolling): restarting every worker during a server outage helps
// nobody. A loop blocked for good cannot answer at all: the probe's timeout counts as a failure.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Worker } from '@temporalio/worker';

/** The public view of a Worker the check reads (Worker.getState() and Worker.getStatus()). */
export type WorkerView = Pick<Worker, 'getState' | 'getStatus'>;

export interface LivenessOptions {
  /** Longest event-loop delay (ms) within the window that still counts as live (default 5000). */
  maxEventLoopLagMs?: number;
  /**
   * How long (ms) a lag is remembered and how long the worker may go without an outstanding
   * poll (default 30000): a probe every 10 s sees a stall that ended between two probes.
   */
  windowMs?: number;
  /** Period (ms) of the timer whose drift measures the event loop's delay (default 500). */
  tickMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

export interface LivenessReport {
  live: boolean;
  /** Why it is not live; empty when it is. */
  reasons: string[];
  /** Longest event-loop delay seen within the window, ms. */
  eventLoopLagMs: number;
  workerState: string;
  workflowPollerState: string;
  activityPollerState: string;
}

/**
 * The check itself, driven by tick() (a timer in startWorkerLiveness, a test's fake clock in
 * unit tests). The SDK keeps one poll for workflow activations and one for activity tasks
 * outstanding whenever its loops turn (a new poll starts in the same microtask chain as the
 * previous one ends), so a tick that sees none for a whole window means the loop stopped.
 */
export class WorkerLivenessCheck {
  private readonly maxLagMs: number;
  private readonly windowMs: number;
  readonly tickMs: number;
  private readonly now: () => number;
  private lastTick: number;
  private readonly lags: { at: number; lagMs: number }[] = [];
  private lastWorkflowPoll: number;
  private lastActivityPoll: number;

  constructor(
    private readonly worker: WorkerView,
    options: LivenessOptions = {},
  ) {
    this.maxLagMs = options.maxEventLoopLagMs ?? 5_000;
    this.windowMs = options.windowMs ?? 30_000;
    this.tickMs = options.tickMs ?? 500;
    this.now = options.now ?? (() => performance.now());
    this.lastTick = this.lastWorkflowPoll = this.lastActivityPoll = this.now();
  }

  tick(): void {
    const at = this.now();
    const lagMs = Math.max(0, at - this.lastTick - this.tickMs);
    this.lastTick = at;
    if (lagMs > 0) this.lags.push({ at, lagMs });
    while (this.lags.length > 0 && this.lags[0]!.at < at - this.windowMs) this.lags.shift();
    this.samplePolls(at);
  }

  private samplePolls(at: number): void {
    const status = this.worker.getStatus();
    if (status.hasOutstandingWorkflowPoll) this.lastWorkflowPoll = at;
    if (status.hasOutstandingActivityPoll) this.lastActivityPoll = at;
  }

  report(): LivenessReport {
    const at = this.now();
    this.samplePolls(at);
    // A tick that is overdue right now counts too (the loop may just have come back).
    const overdue = Math.max(0, at - this.lastTick - this.tickMs);
    const eventLoopLagMs = Math.round(
      Math.max(overdue, ...this.lags.filter((l) => l.at >= at - this.windowMs).map((l) => l.lagMs)),
    );
    const status = this.worker.getStatus();
    const workerState = this.worker.getState();
    const reasons: string[] = [];
    if (eventLoopLagMs > this.maxLagMs)
      reasons.push(`event loop delayed ${eventLoopLagMs} ms (limit ${this.maxLagMs} ms)`);
    if (workerState !== 'RUNNING') reasons.push(`worker is ${workerState}`);
    for (const [kind, state, last] of [
      ['workflow', status.workflowPollerState, this.lastWorkflowPoll],
      ['activity', status.activityPollerState, this.lastActivityPoll],
    ] as const) {
      if (state !== 'POLLING') reasons.push(`${kind} poller is ${state}`);
      else if (at - last > this.windowMs)
        reasons.push(`no ${kind} task poll for ${Math.round((at - last) / 1000)} s`);
    }
    return {
      live: reasons.length === 0,
      reasons,
      eventLoopLagMs,
      workerState,
      workflowPollerState: status.workflowPollerState,
      activityPollerState: status.activityPollerState,
    };
  }
}

export interface WorkerLivenessServer {
  /** host:port it listens on (the port resolved when 0 was asked). */
  address: string;
  port: number;
  check: WorkerLivenessCheck;
  close(): Promise<void>;
}

/** Serves GET /livez on `address` (host:port) for `worker`; its timer never holds the process. */
export async function startWorkerLiveness(
  worker: WorkerView,
  address: string,
  options: LivenessOptions = {},
): Promise<WorkerLivenessServer> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const check = new WorkerLivenessCheck(worker, options);
  const timer = setInterval(() => check.tick(), check.tickMs);
  timer.unref();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/livez' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const report = check.report();
    res
      .writeHead(report.live ? 200 : 503, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
      })
      .end(req.method === 'HEAD' ? undefined : JSON.stringify(report));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(address.slice(colon + 1)), host, () => resolve());
    });
  } catch (err) {
    clearInterval(timer);
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    address: `${host}:${port}`,
    port,
    check,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
