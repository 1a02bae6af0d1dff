import { expressHarness } from './express.js'
import type { Harness } from './harness.js'

/** Every adapter the shared scenario suite runs against. */
export const harnesses: readonly Harness[] = [expressHarness]
export type { Harness, HarnessOptions, RunningApp } from './harness.js'
