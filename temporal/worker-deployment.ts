// Worker Versioning: each worker joins a Worker Deployment (TEMPORAL_DEPLOYMENT_NAME) with a
// build id that names its release, and every workflow it starts is PINNED, the worker's default
// behaviour: a saga finishes on the code that started it (a rollback cannot replay a saga on
// code that did not start it), and each run of the retention schedule, minutes long, on the
// version current when it started. (A behaviour set in the bundle, setWorkflowOptions, would
// fail every workflow task on an unversioned worker: TEMPORAL_WORKER_VERSIONING=false.) New sagas go to the deployment's current
// version, which an operator sets (docs/operations.md#releasing-new-saga-code). A worker
// whose deployment has no current version yet (the first deploy) makes itself current, and
// `npm start`'s single local worker always does.
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { WorkerOptions } from '@temporalio/worker';

/** What `npm run build` records of the release: its commit (cli/build-workflow-bundle.ts). */
export const BUILD_INFO_PATH = path.join(__dirname, '..', 'build-info.json');

/** The project's package.json: beside this folder from source, above dist/ in a build. */
function packageJsonPath(): string {
  for (let dir = path.join(__dirname, '..'); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error('no package.json above ' + __dirname);
  }
}

/**
 * The release's build id: `<package version>+<commit>` for a build, `<package version>+source`
 * run from source (npm start, tsx): a restart on changed code keeps its sagas, which then
 * replay on that code as they would without versioning (patched() keeps them safe). Deployments
 * run the build, or set TEMPORAL_BUILD_ID.
 */
export function releaseBuildId(): string {
  const { version } = JSON.parse(fs.readFileSync(packageJsonPath(), 'utf8')) as {
    version: string;
  };
  let commit = 'source';
  try {
    commit =
      (JSON.parse(fs.readFileSync(BUILD_INFO_PATH, 'utf8')) as { commit?: string }).commit ??
      'unknown';
  } catch {
    // Run from source: no build record.
  }
  return `${version}+${commit}`;
}

export interface DeploymentSettings {
  name: string;
  /** Unset: releaseBuildId(). */
  buildId?: string;
  versioning: boolean;
}

export function deploymentVersion(settings: DeploymentSettings): WorkerDeploymentVersion {
  return { deploymentName: settings.name, buildId: settings.buildId ?? releaseBuildId() };
}

/** The worker's options for its deployment; sagas default to PINNED. */
export function workerDeploymentOptions(
  settings: DeploymentSettings,
): WorkerOptions['workerDeploymentOptions'] {
  const version = deploymentVersion(settings);
  return settings.versioning
    ? { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' }
    : { version, useWorkerVersioning: false };
}

/**
 * Makes `version` its deployment's current version, as `temporal worker deployment
 * set-current-version` does, once the server has seen its worker poll (it refuses a version
 * without pollers, and the first poll registers the version).
 */
export async function setCurrentVersion(
  client: Client,
  version: WorkerDeploymentVersion,
  { timeoutMs = 30_000 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: client.options.namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        identity: client.options.identity,
      });
      return;
    } catch (err) {
      // NotFound / FailedPrecondition until the worker's first poll reaches the server.
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Makes the worker's version current where nobody has chosen one yet (the deployment's first
 * version), or always with `force` (npm start: the only worker there is). Otherwise the
 * operator's routing stands: a new release waits beside the current one until it is promoted.
 * Returns whether it made the version current.
 */
export async function claimCurrentVersion(
  client: Client,
  version: WorkerDeploymentVersion,
  { force = false, timeoutMs = 30_000 } = {},
): Promise<boolean> {
  if (!force) {
    const described = await client.workflowService
      .describeWorkerDeployment({
        namespace: client.options.namespace,
        deploymentName: version.deploymentName,
      })
      .catch(() => undefined);
    const current = described?.workerDeploymentInfo?.routingConfig?.currentDeploymentVersion;
    if (current?.buildId) return current.buildId === version.buildId;
  }
  await setCurrentVersion(client, version, { timeoutMs });
  return true;
}
