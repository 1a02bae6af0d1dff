/**
 * What only Hono needs: cookies on `c.res` whatever built it (a handler, `onError`, a Response
 * with immutable headers), `c.var.auth`, codeflow's errors with and without `authErrorHandler`,
 * the configured origin rather than `Host`, and requests driven without a server. Every protocol
 * scenario runs on the Hono example through the shared suite in test/.
 */
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import {
  AuthError,
  type AuthOptions,
  MissingTransactionError,
  UnauthenticatedError,
} from '@codeflow/core'
import { MAX_FORM_BYTES } from '@codeflow/core/adapter'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Harness } from '../../../test/harness/harness.js'
import { honoServer } from '../../../test/harness/hono.js'
import { authorize, signIn, startLogin } from '../../../test/support/flow.js'
import { type Stack, startStack } from '../../../test/support/stack.js'
import {
  type AuthEnv,
  auth,
  authErrorHandler,
  login,
  logout,
  type RequestAuth,
  requireAuth,
} from '../src/index.js'

/** The parts of `c.var.auth` a test can compare. */
async function summarize(state: RequestAuth | undefined) {
  if (!state) return { mounted: false }
  const token = await state.accessToken().then(
    (value) => ({ type: value.type, hasToken: value.token.length > 0 }),
    (error: unknown) => ({ error: error instanceof UnauthenticatedError ? error.status : 'other' }),
  )
  return {
    keys: Object.keys(state).sort(),
    isAuthenticated: state.isAuthenticated,
    sub: state.user?.sub,
    hasIdToken: typeof state.session?.idToken === 'string',
    token,
  }
}

/** Errors that reached the fallback of `authErrorHandler`, in order. */
const fallenBack: Error[] = []

/** A Hono app with only Hono's own error handling, unless `withHandler`. */
function bareApp(options: AuthOptions, withHandler = false): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>()
  app.get('/unmounted', requireAuth(), (c) => c.text('never'))
  const middleware = auth(options)
  app.use(middleware)
  // a sub-app mounting the same middleware: one request runs it twice
  const sub = new Hono<AuthEnv>()
  sub.use(middleware)
  sub.get('/refresh', async (c) => {
    await c.var.auth.accessToken({ forceRefresh: true })
    return c.json({ sub: c.var.auth.user?.sub })
  })
  app.route('/twice', sub)
  app.get('/state', async (c) => c.json(await summarize(c.var.auth)))
  app.get('/signup', (c) =>
    login(c, { returnTo: '/state', authorizationParams: { prompt: 'login' } }),
  )
  app.post('/signout', (c) => logout(c, { returnTo: '/bye' }))
  app.get('/handler', requireAuth({ unauthenticated: 'json' }), (c) =>
    // typed as signed in: no `!` or `?.`
    c.json({ signedIn: c.var.auth.isAuthenticated, sub: c.var.auth.user.sub }),
  )
  app.get('/page', requireAuth(), (c) => c.text(c.var.auth.user.sub))
  app.get('/refresh-then-fail', async (c) => {
    await c.var.auth.accessToken({ forceRefresh: true })
    throw new Error('the app failed after a token refresh')
  })
  app.get('/refresh-then-redirect', async (c) => {
    await c.var.auth.accessToken({ forceRefresh: true })
    // Response.redirect's headers are immutable
    return Response.redirect(new URL('/state', c.req.url), 302)
  })
  if (withHandler) {
    app.onError(
      authErrorHandler((error, c) => {
        fallenBack.push(error)
        return c.text('the app’s own error page', 500)
      }),
    )
  }
  return app
}

