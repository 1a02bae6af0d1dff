import type { Server } from 'node:http'
import { createAuth } from '@codeflow/core'
import { serveExample } from '@codeflow/example-shared'
import { createApp } from './app.js'

/**
 * `serveExample` listens the way Express and Koa do, at once; Fastify's server is ready once its
 * plugins have loaded. `createAuth` checks the options first, where `serveExample` reports a bad
 * one; then `listen` loads the app and starts its server.
 */
await serveExample('Fastify', (options, example) => {
  const app = createApp(createAuth(options), example)
  return {
    listen(port: number, host: string, ready: () => void): Server {
      app.ready().then(
        () => app.server.listen(port, host, ready),
        (error: unknown) => {
          console.error(error)
          process.exit(1)
        },
      )
      return app.server
    },
  }
})
