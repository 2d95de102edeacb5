// Unit tests (*.test.ts, no I/O) and integration tests (*.int.test.ts, real Postgres and a
// real Temporal dev server provisioned once per run by test/global-setup.ts).
const transform = { '^.+\\.ts$': ['@swc/jest'] };
const common = {
  transform,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The upgrade drill's checked-out releases (.data/drill-cache) are not this project's modules.
  modulePathIgnorePatterns: ['<rootDir>/.data/'],
};
const ignore = ['/node_modules/', '/dist/', '/.data/'];

/** @type {import('jest').Config} */
module.exports = {
  // A global option: Jest ignores it inside a project.
  testTimeout: 120_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/**/*.test.ts'],
      testPathIgnorePatterns: [...ignore, '\\.int\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/**/*.int.test.ts'],
      testPathIgnorePatterns: ignore,
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
};
