// The lint rule that keeps the Temporal SDK's private modules out: a `lib/` import fails
// `npm run lint` in product code and in workflow code (which has import rules of its own).
// ESLint runs as `npm run lint` runs it, in a process of its own, on a file given on stdin.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

jest.setTimeout(60_000);

const root = path.join(__dirname, '..');

function lint(file: string, extraImport: string): { status: number | null; output: string } {
  const code = `${extraImport}\n${fs.readFileSync(path.join(root, file), 'utf8')}`;
  const eslint = path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js');
  const run = spawnSync(process.execPath, [eslint, '--stdin', '--stdin-filename', file], {
    cwd: root,
    input: code,
    encoding: 'utf8',
  });
  return { status: run.status, output: run.stdout + run.stderr };
}

// Built from parts, so that a search of the tree for such imports finds none here.
const internal = (pkg: string, module: string) => `import '@temporalio/${pkg}/${'lib'}/${module}';`;

test.each([
  ['temporal/order-worker.ts', internal('worker', 'workflow/reusable-vm')],
  ['workflows/order-saga.workflow.ts', internal('workflow', 'internals')],
])('%s: a @temporalio lib/ import is an error', (file, extraImport) => {
  const { status, output } = lint(file, extraImport);
  expect(output).toContain("the Temporal SDK's lib/ modules are private");
  expect(status).toBe(1);
});
