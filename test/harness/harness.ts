/**
 * The small interface every adapter implements for the scenario suite: start the example app on
 * a port with given codeflow options, and close it.
 */
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AuthOptions } from '@codeflow/core'
import { redisConnection } from '@codeflow/example-shared'

/** What a harness is started with. */
export interface HarnessOptions {
  /** the port to listen on, on 127.0.0.1 */
  readonly port: number
  /** the app's codeflow options */
  readonly auth: AuthOptions
  /**
   * a Redis to keep sessions in (as the examples' REDIS_URL): in-process harnesses connect a
   * store themselves, process harnesses pass it on in the environment
   */
  readonly redisUrl?: string
  /**
   * with `redisUrl`: whether sessions live there (default true); logout revocations always do.
   * `false` keeps cookie sessions (the examples' SESSION_STORE=cookie)
   */
  readonly redisSessions?: boolean
}

/** A running app. */
export interface RunningApp {
  close(): Promise<void>
}

/** One adapter under test. */
export interface Harness {
  readonly name: string
  start(options: HarnessOptions): Promise<RunningApp>
}

/**
 * The app options of an in-process harness: `auth`, with a Redis revocation store and (unless
 * `redisSessions` is false) session store when `redisUrl` is given, and what closes that
 * connection: what the examples do with REDIS_URL and SESSION_STORE.
 */
export function inProcessOptions(options: HarnessOptions): {
  auth: AuthOptions
  close(): Promise<void>
} {
  if (!options.redisUrl) return { auth: options.auth, close: async () => undefined }
  const redis = redisConnection(options.redisUrl)
  const session = {
    ...options.auth.session,
    ...(options.redisSessions === false ? {} : { store: redis.store }),
    revocationStore: redis.revocationStore,
  }
  return { auth: { ...options.auth, session }, close: () => redis.close() }
}

/** A harness for an example whose `createApp(auth)` returns something that listens (Express, Koa). */
export function inProcessHarness(
  name: string,
  createApp: (auth: AuthOptions) => { listen(port: number, host: string): Server },
): Harness {
  return {
    name,
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
}
