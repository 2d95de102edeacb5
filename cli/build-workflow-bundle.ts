// Build step: bundles the workflow code once per variant (temporal/workflow-bundle.ts), next to
// the compiled worker (dist/), so a production worker loads a bundle instead of running webpack
// at every start, whether its failures are encrypted and its tracing on or not.
import fs from 'node:fs';
import path from 'node:path';
import { ENCRYPTED_FAILURE_CONVERTER_PATH } from '../temporal/data-converter';
import {
  bundleOrderWorkflows,
  prebuiltBundlePath,
  type WorkflowBundleVariant,
} from '../temporal/workflow-bundle';

async function main(): Promise<void> {
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
