// Build step: bundles the workflow code once per variant (temporal/workflow-bundle.ts), next to
// the compiled worker (dist/), so a production worker loads a bundle instead of running webpack
// at every start, whether its failures are encrypted and its tracing on or not.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ENCRYPTED_FAILURE_CONVERTER_PATH } from '../temporal/data-converter';
import { BUILD_INFO_PATH } from '../temporal/worker-deployment';
import {
  bundleOrderWorkflows,
  prebuiltBundlePath,
  type WorkflowBundleVariant,
} from '../temporal/workflow-bundle';

/** The commit being built: BUILD_COMMIT (the image's build argument), else git's. */
function buildCommit(): string {
  if (process.env.BUILD_COMMIT) return process.env.BUILD_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  // The worker's build id names this commit (temporal/worker-deployment.ts).
  fs.writeFileSync(BUILD_INFO_PATH, `${JSON.stringify({ commit: buildCommit() })}\n`);
  const variants: WorkflowBundleVariant[] = [false, true].flatMap((tracing) =>
    [undefined, ENCRYPTED_FAILURE_CONVERTER_PATH].map((failureConverterPath) => ({
      tracing,
      failureConverterPath,
    })),
  );
  for (const variant of variants) {
    const { code } = await bundleOrderWorkflows(variant);
    const file = prebuiltBundlePath(variant);
    fs.writeFileSync(file, code);
    process.stdout.write(`workflow bundle: ${path.relative(process.cwd(), file)}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
