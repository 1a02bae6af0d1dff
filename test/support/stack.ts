/** Starting a provider and an app (through a harness) for one group of scenarios. */
import { createServer } from 'node:net'
import type { AuthOptions } from '@codeflow/core'
import { type DevProvider, type DevProviderOptions, startDevProvider } from '@codeflow/dev-provider'
import type { Harness, RunningApp } from '../harness/harness.js'
import { Browser } from './browser.js'

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

/** What `startStack` returns. */
export interface Stack {
  readonly provider: DevProvider
  readonly app: RunningApp
  /** the app's base URL, e.g. http://localhost:PORT */
  readonly baseUrl: string
  /** what the app was configured with */
  readonly options: AuthOptions
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
}

/** Starts the dev provider and the app of `harness`, wired together on loopback. */
export async function startStack(harness: Harness, options: StackOptions = {}): Promise<Stack> {
  const port = await freePort()
  const baseUrl = `http://localhost:${port}`
  const provider = await startDevProvider({
    ...options.provider,
    clients: [
      {
        clientId: CLIENT_ID,
        ...(options.publicClient ? {} : { clientSecret: CLIENT_SECRET }),
        redirectUris: [`${baseUrl}/callback`],
        postLogoutRedirectUris: [`${baseUrl}/`],
      },
    ],
  })
  const auth: AuthOptions = {
    issuer: provider.issuer,
    clientId: CLIENT_ID,
    ...(options.publicClient ? {} : { clientSecret: CLIENT_SECRET }),
    baseUrl,
    secret: SECRET,
    scope: 'openid profile email offline_access',
    allowInsecureRequests: true,
    ...options.auth,
  }
  let app: RunningApp
  try {
    app = await harness.start({ port, auth })
  } catch (error) {
    await provider.close()
    throw error
  }
  return {
    provider,
    app,
    baseUrl,
    options: auth,
    browser: () => new Browser(),
    async close() {
      await app.close()
      await provider.close()
    },
  }
}
