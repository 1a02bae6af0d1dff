/** Starting a provider and an app (through a harness) for one group of scenarios. */
import { createServer } from 'node:net'
import type { AuthOptions } from '@codeflow/core'
import {
  type DevClient,
  type DevProvider,
  type DevProviderOptions,
  startDevProvider,
} from '@codeflow/dev-provider'
import type { RedisTarget } from '@codeflow/example-shared'
import type { Harness, HarnessOptions, RunningApp } from '../harness/harness.js'
import { Browser } from './browser.js'
import type { TestClock } from './clock.js'
import { type ScriptedProvider, startScriptedProvider } from './scripted-provider.js'

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export const CLIENT_ID = 'scenario-client'
export const CLIENT_SECRET = 'scenario-client-secret-value'
export const SECRET = 'a-session-secret-of-at-least-32-characters!'

/** One running instance of the app. */
export interface Instance {
  /** its base URL, e.g. http://localhost:PORT */
  readonly baseUrl: string
  readonly port: number
  /** what it was configured with */
  readonly options: AuthOptions
  /** whether it is running */
  readonly running: boolean
  /** stops it */
  stop(): Promise<void>
  /** stops it if running, then starts it again on the same port, with `auth` overrides */
  restart(auth?: Partial<AuthOptions>): Promise<void>
  /** what its own process printed (empty for an app in this process: see `captureLogs`) */
  output(): string
}

/** What `startStack` returns. */
export interface Stack {
  readonly provider: DevProvider
  readonly app: RunningApp
  /** the first instance's base URL, e.g. http://localhost:PORT */
  readonly baseUrl: string
  /** what the first instance was configured with */
  readonly options: AuthOptions
  /** every instance; the first is `app` */
  readonly instances: readonly Instance[]
  /** a fresh browser */
  browser(): Browser
  close(): Promise<void>
}

/** Options of `startStack`. */
export interface StackOptions {
  /** overrides of the app's codeflow options */
  auth?: Partial<AuthOptions>
  /** options of the dev provider (clients are set by the stack) */
  provider?: Omit<DevProviderOptions, 'clients'>
  /** register a public client (no secret, PKCE alone) instead of a confidential one */
  publicClient?: boolean
  /** the resource server the example's /api/call calls (API_URL) */
  apiUrl?: string
  /** the example's ADMIN_GROUP, STEP_UP_MAX_AGE and STEP_UP_ACR */
  example?: HarnessOptions['example']
  /** how the provider requires the client to authenticate, and its keys (private_key_jwt) */
  providerClient?: Partial<
    Pick<
      DevClient,
      | 'tokenEndpointAuthMethod'
      | 'jwks'
      | 'clientSecret'
      | 'redirectUris'
      | 'requestObjectSigningAlg'
      | 'dpopBoundAccessTokens'
      | 'tlsClientAuthSubjectDn'
      | 'certificateBoundAccessTokens'
    >
  >
  /** the CA certificate (PEM) the stack's browsers trust, for a provider on https */
  browserCa?: string
  /** keep sessions in this Redis (the examples' REDIS_URL), or cluster (`{ cluster: seeds }`) */
  redisUrl?: RedisTarget
  /**
   * with `redisUrl`: keep the sessions there too (default true); `false` keeps cookie sessions,
   * with only the logout revocations in Redis (the examples' SESSION_STORE=cookie)
   */
  redisSessions?: boolean
  /** how many instances of the app to start, each on its own port (default 1) */
  instances?: number
  /**
   * the test clock every instance follows (default: the system's); the dev provider keeps real
   * time
   */
  clock?: TestClock
}

/** Starts the dev provider and the app of `harness` (one or more instances), wired on loopback. */
async function startStackOnce(harness: Harness, options: StackOptions = {}): Promise<Stack> {
  const ports: number[] = []
  for (let i = 0; i < (options.instances ?? 1); i++) ports.push(await freePort())
  const baseUrls = ports.map((port) => `http://localhost:${port}`)
  const provider = await startDevProvider({
    ...options.provider,
    clients: [
      {
        clientId: CLIENT_ID,
        ...(options.publicClient ? {} : { clientSecret: CLIENT_SECRET }),
        redirectUris: baseUrls.map((url) => `${url}/callback`),
        postLogoutRedirectUris: baseUrls.map((url) => `${url}/`),
        // one URI per client: the provider tells the first instance, which tells the others
        // through the shared revocation store
        backchannelLogoutUri: `${baseUrls[0]}/backchannel-logout`,
        backchannelLogoutSessionRequired: true,
        ...options.providerClient,
      },
    ],
  })
  let instances: Instance[]
  try {
    instances = await startInstances(
      harness,
      ports,
      options.redisUrl,
      (baseUrl) => ({
        issuer: provider.issuer,
        clientId: CLIENT_ID,
        ...(options.publicClient ? {} : { clientSecret: CLIENT_SECRET }),
        baseUrl,
        secret: SECRET,
        scope: 'openid profile email offline_access',
        allowInsecureRequests: true,
        ...options.auth,
      }),
      {
        ...(options.redisSessions === undefined ? {} : { redisSessions: options.redisSessions }),
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        ...(options.apiUrl === undefined ? {} : { apiUrl: options.apiUrl }),
        ...(options.example === undefined ? {} : { example: options.example }),
      },
    )
  } catch (error) {
    await provider.close()
    throw error
  }
  const first = instances[0] as Instance & { app: RunningApp }
  return {
    provider,
    get app() {
      return first.app
    },
    baseUrl: first.baseUrl,
    get options() {
      return first.options
    },
    instances,
    browser: () => new Browser(options.browserCa === undefined ? {} : { ca: options.browserCa }),
    async close() {
      for (const instance of instances) await instance.stop()
      await provider.close()
    },
  }
}

