/** Unit and integration tests share one real Temporal dev server and one fresh Postgres database (test/support). */
const swc = [
  '@swc/jest',
  { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' }, sourceMaps: 'inline' },
];

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/setup-runtime.ts'],
  testTimeout: 120_000,
  maxWorkers: 2,
  // The Temporal native runtime keeps handles open after the last test; workers are shut down in each file.
  forceExit: true,
};