function harnessOf(make: (options: AuthOptions) => Hono<AuthEnv>): Harness {
  return {
    name: 'hono-bare',
    async start({ port, auth: options }) {
      const server = honoServer(make(options).fetch).listen(port, '127.0.0.1')
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

/** A forged code at the callback: the used transaction's cookie goes with the error. */
async function forgedCallback(stack: Stack) {
  const browser = stack.browser()
  const url = await authorize(browser, await startLogin(browser, stack.baseUrl))
  const state = url.searchParams.get('state') as string
  url.searchParams.set('code', 'forged-code-value')
  const response = await browser.navigate(url, { 'sec-fetch-site': 'cross-site' })
  expect(response.status).toBe(400)
  expect(response.header('cache-control')).toBe('no-store')
  expect(response.setCookies).toHaveLength(1)
  expect(response.setCookies[0]).toMatch(new RegExp(`^codeflow_tx\\.${state}=;.*Max-Age=0`))
  expect(browser.cookies.some((c) => c.name.startsWith('codeflow_tx.'))).toBe(false)
  return response
}

describe('@codeflow/hono with Hono’s own error handling', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harnessOf((options) => bareApp(options)))
  })
  afterAll(() => stack.close())

  it('sets c.var.auth for an anonymous request', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/state`)
    expect(response.json()).toEqual({
      keys: ['accessToken', 'fetch', 'isAuthenticated', 'session', 'user', 'userinfo'],
      isAuthenticated: false,
      hasIdToken: false,
      token: { error: 401 },
    })
  })

  it('sets c.var.auth for a signed-in request, with Vary: Cookie', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/state`)
    expect(response.json()).toEqual({
      keys: ['accessToken', 'fetch', 'isAuthenticated', 'session', 'user', 'userinfo'],
      isAuthenticated: true,
      sub: 'alice',
      hasIdToken: true,
      token: { type: 'bearer', hasToken: true },
    })
    expect(response.header('vary')).toMatch(/\bCookie\b/)
  })

  it('starts a login and logs out from the app’s own handlers, with their options', async () => {
    const browser = stack.browser()
    const start = await browser.navigate(`${stack.baseUrl}/signup`)
    expect(start.status).toBe(302)
    expect(start.location?.searchParams.get('prompt')).toBe('login')
    expect(start.setCookies.some((c) => c.startsWith('codeflow_tx.'))).toBe(true)
    const callback = await authorize(browser, start)
    const back = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(back.location?.href).toBe(`${stack.baseUrl}/state`)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().sub).toBe('alice')
    const out = await browser.postForm(`${stack.baseUrl}/signout`, {}, { origin: stack.baseUrl })
    expect(out.status).toBe(303)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().isAuthenticated).toBe(false)
  })

  it('requireAuth(): 401 JSON for an anonymous API call, login for a page', async () => {
    const api = await stack.browser().request(`${stack.baseUrl}/handler`)
    expect(api.status).toBe(401)
    expect(api.json()).toMatchObject({ error: 'unauthenticated' })
    expect(api.header('www-authenticate')).toBeDefined()
    const page = await stack.browser().navigate(`${stack.baseUrl}/page`)
    expect(page.status).toBe(302)
    expect(page.location?.href).toBe(`${stack.baseUrl}/login?returnTo=%2Fpage`)
  })

  it('requireAuth(): the handlers after it see the signed-in c.var.auth', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/handler`)
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ signedIn: true, sub: 'alice' })
  })

  it('renders an error of its own routes with its status, not a 500, and its cookies', async () => {
    // Hono's default handler renders what getResponse() gives: codeflow's page
    const page = await forgedCallback(stack)
    expect(page.header('content-type')).toMatch(/^text\/html/)
    expect(page.body).not.toMatch(/at .*\.js/)
  })

  it('leaves errors of requests that set no cookie without cookies', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/callback?state=x&code=y`)
    expect(response.status).toBe(400)
    expect(response.header('content-type')).toMatch(/^application\/json/)
    expect(response.setCookies).toEqual([])
  })

  it('keeps a refreshed session’s Set-Cookie when the app fails afterwards', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const before = browser.cookie(stack.baseUrl, 'codeflow')?.value
    const response = await browser.request(`${stack.baseUrl}/refresh-then-fail`)
    // Hono's default rendering of an error that is not codeflow's
    expect(response.status).toBe(500)
    expect(response.body).toBe('Internal Server Error')
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.setCookies.filter((c) => c.startsWith('codeflow='))).toHaveLength(1)
    expect(browser.cookie(stack.baseUrl, 'codeflow')?.value).not.toBe(before)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().isAuthenticated).toBe(true)
  })

  it('writes the cookies once when the same auth() runs twice on a request (a sub-app)', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/twice/refresh`)
    expect(response.json()).toEqual({ sub: 'alice' })
    expect(response.setCookies.filter((c) => c.startsWith('codeflow='))).toHaveLength(1)
  })

  it('puts the cookies on a response whose headers are immutable (Response.redirect)', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const before = browser.cookie(stack.baseUrl, 'codeflow')?.value
    const response = await browser.navigate(`${stack.baseUrl}/refresh-then-redirect`)
    expect(response.status).toBe(302)
    expect(response.location?.pathname).toBe('/state')
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.setCookies.filter((c) => c.startsWith('codeflow='))).toHaveLength(1)
    expect(browser.cookie(stack.baseUrl, 'codeflow')?.value).not.toBe(before)
  })
})

describe('@codeflow/hono with authErrorHandler', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harnessOf((options) => bareApp(options, true)))
  })
  afterAll(() => stack.close())

  it('renders codeflow’s errors with their status and cookies, never a stack trace', async () => {
    fallenBack.length = 0
    const page = await forgedCallback(stack)
    expect(page.header('content-type')).toMatch(/^text\/html/)
    expect(page.body).not.toMatch(/at .*\.js|Error:/)
    const api = await stack.browser().request(`${stack.baseUrl}/callback?state=x&code=y`)
    expect(api.status).toBe(400)
    expect(api.header('content-type')).toMatch(/^application\/json/)
    expect(api.json()).toMatchObject({ error: expect.any(String) })
    expect(fallenBack).toEqual([])
  })

  it('renders an error thrown in a handler (accessToken() anonymous) as codeflow’s', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/refresh-then-fail`)
    expect(response.status).toBe(401)
    expect(response.json()).toMatchObject({ error: 'unauthenticated' })
    expect(fallenBack).toEqual([])
  })

  it('hands other errors to the app’s handler, with the cookies still written', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    fallenBack.length = 0
    const response = await browser.request(`${stack.baseUrl}/refresh-then-fail`)
    expect(response.status).toBe(500)
    expect(response.body).toBe('the app’s own error page')
    expect(response.setCookies.filter((c) => c.startsWith('codeflow='))).toHaveLength(1)
    expect(fallenBack.map((error) => error.message)).toEqual([
      'the app failed after a token refresh',
    ])
  })

  it('reports a guard mounted before auth() as the app’s error', async () => {
    fallenBack.length = 0
    const response = await stack.browser().request(`${stack.baseUrl}/unmounted`)
    expect(response.status).toBe(500)
    expect(fallenBack.map((error) => error.message)).toEqual([
      'requireAuth() needs auth() mounted before it',
    ])
  })
})

