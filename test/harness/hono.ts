import { createApp } from '@codeflow/example-hono'
import { listenerOf } from '@codeflow/example-shared'
import { getRequestListener } from '@hono/node-server'
import { inProcessHarness } from './harness.js'

/** The Hono example app, in-process, served by `@hono/node-server` as its server.ts does. */
export const honoHarness = inProcessHarness('hono', (auth, example) =>
  listenerOf(getRequestListener(createApp(auth, example).fetch)),
)
