import { createRequire } from 'node:module'
import { createApp } from '@codeflow/example-express'
import { inProcessHarness } from './harness.js'

// Express 4 (the `express4` alias of test/package.json), for the Express example app as it is
const express4 = createRequire(import.meta.url)('express4') as NonNullable<
  NonNullable<Parameters<typeof createApp>[1]>['framework']
>

/** The Express example app on Express 4, in-process. */
export const express4Harness = inProcessHarness('express4', (options, example) =>
  createApp(options, { ...example, framework: express4 }),
)