describe('@codeflow/hono without a server (app.request, as on a Web runtime)', () => {
  let stack: Stack
  let app: Hono<AuthEnv>
  beforeAll(async () => {
    stack = await startStack(harnessOf((options) => bareApp(options)))
    app = bareApp(stack.options, true)
  })
  afterAll(() => stack.close())

  it('builds URLs on the configured base URL, whatever the Host of the request', async () => {
    const page = await app.request('http://attacker.example/page', {
      headers: { accept: 'text/html' },
    })
    expect(page.status).toBe(302)
    expect(page.headers.get('location')).toBe(`${stack.baseUrl}/login?returnTo=%2Fpage`)
    const start = await app.request('http://attacker.example/login')
    expect(start.status).toBe(302)
    const location = new URL(start.headers.get('location') as string)
    expect(location.origin).toBe(stack.provider.issuer)
    expect(location.searchParams.get('redirect_uri')).toBe(`${stack.baseUrl}/callback`)
    expect(start.headers.getSetCookie().some((c) => c.startsWith('codeflow_tx.'))).toBe(true)
  })

  /** An endless chunked body (no Content-Length), and how many chunks were read of it. */
  function endless() {
    const read = { chunks: 0 }
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        read.chunks++
        controller.enqueue(new TextEncoder().encode('x'.repeat(1024)))
      },
    })
    return { body, read }
  }

  it('refuses a chunked form body past the limit without reading it whole', async () => {
    const logout = endless()
    const refused = await app.request('/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.baseUrl },
      body: logout.body,
      duplex: 'half',
    } as RequestInit)
    expect(refused.status).toBe(413)
    expect(logout.read.chunks).toBeLessThan(MAX_FORM_BYTES / 1024 + 4)
    // BCL 1.0 §2.8: an unreadable back-channel request is a 400
    const backchannel = endless()
    const unreadable = await app.request('/backchannel-logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: backchannel.body,
      duplex: 'half',
    } as RequestInit)
    expect(unreadable.status).toBe(400)
    expect(backchannel.read.chunks).toBeLessThan(MAX_FORM_BYTES / 1024 + 4)
  })

  it('gives an error thrown by auth() the codeflow class it had', async () => {
    const errors: unknown[] = []
    const spy = new Hono<AuthEnv>()
    spy.use(auth(stack.options))
    spy.onError((error, c) => {
      errors.push(error)
      return c.text('seen', 500)
    })
    await spy.request('/callback?state=x&code=y')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(MissingTransactionError)
    expect(errors[0]).toBeInstanceOf(AuthError)
    expect(errors[0]).toMatchObject({ status: 400 })
  })

  it('imports nothing from node:* (it runs on Web runtimes)', async () => {
    const source = await readFile(new URL('../src/index.ts', import.meta.url), 'utf8')
    expect(source).not.toMatch(/from ['"]node:|require\(/)
  })
})

