/**
 * The guides of packages/testing/README.md are these files, as printed: a guide that drifts from
 * the file CI runs fails here.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const here = dirname(fileURLToPath(import.meta.url))
const readme = readFileSync(resolve(here, '../../packages/testing/README.md'), 'utf8')

describe('the test kit guides', () => {
  it.each([
    'express-supertest.test.ts',
    'koa-supertest.test.ts',
    'fastify-inject.test.ts',
    'hono-app-request.test.ts',
    'next-route-handler.test.ts',
    'playwright/fixtures.ts',
    'playwright/profile.spec.ts',
    'playwright/playwright.config.ts',
  ])('prints %s as CI runs it', (file) => {
    const text = readFileSync(resolve(here, file), 'utf8')
    expect(readme).toContain(`\`\`\`ts\n${text}\`\`\``)
  })
})