/**
 * Starts one app instance per port, each with the options `auth(baseUrl)` makes; `redisSessions`
 * and `clock` as in `StackOptions` (a restarted instance follows the same clock).
 */
export async function startInstances(
  harness: Harness,
  ports: readonly number[],
  redisUrl: RedisTarget | undefined,
  auth: (baseUrl: string) => AuthOptions,
  extra: Pick<HarnessOptions, 'redisSessions' | 'clock' | 'apiUrl' | 'example'> = {},
): Promise<Instance[]> {
  const instances: Instance[] = []
  const { clock, apiUrl, example, ...redisExtra } = extra
  const shared = {
    ...(redisUrl ? { redisUrl, ...redisExtra } : {}),
    ...(clock === undefined ? {} : { clock }),
    ...(apiUrl === undefined ? {} : { apiUrl }),
    ...(example === undefined ? {} : { example }),
  }
  try {
    for (const port of ports) {
      const baseUrl = `http://localhost:${port}`
      let current: AuthOptions = auth(baseUrl)
      let app: RunningApp | undefined = await harness.start({ port, auth: current, ...shared })
      const instance: Instance & { app: RunningApp } = {
        baseUrl,
        port,
        get options() {
          return current
        },
        get running() {
          return app !== undefined
        },
        get app() {
          return app as RunningApp
        },
        async stop() {
          const running = app
          app = undefined
          await running?.close()
        },
        async restart(overrides = {}) {
          await instance.stop()
          current = { ...current, ...overrides }
          app = await harness.start({ port, auth: current, ...shared })
        },
        output: () => app?.output?.() ?? '',
      }
      instances.push(instance)
    }
  } catch (error) {
    for (const instance of instances) await instance.stop()
    throw error
  }
  return instances
}

/** What `startScriptedStack` returns: the scripted provider and the app instances. */
export interface ScriptedStack {
  readonly provider: ScriptedProvider
  readonly instances: readonly Instance[]
  readonly baseUrl: string
  browser(): Browser
  close(): Promise<void>
}

/** Options of `startScriptedStack`. */
export interface ScriptedStackOptions {
  /** overrides of the app's codeflow options */
  auth?: Partial<AuthOptions>
  /** keep sessions in this Redis (the examples' REDIS_URL) */
  redisUrl?: string
  /** how many instances of the app to start, each on its own port (default 1) */
  instances?: number
  /**
   * the test clock every instance and the scripted provider follow (default: the system's): the
   * provider's tokens are issued by the same time as the app reads them
   */
  clock?: TestClock
}

/** Starts the scripted provider and `instances` app instances (default 1) wired to it. */
async function startScriptedStackOnce(
  harness: Harness,
  options: ScriptedStackOptions = {},
): Promise<ScriptedStack> {
  const ports: number[] = []
  for (let i = 0; i < (options.instances ?? 1); i++) ports.push(await freePort())
  const clock = options.clock
  const provider = await startScriptedProvider({
    redirectUris: ports.map((port) => `http://localhost:${port}/callback`),
    ...(clock === undefined ? {} : { clock: () => clock.now() }),
  })
  let instances: Instance[]
  try {
    instances = await startInstances(
      harness,
      ports,
      options.redisUrl,
      (baseUrl) => ({
        issuer: provider.issuer,
        clientId: provider.clientId,
        clientSecret: provider.clientSecret,
        baseUrl,
        secret: SECRET,
        scope: 'openid profile offline_access',
        allowInsecureRequests: true,
        ...options.auth,
      }),
      clock === undefined ? {} : { clock },
    )
  } catch (error) {
    await provider.close()
    throw error
  }
  return {
    provider,
    instances,
    baseUrl: (instances[0] as Instance).baseUrl,
    browser: () => new Browser(),
    async close() {
      for (const instance of instances) await instance.stop()
      await provider.close()
    },
  }
}

/**
 * A port found free may be taken (by a client socket's ephemeral port, say) before the app binds
 * it: the whole stack is started again on new ports, at most three times.
 */
async function retryOnPortClash<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start()
    } catch (error) {
      const clash =
        (error as { code?: string }).code === 'EADDRINUSE' || /EADDRINUSE/.test(String(error))
      if (!clash || attempt >= 3) throw error
    }
  }
}

/** Starts the dev provider and the app of `harness` (one or more instances), wired on loopback. */
export function startStack(harness: Harness, options: StackOptions = {}): Promise<Stack> {
  return retryOnPortClash(() => startStackOnce(harness, options))
}

/** Starts the scripted provider and `instances` app instances (default 1) wired to it. */
export function startScriptedStack(
  harness: Harness,
  options: ScriptedStackOptions = {},
): Promise<ScriptedStack> {
  return retryOnPortClash(() => startScriptedStackOnce(harness, options))
}
