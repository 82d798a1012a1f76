/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      preset: 'ts-jest',
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transform: { '^.+\\.ts$': ['ts-jest', {}] },
    },
    {
      displayName: 'terraform',
      preset: 'ts-jest',
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/terraform/**/*.test.ts'],
      transform: { '^.+\\.ts$': ['ts-jest', {}] },
    },
  ],
};
