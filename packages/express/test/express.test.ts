/**
 * What only Express needs: `requireAuth(handler)` (a signed-in `req.auth`, and the handler's
 * errors reaching the error handlers, also on Express 4, which catches no rejected handler), on
 * Express 5 and 4. Every protocol scenario runs on the Express example through the shared suite
 * in test/, on both versions too.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { AuthOptions } from '@codeflow/core'
import express, { type ErrorRequestHandler } from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Harness } from '../../../test/harness/harness.js'
import { authorize, signIn } from '../../../test/support/flow.js'
import { type Stack, startStack } from '../../../test/support/stack.js'
import { auth, authErrorHandler, login, logout, requireAuth } from '../src/index.js'

// Express 4, as the `express4` alias of this package's devDependencies
const express4 = createRequire(import.meta.url)('express4') as typeof express

/**
 * A resource server for req.auth.fetch: it checks the bearer token at the provider's userinfo
 * endpoint and answers its subject; a `/refuse-once-*` path answers its first call with 401
 * invalid_token (as after a revocation); `/hang` never answers.
 */
let resource: { url: string; close(): Promise<void>; tokens: string[] } | undefined
let issuerForResource = ''
async function startResource() {
  const tokens: string[] = []
  const refused = new Set<string>()
  let port = 0
  const server = createServer(async (req, res) => {
    if (req.url === '/hang') return
    if (req.url === '/away') {
      // another origin (localhost for 127.0.0.1): the token must not follow the redirect there
      res.writeHead(302, { location: `http://localhost:${port}/elsewhere` }).end()
      return
    }
    if (req.url === '/elsewhere') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ authorization: req.headers.authorization ?? null }))
      return
    }
    const header = req.headers.authorization ?? ''
    tokens.push(header)
    // each /refuse-once-* path is refused once, the first time it is called
    if (req.url?.startsWith('/refuse-once') && !refused.has(req.url)) {
      refused.add(req.url)
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end()
      return
    }
    const info = await fetch(`${issuerForResource}/me`, { headers: { authorization: header } })
    res.writeHead(info.status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(info.ok ? { sub: ((await info.json()) as { sub: string }).sub } : {}))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    tokens,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** Errors that reached the app's error handler after the response was sent. */
const afterSent: unknown[] = []

function app(framework: typeof express, options: AuthOptions) {
  const app = framework()
  // answers /early itself at once, while auth() is still at the provider (the login's discovery)
  app.use((req, res, next) => {
    next()
    if (req.path === '/login' && req.query.early === '1') res.end('early')
  })
  app.use(auth(options))
  app.get(
    '/me',
    requireAuth((req, res) => {
      // typed as signed in: no `!` or `?.`
      res.json({ signedIn: req.auth.isAuthenticated, sub: req.auth.user.sub })
    }),
  )
  app.get(
    '/page',
    requireAuth((_req, res) => res.send('page'), { unauthenticated: 'redirect' }),
  )
  app.get(
    '/throws',
    requireAuth(() => {
      throw new Error('thrown by the handler')
    }),
  )
  app.get(
    '/rejects',
    requireAuth(async (req) => {
      await req.auth.accessToken()
      throw new Error('rejected by the handler')
    }),
  )
  app.get(
    '/call/:path',
    requireAuth(async (req, res) => {
      const timeout = req.query.timeout ? Number(req.query.timeout) : undefined
      const target = req.query.down
        ? 'http://127.0.0.1:9/'
        : req.query.plain
          ? 'http://api.example/orders'
          : `${resource?.url}/${req.params.path}`
      const answer = await req.auth.fetch(target, {}, timeout ? { timeout } : {})
      res.status(200).json({ status: answer.status, body: await answer.json() })
    }),
  )
  app.get('/signup', (req, res, next) => {
    login(req, res, {
      returnTo: '/me',
      authorizationParams: { prompt: 'login', screen_hint: 'signup' },
    }).catch(next)
  })
  app.get('/bad-login', (req, res, next) => {
    login(req, res, { authorizationParams: { state: 'mine' } }).catch(next)
  })
  app.post('/signout', (req, res, next) => {
    logout(req, res, { returnTo: '/bye' }).catch(next)
  })
  app.use(authErrorHandler())
  const lastResort: ErrorRequestHandler = (error, _req, res, _next) => {
    if (res.headersSent) {
      afterSent.push(error)
      return
    }
    res.status(500).json({ caught: (error as Error).message })
  }
  app.use(lastResort)
  return app
}

