import { once } from 'node:events'
import { createApp } from '@codeflow/example-koa'
import type { Harness } from './harness.js'

/** The Koa example app, in-process. */
export const koaHarness: Harness = {
  name: 'koa',
  async start({ port, auth }) {
    const server = createApp(auth).listen(port, '127.0.0.1')
    await once(server, 'listening')
    return {
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        }),
    }
  },
}
