// The import rules ESLint cannot state (eslint.config.mjs has the per-layer import bans):
// no cycles, and observability/ as a leaf. Tests and fixtures sit beside the code and may
// reach anything.
const notTest = '\\.(test|int\\.test|fixture)\\.ts$|\\.fixture-preload\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Two modules that import each other have no owner for what they share.',
      severity: 'error',
      from: { pathNot: notTest },
      to: { circular: true },
    },
    {
      name: 'observability-is-a-leaf',
      comment:
        'Every layer feeds metrics and tracing; what watches another layer goes in monitors/.',
      severity: 'error',
      from: { path: '^observability/', pathNot: notTest },
      to: {
        path: '^(?!observability/|config\\.ts$)',
        dependencyTypesNot: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer'],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|coverage|\.data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
