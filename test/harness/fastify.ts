import type { Server } from 'node:http'
import { createApp } from '@codeflow/example-fastify'
import { inProcessHarness } from './harness.js'

/**
 * The Fastify example app, in-process. Fastify's server listens once the app's plugins have
 * loaded: `inProcessHarness` waits for `listening`, which comes after `ready()` and the listen.
 */
export const fastifyHarness = inProcessHarness('fastify', (auth, example) => {
  const app = createApp(auth, example)
  return {
    listen(port: number, host: string): Server {
      app.ready().then(
        () => app.server.listen(port, host),
        (error: unknown) => app.server.emit('error', error),
      )
      return app.server
    },
  }
})
