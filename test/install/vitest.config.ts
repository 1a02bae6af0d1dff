import { defineConfig } from 'vitest/config'

// `pnpm test:install`: the install job (install.spec.ts). CI sets CODEFLOW_TEST_REPORT to a path
// for the JSON report it counts.
const report = process.env.CODEFLOW_TEST_REPORT

export default defineConfig({
  test: {
    include: ['test/install/*.spec.ts'],
    testTimeout: 300_000,
    hookTimeout: 1_200_000,
    reporters: report ? ['default', 'json'] : ['default'],
    ...(report ? { outputFile: { json: report } } : {}),
  },
})
