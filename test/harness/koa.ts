import { createApp } from '@codeflow/example-koa'
import { inProcessHarness } from './harness.js'

/** The Koa example app, in-process. */
export const koaHarness = inProcessHarness('koa', createApp)
