/**
 * The small interface every adapter implements for the scenario suite: start the example app on
 * a port with given codeflow options, and close it.
 */
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
 * The app options of an in-process harness: `auth`, with a Redis session store when `redisUrl` is
 * given, and what closes that connection.
 */
export function inProcessOptions(options: HarnessOptions): {
  auth: AuthOptions
  close(): Promise<void>
} {
  if (!options.redisUrl) return { auth: options.auth, close: async () => undefined }
  const redis = redisConnection(options.redisUrl)
  return {
    auth: { ...options.auth, session: { ...options.auth.session, store: redis.store } },
    close: () => redis.close(),
  }
}
