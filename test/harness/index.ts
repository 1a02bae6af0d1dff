import { expressHarness } from './express.js'
import { express4Harness } from './express4.js'
import { fastifyHarness } from './fastify.js'
import type { Harness } from './harness.js'
import { honoHarness } from './hono.js'
import { koaHarness } from './koa.js'
import { nextHandlersHarness } from './next-handlers.js'
import { nextStartHarness } from './next-start.js'

/** Every adapter the shared scenario suite runs against. */
export const harnesses: readonly Harness[] = [
  expressHarness,
  express4Harness,
  koaHarness,
  fastifyHarness,
  honoHarness,
  nextHandlersHarness,
  nextStartHarness,
]
export type { Harness, HarnessOptions, RunningApp } from './harness.js'
