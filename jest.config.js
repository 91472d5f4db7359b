/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // A reward or experiment file importing the package gets the sources under test (as the CLI maps it).
  moduleNameMapper: {
    '^rationale-rl$': '<rootDir>/lib/index.ts',
    '^rationale-rl/rewards$': '<rootDir>/rewards/index.ts',
    '^rationale-rl/([a-z]+)$': '<rootDir>/lib/$1/index.ts',
  },
  testTimeout: 120000,
  // tfjs backends hold process-global state: one worker per file keeps files independent.
  maxWorkers: 2,
};
