import { defineConfig } from 'vitest/config'

// CI sets CODEFLOW_TEST_REPORT to a path: the JSON report is what .ci/run counts.
const report = process.env.CODEFLOW_TEST_REPORT

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // codeflow logs warnings to the console by default: shown for failing tests only
    silent: 'passed-only',
    reporters: report ? ['default', 'json'] : ['default'],
    ...(report ? { outputFile: { json: report } } : {}),
    // `pnpm test:unit` runs the first (seconds), `pnpm test:scenarios` the second, `pnpm test` both
    projects: [
      { extends: true, test: { name: 'unit', include: ['packages/*/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'scenarios', include: ['test/**/*.test.ts'] } },
    ],
  },
})
