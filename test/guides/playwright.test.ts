/**
 * The Playwright guide (packages/testing/README.md) as it is printed: its fixture and spec run by
 * Playwright's own test runner, in Debian's Chromium, against the Next.js example under
 * `next start`, signed in once per worker through the dev provider.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nextStartHarness } from '../harness/next-start.js'
import { spawnProcess } from '../support/process.js'
import { type Stack, startStack } from '../support/stack.js'

const here = dirname(fileURLToPath(import.meta.url))
const cli = resolve(here, '../node_modules/@playwright/test/cli.js')

describe('the Playwright guide', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(nextStartHarness)
  })
  afterAll(() => stack?.close())

  it('signs in once per worker and runs every spec signed in', async () => {
    const reportFile = join(mkdtempSync(join(tmpdir(), 'codeflow-playwright-')), 'report.json')
    const run = spawnProcess(
      'node',
      [cli, 'test', '--config', resolve(here, 'playwright/playwright.config.ts')],
      {
        cwd: resolve(here, 'playwright'),
        env: { APP_BASE_URL: stack.baseUrl, PLAYWRIGHT_JSON_OUTPUT_NAME: reportFile },
      },
    )
    const code = await run.exited
    const output = run.output()
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
      stats: { expected: number; unexpected: number; flaky: number; skipped: number }
    }
    expect(report.stats, output.slice(0, 2000)).toEqual({
      expected: 3,
      unexpected: 0,
      flaky: 0,
      skipped: 0,
      startTime: expect.any(String),
      duration: expect.any(Number),
    })
    expect(code).toBe(0)
    // one sign-in per worker: two workers, at most two logins at the provider
    expect(stack.provider.counts('token')).toBeLessThanOrEqual(2)
  }, 120_000)
})
