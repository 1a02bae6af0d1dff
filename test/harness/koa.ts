import { once } from 'node:events'
import { createApp } from '@codeflow/example-koa'
import { type Harness, inProcessOptions } from './harness.js'

/** The Koa example app, in-process. */
export const koaHarness: Harness = {
  name: 'koa',
  async start(options) {
    const { auth, close } = inProcessOptions(options)
    const server = createApp(auth).listen(options.port, '127.0.0.1')
    await once(server, 'listening')
    return {
      async close() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
        await close()
      },
    }
  },
}
