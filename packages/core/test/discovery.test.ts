/**
 * Discovery against a real provider: lazy, cached, deduplicated, retried after a failure rather
 * than caching it, and bounded by `httpTimeout`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterEach, describe, expect, it } from 'vitest'
import { createWebContext, handleLogin } from '../src/adapter.js'
import {
  type Auth,
  type AuthLogEvent,
  type AuthOptions,
  createAuth,
  DiscoveryError,
} from '../src/index.js'
import { APP, SECRET } from './support.js'

const CLIENT = {
  clientId: 'core-tests',
  clientSecret: 'core-tests-secret',
  redirectUris: [`${APP}/callback`],
  postLogoutRedirectUris: [`${APP}/`],
}

const cleanup: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close()
})

async function provider(port?: number): Promise<DevProvider> {
  const started = await startDevProvider({ ...(port ? { port } : {}), clients: [CLIENT] })
  cleanup.push(() => started.close())
  return started
}

function authFor(issuer: string, overrides: Partial<AuthOptions> = {}): Auth {
  return createAuth({
    issuer,
    clientId: CLIENT.clientId,
    clientSecret: CLIENT.clientSecret,
    baseUrl: APP,
    secret: SECRET,
    allowInsecureRequests: true,
    ...overrides,
  })
}

function login(auth: Auth) {
  const ctx = createWebContext(new Request(`${APP}/login`))
  return { ctx, response: handleLogin(auth, ctx) }
}

/** A port on 127.0.0.1 with nothing listening (it was free a moment ago). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A server that accepts requests and never answers them. */
async function hangingServer(): Promise<{ server: Server; url: string; requests: () => number }> {
  let requests = 0
  const server = createServer(() => {
    requests++
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  const { port } = server.address() as AddressInfo
  return { server, url: `http://127.0.0.1:${port}`, requests: () => requests }
}

describe('discovery', () => {
  it('makes no request when createAuth runs', async () => {
    const op = await provider()
    authFor(op.issuer)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(op.counts('discovery')).toBe(0)
  })

  it('redirects a login to the discovered authorization endpoint with every protocol parameter', async () => {
    const op = await provider()
    const auth = authFor(op.issuer, { authorizationParams: { prompt: 'login' } })
    const { ctx, response } = login(auth)
    const { status, headers } = await response
    expect(status).toBe(302)
    expect(headers['Cache-Control']).toBe('no-store')
    const location = new URL(headers.Location ?? '')
    expect(`${location.origin}${location.pathname}`).toBe(`${op.issuer}/auth`)
    const params = location.searchParams
    expect(params.get('client_id')).toBe(CLIENT.clientId)
    expect(params.get('response_type')).toBe('code')
    expect(params.get('redirect_uri')).toBe(`${APP}/callback`)
    expect(params.get('scope')).toBe('openid profile email')
    expect(params.get('code_challenge_method')).toBe('S256')
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(params.get('state')).toMatch(/^[A-Za-z0-9_-]{16,}$/)
    expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{16,}$/)
    expect(params.get('prompt')).toBe('login')
    expect(ctx.cookies.map((c) => c.name)).toEqual([`codeflow_tx.${params.get('state')}`])
  })

  it('shares one discovery request among 10 concurrent first logins, then caches it', async () => {
    const op = await provider()
    const auth = authFor(op.issuer)
    const logins = Array.from({ length: 10 }, () => login(auth).response)
    const responses = await Promise.all(logins)
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(302))
    expect(op.counts('discovery')).toBe(1)
    const states = new Set(
      responses.map((r) => new URL(r.headers.Location ?? '').searchParams.get('state')),
    )
    expect(states.size).toBe(10)

    await login(auth).response
    expect(op.counts('discovery')).toBe(1)
  })

  it('answers 503 with Retry-After while the provider is down, and retries once it is up', async () => {
    const port = await freePort()
    const events: AuthLogEvent[] = []
    const auth = authFor(`http://127.0.0.1:${port}`, { logger: (event) => events.push(event) })

    const down = login(auth)
    const error = await down.response.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DiscoveryError)
    expect((error as DiscoveryError).status).toBe(503)
    expect((error as DiscoveryError).code).toBe('discovery_failed')
    expect((error as DiscoveryError).headers['Retry-After']).toMatch(/^\d+$/)
    expect((error as DiscoveryError).cause).toBeDefined()
    expect(down.ctx.cookies).toHaveLength(0)
    expect(events.map((e) => e.code)).toEqual(['discovery_failed'])

    const op = await provider(port)
    const up = await login(auth).response
    expect(up.status).toBe(302)
    expect(up.headers.Location?.startsWith(`${op.issuer}/auth?`)).toBe(true)
    expect(op.counts('discovery')).toBe(1)
  })

  it('fails concurrent logins together when the provider is down, with one attempt', async () => {
    const hanging = await hangingServer()
    const auth = authFor(hanging.url, { httpTimeout: 300 })
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => login(auth).response))
    expect(
      results.every((r) => r.status === 'rejected' && r.reason instanceof DiscoveryError),
    ).toBe(true)
    expect(hanging.requests()).toBe(1)
  })

  it('gives up on a provider that never answers after about httpTimeout', async () => {
    const hanging = await hangingServer()
    const auth = authFor(hanging.url, { httpTimeout: 300 })
    const started = performance.now()
    const error = await login(auth).response.catch((e: unknown) => e)
    const elapsed = performance.now() - started
    expect(error).toBeInstanceOf(DiscoveryError)
    expect((error as DiscoveryError).status).toBe(504)
    expect(elapsed).toBeGreaterThanOrEqual(250)
    expect(elapsed).toBeLessThan(2000)
    expect(hanging.requests()).toBe(1)

    // not cached: the next request tries again
    await login(auth).response.catch(() => undefined)
    expect(hanging.requests()).toBe(2)
  })
})
