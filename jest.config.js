/** @type {import('jest').Config} */
// .venv holds nbgrader's labextension (a second package.json named like jupyterlab's), lib the build.
const modulePathIgnorePatterns = ['<rootDir>/.venv/', '<rootDir>/lib/', '<rootDir>/.gen/', '<rootDir>/examples/'];

module.exports = {
  projects: [
    {
      displayName: 'unit',
      preset: 'ts-jest',
      testEnvironment: 'node',
      modulePathIgnorePatterns,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transform: { '^.+\\.ts$': ['ts-jest', {}] },
    },
    {
      displayName: 'terraform',
      preset: 'ts-jest',
      testEnvironment: 'node',
      modulePathIgnorePatterns,
      testMatch: ['<rootDir>/test/terraform/**/*.test.ts'],
      transform: { '^.+\\.ts$': ['ts-jest', {}] },
    },
  ],
};
