// Helpers of the upgrade drills: the previous release (a recorded commit) checked out next to
// the repository with node_modules, its worker and its order client as child processes, and
// the checks every upgrade must pass. The drill without Worker Versioning stops the old worker
// before the new one starts; the versioned drill runs both deployments at once and promotes and
// rolls back with the `temporal worker deployment` commands docs/operations.md gives operators.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { eventually, type TestDatabase } from '../harness';
import { findTemporalCli } from '../../provision/temporal';
import { type AppProcess, ROOT, startAppProcess, startBundledWorker } from './processes';

/** The release of 2026-11-27: the sagas it started use run-based event ids. */
export const PREVIOUS_RELEASE = 'afbf374';

/**
 * The previous release for the drill with Worker Versioning. afbf374 predates versioning (its
 * workers are unversioned, so its sagas move to whatever version is current and cannot stay on
 * their release), so this is the last commit on main before the path stamp went: it joins a
 * Worker Deployment, pins its sagas, and its client stamps them.
 */
export const PREVIOUS_VERSIONED_RELEASE = '57b70fa';

export type DrillEnv = {
  DATABASE_URL: string;
  TEMPORAL_ADDRESS: string;
  TEMPORAL_TASK_QUEUE: string;
  /** Set both to run the worker as a version of that Worker Deployment. */
  TEMPORAL_DEPLOYMENT_NAME?: string;
  TEMPORAL_BUILD_ID?: string;
};

/**
 * The release's tree under .data/drill-cache/<commit> (kept between runs: extracting and
 * linking node_modules is the slow part). Its package-lock pins the same @temporalio versions
 * as this tree's and no dependency this tree lacks, so a hard-linked copy of node_modules
 * serves it; that is checked, not assumed.
 */
export function checkOutRelease(commit = PREVIOUS_RELEASE): string {
  const dir = path.join(ROOT, '.data', 'drill-cache', commit);
  const ready = path.join(dir, '.ready');
  if (fs.existsSync(ready)) return dir;
  // The CI runs in a full clone of main: the commit is in its history.
  execFileSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: ROOT });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${commit} | tar -x -C "${dir}"`], { cwd: ROOT });
  const theirs = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const ours = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const wanted = { ...theirs.dependencies, ...theirs.devDependencies };
  const have = { ...ours.dependencies, ...ours.devDependencies };
  const differ = Object.entries(wanted).filter(([name, v]) => have[name] !== v);
  if (differ.length > 0) {
    // Its own install, once (cached with the tree).
    execFileSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: dir,
      stdio: 'ignore',
    });
  } else {
    execFileSync('cp', ['-al', path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules')]);
  }
  fs.writeFileSync(ready, '');
  return dir;
}

/** The release's own worker entry (worker.ts), run from its tree with its workflows. */
export function startReleaseWorker(dir: string, env: DrillEnv): Promise<AppProcess> {
  return startAppProcess(
    `worker-${path.basename(dir)}`,
    path.relative(ROOT, path.join(dir, 'worker.ts')),
    env,
    'worker started',
    120_000,
  );
}

/** This tree's worker (createOrderWorker) on the run's pre-built bundle. */
export function startCurrentWorker(env: DrillEnv): Promise<AppProcess> {
  return startBundledWorker('worker-current', env);
}

const run = promisify(execFile);

/**
 * `temporal <args> --address <address>` as an operator types it; resolves with its stdout.
 * Retries while the server does not know the version yet (it learns it from the first poll of
 * the version's workers, which a process reports as ready a moment before).
 */
export async function temporalCli(address: string, args: string[], timeoutMs = 30_000) {
  const cli = await findTemporalCli(process.env.TEMPORAL_CLI_PATH);
  if (!cli) throw new Error('no temporal CLI (PATH, TEMPORAL_CLI_PATH or $(go env GOPATH)/bin)');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { stdout } = await run(cli, [...args, '--address', address]);
      return stdout;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export interface OldOrder {
  orderId: string;
  customerId: string;
  items: { productId: string; quantity: number; unitPriceCents: number }[];
  /** A line added through the release's addItem update once the saga runs. */
  addItem?: { productId: string; quantity: number; unitPriceCents: number };
}

// Written into the release's tree and run there, so it imports that release's client.
const DRIVER = `
import { Client, Connection } from '@temporalio/client';
import { createOrderClient } from './client/order-client';
async function main() {
  const spec = JSON.parse(process.argv[2]);
  const connection = await Connection.connect({ address: spec.address });
  const orders = createOrderClient(new Client({ connection, namespace: 'default' }), spec.options);
  for (const o of spec.orders) {
    await orders.start({ orderId: o.orderId, customerId: o.customerId, items: o.items });
    if (o.addItem) await orders.addItem(o.orderId, o.addItem);
  }
  console.log('sagas started');
  await connection.close();
}
main().catch((err) => { console.error(err); process.exit(1); });
`;

export interface ReleaseClientOptions {
  taskQueue: string;
  paymentConfirmationThresholdCents: number;
  paymentConfirmationTimeoutMs: number;
  compensationMaxAttempts: number;
}

/** Starts the sagas (and adds their lines) with the release's order client; resolves when done. */
export async function startSagasWithRelease(
  dir: string,
  address: string,
  options: ReleaseClientOptions,
  orders: OldOrder[],
): Promise<void> {
  const driver = path.join(dir, 'drill-start-sagas.ts');
  fs.writeFileSync(driver, DRIVER);
  const proc = await startAppProcess(
    'release-client',
    path.relative(ROOT, driver),
    {},
    'sagas started',
    60_000,
    [JSON.stringify({ address, options, orders })],
  );
  await proc.kill('SIGTERM');
}

/**
 * The build ids of the workers that completed the saga's workflow tasks, in order of first
 * appearance (none for an unversioned worker).
 */
export async function workflowTaskBuildIds(
  client: Client,
  workflowId: string,
): Promise<(string | null | undefined)[]> {
  const { events } = await client.workflow.getHandle(workflowId).fetchHistory();
  return [
    ...new Set(
      (events ?? []).flatMap((e) => {
        const done = e.workflowTaskCompletedEventAttributes;
        return done ? [done.deploymentVersion?.buildId] : [];
      }),
    ),
  ];
}

/** Every workflow task of the saga went through: no WorkflowTaskFailed in its history. */
export async function failedWorkflowTasks(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).length;
}

/**
 * The statuses of `orderIds` in the orders read model (what GET /orders/:id serves) once the
 * projection runner has taken every one of them out of pending; the runner is this release's,
 * started for the check and stopped after it.
 */
export async function ordersReadModel(
  database: TestDatabase,
  env: DrillEnv,
  orderIds: string[],
): Promise<(string | undefined)[]> {
  const projector = await startAppProcess(
    'projector',
    'projections/main.ts',
    env,
    'projection runner started',
  );
  const statuses = async () => {
    const { rows } = await database.pool.query<{ id: string; status: string }>(
      'SELECT id, status FROM read_models.orders WHERE id = ANY($1)',
      [orderIds],
    );
    const byId = new Map(rows.map((r) => [r.id, r.status]));
    return orderIds.map((id) => byId.get(id));
  };
  try {
    return await eventually(
      async () => {
        const all = await statuses();
        return all.every((s) => s && s !== 'pending') ? all : undefined;
      },
      30_000,
      'the orders read model',
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify(await statuses())}`);
    });
  } finally {
    await projector.kill('SIGTERM');
  }
}
