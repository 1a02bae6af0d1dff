import { createApp } from '@codeflow/example-express'
import { inProcessHarness } from './harness.js'

/** The Express example app, in-process. */
export const expressHarness = inProcessHarness('express', createApp)
