import { expressHarness } from './express.js'
import type { Harness } from './harness.js'
import { koaHarness } from './koa.js'

/** Every adapter the shared scenario suite runs against. */
export const harnesses: readonly Harness[] = [expressHarness, koaHarness]
export type { Harness, HarnessOptions, RunningApp } from './harness.js'
