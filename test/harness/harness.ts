/**
 * The small interface every adapter implements for the scenario suite: start the example app on
 * a port with given codeflow options, and close it.
 */
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AuthOptions } from '@codeflow/core'
import { type ExampleOptions, type RedisTarget, redisConnection } from '@codeflow/example-shared'
import type { TestClock } from '../support/clock.js'

/** What a harness is started with. */
export interface HarnessOptions {
  /** the port to listen on, on 127.0.0.1 */
  readonly port: number
  /** the app's codeflow options */
  readonly auth: AuthOptions
  /**
   * a Redis to keep sessions in (as the examples' REDIS_URL), or a Redis Cluster's seed nodes
   * (`{ cluster }`, as REDIS_CLUSTER_NODES): in-process harnesses connect a store themselves,
   * process harnesses pass it on in the environment
   */
  readonly redisUrl?: RedisTarget
  /**
   * with `redisUrl`: whether sessions live there (default true); logout revocations always do.
   * `false` keeps cookie sessions (the examples' SESSION_STORE=cookie)
   */
  readonly redisSessions?: boolean
  /**
   * a test clock the app's time follows instead of the system's (in-process harnesses pass it as
   * the `clock` option, process harnesses preload a `Date.now` that follows it); without it the
   * app keeps the default clock
   */
  readonly clock?: TestClock
  /** the resource server the example's /api/call calls (the examples' API_URL) */
  readonly apiUrl?: string
  /** the example's ADMIN_GROUP, STEP_UP_MAX_AGE and STEP_UP_ACR */
  readonly example?: {
    readonly adminGroup?: string
    readonly stepUpMaxAge?: number
    readonly stepUpAcr?: string
  }
}

/** A running app. */
export interface RunningApp {
  /** the process that serves it, for a harness that runs the app as its own process */
  readonly pid?: number
  /** what that process printed so far (an in-process app prints on this process's console) */
  output?(): string
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
 * connection: what the examples do with REDIS_URL and SESSION_STORE; with a test clock, the
 * `clock` option that reads it (every instance of a stack shares that one clock).
 */
export function inProcessOptions(options: HarnessOptions): {
  auth: AuthOptions
  close(): Promise<void>
} {
  const testClock = options.clock
  const auth: AuthOptions =
    testClock === undefined ? options.auth : { ...options.auth, clock: () => testClock.now() }
  if (!options.redisUrl) return { auth, close: async () => undefined }
  const redis = redisConnection(options.redisUrl)
  const session = {
    ...auth.session,
    ...(options.redisSessions === false ? {} : { store: redis.store }),
    revocationStore: redis.revocationStore,
  }
  return { auth: { ...auth, session }, close: () => redis.close() }
}

/** A harness for an example whose `createApp(auth)` returns something that listens (Express, Koa). */
export function inProcessHarness(
  name: string,
  createApp: (
    auth: AuthOptions,
    example: ExampleOptions,
  ) => { listen(port: number, host: string): Server },
): Harness {
  return {
    name,
    async start(options) {
      const { auth, close } = inProcessOptions(options)
      const server = createApp(auth, { apiUrl: options.apiUrl, ...options.example }).listen(
        options.port,
        '127.0.0.1',
      )
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
