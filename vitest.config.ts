import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'catalog/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // integration suites each start their own anvil / providers on free loopback ports
    pool: 'forks',
    maxWorkers: 2,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
