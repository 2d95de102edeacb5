// Provisions what integration tests share, once per run (provision/ephemeral.ts): Postgres
// with a migrated template database, a Temporal dev server, and the workflow bundle. Values
// reach the test workers through environment variables (test/harness.ts reads them).
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config';
import { startEphemeralInfrastructure } from '../provision/ephemeral';
import { bundleOrderWorkflows } from '../temporal/workflow-bundle';

declare global {
  var __stopIntegrationInfrastructure: (() => Promise<void>) | undefined;
}

export default async function globalSetup(): Promise<void> {
  const log = (line: string) => process.stderr.write(`[setup] ${line}\n`);
  const [infra, bundle] = await Promise.all([
    startEphemeralInfrastructure(loadConfig(), { temporal: true, log }),
    bundleOrderWorkflows(),
  ]);
  globalThis.__stopIntegrationInfrastructure = infra.stop;
  const bundlePath = path.join(infra.workDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);

  process.env.TEST_ADMIN_DATABASE_URL = infra.adminUrl;
  process.env.TEST_TEMPLATE_DATABASE = infra.templateDatabase;
  process.env.TEST_TEMPORAL_ADDRESS = infra.temporalAddress;
  process.env.TEST_WORKFLOW_BUNDLE = bundlePath;
}
