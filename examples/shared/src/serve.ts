import { createServer, type RequestListener, type Server } from 'node:http'
import type { AuthOptions } from '@codeflow/core'
import type { ExampleOptions } from './api-call.js'
import { banner } from './banner.js'
import { loadExampleConfig } from './config.js'
import { EnvironmentError } from './settings.js'

/** Something that listens like Express's and Koa's `app.listen`. */
export interface Listener {
  listen(port: number, host: string, ready: () => void): Server
}

/** What an example's `createApp` returns: something that listens, or a Node request listener. */
export type Servable = Listener | RequestListener

/**
 * Something that listens: the app itself when it does (an Express app is a request listener too),
 * else a Node server serving the request listener (Hono's, from `@hono/node-server`).
 */
export function listenerOf(app: Servable): Listener {
  return typeof (app as Partial<Listener>).listen === 'function'
    ? (app as Listener)
    : createServer(app as RequestListener)
}

/**
 * Runs an example as `pnpm --dir examples/<name> start` does: reads the environment, starts what
 * it needs, prints the banner, stops on SIGINT/SIGTERM; a bad setting prints its message and exits
 * with code 1, without a stack trace.
 */
export async function serveExample(
  name: string,
  createApp: (auth: AuthOptions, example: ExampleOptions) => Servable,
) {
  let config: Awaited<ReturnType<typeof loadExampleConfig>> | undefined
  try {
    const loaded = await loadExampleConfig()
    config = loaded
    const app = createApp(loaded.auth, {
      apiUrl: loaded.apiUrl,
      adminGroup: loaded.adminGroup,
      stepUpMaxAge: loaded.stepUpMaxAge,
      stepUpAcr: loaded.stepUpAcr,
    })
    const server = listenerOf(app).listen(loaded.port, loaded.host ?? '::', () =>
      console.log(banner(name, loaded)),
    )
    const stop = () => {
      server.close()
      server.closeAllConnections()
      void loaded.close()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  } catch (error) {
    if (!(error instanceof EnvironmentError || (error as Error).name === 'ConfigurationError')) {
      throw error
    }
    console.error(`codeflow example: ${(error as Error).message}`)
    process.exitCode = 1
    // the embedded dev provider, started before the app refused an option, would keep it running
    await config?.close()
  }
}
