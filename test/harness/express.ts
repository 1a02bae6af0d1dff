import { once } from 'node:events'
import { createApp } from '@codeflow/example-express'
import { type Harness, inProcessOptions } from './harness.js'

/** The Express example app, in-process. */
export const expressHarness: Harness = {
  name: 'express',
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