function harnessOf(framework: typeof express): Harness {
  return {
    name: 'express-bare',
    async start({ port, auth: options }) {
      const server = app(framework, options).listen(port, '127.0.0.1')
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
}

describe.each([
  { version: '5', framework: express },
  { version: '4', framework: express4 },
])('@codeflow/express on Express $version: requireAuth(handler)', ({ version, framework }) => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harnessOf(framework))
    issuerForResource = stack.provider.issuer
    resource = await startResource()
  })
  afterAll(async () => {
    await stack.close()
    await resource?.close()
  })

  it('runs on the Express version it says', () => {
    const { version: installed } = createRequire(import.meta.url)(
      version === '4' ? 'express4/package.json' : 'express/package.json',
    ) as { version: string }
    expect(installed.split('.')[0]).toBe(version)
  })

  it('answers an anonymous API call with 401 JSON, without calling the handler', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/me`)
    expect(response.status).toBe(401)
    expect(response.json()).toMatchObject({ error: 'unauthenticated' })
  })

  it('redirects an anonymous request to login with its options', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/page`)
    expect(response.status).toBe(302)
    expect(response.header('location')).toBe(
      `${stack.baseUrl}/login?returnTo=${encodeURIComponent('/page')}`,
    )
  })

  it('starts a login from the app’s own handler with its options, landing on its returnTo', async () => {
    const browser = stack.browser()
    const start = await browser.navigate(`${stack.baseUrl}/signup`)
    expect(start.status).toBe(302)
    expect(start.location?.searchParams.get('prompt')).toBe('login')
    expect(start.location?.searchParams.get('screen_hint')).toBe('signup')
    const callback = await authorize(browser, start)
    const back = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(back.location?.href).toBe(`${stack.baseUrl}/me`)
    // and logs out from its own POST handler
    const out = await browser.postForm(`${stack.baseUrl}/signout`, {}, { origin: stack.baseUrl })
    expect(out.status).toBe(303)
    expect((await browser.request(`${stack.baseUrl}/me`)).status).toBe(401)
  })

  it('passes a login option codeflow refuses to the error handler', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/bad-login`)
    expect(response.status).toBe(500)
    expect(response.json().caught).toContain(
      '"authorizationParams.state" is set by codeflow itself',
    )
  })

  it('gives the handler the signed-in req.auth', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/me`)
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ signedIn: true, sub: 'alice' })
  })

  it("passes what the handler throws to the app's error handler", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/throws`)
    expect(response.status).toBe(500)
    expect(response.json()).toEqual({ caught: 'thrown by the handler' })
  })

  it('passes a failure to answer after I/O (the response already sent) to the error handler', async () => {
    const unhandled: unknown[] = []
    const record = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', record)
    try {
      afterSent.length = 0
      // a fresh app: its first /login waits for discovery, so it answers after /early did
      const fresh = await startStack(harnessOf(framework))
      try {
        const response = await fresh.browser().request(`${fresh.baseUrl}/login?early=1`)
        expect(response.status).toBe(200)
        expect(response.body).toBe('early')
        await expect.poll(() => afterSent.length).toBe(1)
        expect((afterSent[0] as { code?: string }).code).toBe('ERR_HTTP_HEADERS_SENT')
        expect(unhandled).toEqual([])
      } finally {
        await fresh.close()
      }
    } finally {
      process.off('unhandledRejection', record)
    }
  })

  it("req.auth.fetch calls an API with the session's bearer token, which the API verifies", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/call/me`)
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ status: 200, body: { sub: 'alice' } })
    expect(resource?.tokens.at(-1)).toMatch(/^Bearer \S+$/)
  })

  it('req.auth.fetch refreshes the token and tries once more after a 401 invalid_token', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const tokens = stack.provider.counts('token')
    const before = resource?.tokens.length ?? 0
    const response = await browser.request(`${stack.baseUrl}/call/refuse-once-${version}`)
    expect(response.json()).toEqual({ status: 200, body: { sub: 'alice' } })
    const sent = resource?.tokens.slice(before) ?? []
    expect(sent).toHaveLength(2)
    expect(sent[0]).not.toBe(sent[1])
    expect(stack.provider.counts('token')).toBe(tokens + 1)
  })

  it('req.auth.fetch: an API that cannot be reached is a 502, one that hangs a 504', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const down = await browser.request(`${stack.baseUrl}/call/x?down=1`)
    expect(down.status).toBe(502)
    expect(down.json()).toMatchObject({ error: 'resource_unreachable' })
    const hung = await browser.request(`${stack.baseUrl}/call/hang?timeout=200`)
    expect(hung.status).toBe(504)
    expect(hung.json()).toMatchObject({ error: 'resource_timeout' })
  })

  it('req.auth.fetch: the token does not follow a redirect to another origin', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/call/away`)
    expect(response.json()).toEqual({ status: 200, body: { authorization: null } })
    expect(resource?.tokens.at(-2)).toMatch(/^Bearer /)
  })

  it('req.auth.fetch sends the token over https only (http on loopback)', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/call/x?plain=1`)
    expect(response.status).toBe(500)
    expect(response.json().caught).toContain("the session's token goes over https only")
  })

  it('req.auth.fetch when anonymous: 401, nothing sent', async () => {
    const before = resource?.tokens.length ?? 0
    const response = await stack.browser().request(`${stack.baseUrl}/call/me`)
    expect(response.status).toBe(401)
    expect(resource?.tokens.length).toBe(before)
  })

  it("an API's 401 invalid_token without a refresh token is answered as it is, the session kept", async () => {
    const bare = await startStack(harnessOf(framework), { auth: { scope: 'openid profile email' } })
    try {
      const browser = bare.browser()
      await signIn(browser, bare.baseUrl)
      const response = await browser.request(`${bare.baseUrl}/call/refuse-once-bare-${version}`)
      expect(response.status).toBe(500)
      expect(response.json().caught).toMatch(/JSON/)
      expect((await browser.request(`${bare.baseUrl}/me`)).status).toBe(200)
    } finally {
      await bare.close()
    }
  })

  it("passes what an async handler rejects with to the app's error handler", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/rejects`)
    expect(response.status).toBe(500)
    expect(response.json()).toEqual({ caught: 'rejected by the handler' })
  })
})
