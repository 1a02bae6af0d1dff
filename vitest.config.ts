import { defineConfig } from 'vitest/config'

// CI sets CODEFLOW_TEST_REPORT to a path: the JSON report is what .ci/run counts.
const report = process.env.CODEFLOW_TEST_REPORT

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // codeflow logs warnings to the console by default: shown for failing tests only
    silent: 'passed-only',
    reporters: report ? ['default', 'json'] : ['default'],
    ...(report ? { outputFile: { json: report } } : {}),
  },
})
