import { createServer, type Server } from 'node:http'
import { createApp } from '@codeflow/example-hono'
import { getRequestListener } from '@hono/node-server'
import { inProcessHarness } from './harness.js'

/** A Node server for a Hono app's `fetch`, by `@hono/node-server`, as the example's server.ts. */
export function honoServer(fetch: (request: Request) => Response | Promise<Response>): Server {
  return createServer(getRequestListener(fetch))
}

/** The Hono example app, in-process. */
export const honoHarness = inProcessHarness('hono', (auth, example) =>
  honoServer(createApp(auth, example).fetch),
)