describe('@codeflow/hono without a server (app.request)', () => {
  const options = {
    issuer: 'http://127.0.0.1:9',
    allowInsecureRequests: true,
    clientId: 'x',
    baseUrl: 'http://localhost:3000',
    secret: 'a-secret-of-at-least-thirty-two-characters',
    logger: false as const,
  }
  const form = (body: string): RequestInit => ({
    method: 'POST',
    headers: {
      origin: 'http://localhost:3000',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
  })

  it('reads the form of logout(c) after the app parsed the body (c.req.parseBody())', async () => {
    const app = new Hono<AuthEnv>()
    app.use(auth(options))
    app.post('/signout', async (c) => {
      expect(await c.req.parseBody()).toEqual({ returnTo: '/bye' })
      return logout(c)
    })
    app.post('/signout-text', async (c) => {
      expect(await c.req.text()).toBe('returnTo=%2Fbye')
      return logout(c)
    })
    for (const path of ['/signout', '/signout-text']) {
      const response = await app.request(path, form('returnTo=%2Fbye'))
      expect(response.status).toBe(303)
      expect(response.headers.get('location')).toBe('http://localhost:3000/bye')
    }
  })

  it('keeps the headers the app set when Hono’s own handling renders an HTTPException', async () => {
    const app = new Hono<AuthEnv>()
    app.use(async (c, next) => {
      c.header('X-Request-Id', 'request-1')
      await next()
    })
    app.use(auth(options))
    app.get('/teapot', () => {
      throw new HTTPException(418, { message: 'short and stout' })
    })
    app.onError(authErrorHandler())
    const response = await app.request('/teapot')
    expect(response.status).toBe(418)
    expect(response.headers.get('x-request-id')).toBe('request-1')
  })
})
