// Runs Redocly's recommended lint (the `redocly lint` CLI, as a user would) on an OpenAPI
// document and returns its findings, so tests can assert that there are none.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export interface RedoclyProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location?: { pointer?: string }[];
}

export async function redoclyLint(
  document: object,
): Promise<{ errors: number; warnings: number; problems: RedoclyProblem[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-lint-'));
  const file = path.join(dir, 'openapi.json');
  fs.writeFileSync(file, JSON.stringify(document));
  try {
    const cli = require.resolve('@redocly/cli/bin/cli.js');
    // Exit code 1 means "problems found": the JSON on stdout says which.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [cli, 'lint', file, '--format=json'],
      { env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } },
    ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const report = JSON.parse(stdout) as {
      totals: { errors: number; warnings: number };
      problems: RedoclyProblem[];
    };
    return { ...report.totals, problems: report.problems };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
