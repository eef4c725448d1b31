import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The SDK's notice that its 2027 releases need Node 22 is noise on this project's Node 20 machines.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // Integration files mostly wait on loopback servers: three at a time keep 2 cores busy (one
    // per core, the default there, leaves them idle most of the run).
    maxWorkers: 3,
    projects: [
      // Unit properties take a few seconds alone, and several times that on a busy 2-core machine.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
