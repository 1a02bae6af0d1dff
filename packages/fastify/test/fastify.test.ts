/**
 * What only Fastify needs: `request.auth`, codeflow's routes answered in an `onRequest` hook
 * (before body parsing, through the reply, seen by Fastify's hooks and logs), cookies that survive
 * Fastify's error handling and join the app's own, the error handler, and mistakes in mounting.
 * Every protocol scenario runs on the Fastify example through the shared suite in test/.
 */
import { Writable } from 'node:stream'
import {
  AuthError,
  type AuthOptions,
  createAuth,
  createMemoryStore,
  type SessionStore,
  UnauthenticatedError,
} from '@codeflow/core'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Harness } from '../../../test/harness/harness.js'
import { authorize, signIn, startLogin } from '../../../test/support/flow.js'
import { providerSid } from '../../../test/support/provider-logout.js'
import { CLIENT_ID, SECRET, type Stack, startStack } from '../../../test/support/stack.js'
import { mintSession } from '../../testing/src/index.js'
import {
  authErrorHandler,
  codeflow,
  login,
  logout,
  type RequestAuth,
  requireAuth,
} from '../src/index.js'

/** The parts of `request.auth` a test can compare. */
async function summarize(state: RequestAuth | null) {
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

/** Errors that reached Fastify's error handling, in order. */
const handled: Error[] = []
/** Fastify's log lines (pino's JSON). */
const logs: Record<string, unknown>[] = []
/** What an `onResponse` hook saw: method, URL and status. */
const responses: string[] = []

const logStream = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line))
    done()
  },
})

/**
 * A Fastify app with the plugin and the app's own routes; with `errors: 'codeflow'`, codeflow's
 * error handler, else Fastify's own.
 */
function bareApp(
  options: AuthOptions,
  errors: 'fastify' | 'codeflow' = 'fastify',
): FastifyInstance {
  const app = Fastify({ logger: { level: 'info', stream: logStream } })
  app.addHook('onError', (_request, _reply, error, done) => {
    handled.push(error)
    done()
  })
  // an async onSend hook that waits for I/O (as compression plugins do): the reply ends later
  app.addHook('onSend', async (_request, _reply, payload) => {
    await new Promise((resolve) => setImmediate(resolve))
    return payload
  })
  app.addHook('onResponse', (request, reply, done) => {
    responses.push(`${request.method} ${request.url} ${reply.statusCode}`)
    done()
  })
  app.register(codeflow, options)
  if (errors === 'codeflow') app.setErrorHandler(authErrorHandler())
  // the app's own form parser: codeflow's routes answer before it runs
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  )
  app.get('/state', async (request) => summarize(request.auth))
  app.get('/signup', (request, reply) =>
    login(request, reply, { returnTo: '/state', authorizationParams: { prompt: 'login' } }),
  )
  app.post('/signout', (request, reply) => logout(request, reply, { returnTo: '/bye' }))
  app.get('/profile', { preHandler: requireAuth() }, (request) => ({ sub: request.auth.user?.sub }))
  // typed as signed in: no `!` or `?.`
  app.get(
    '/handler',
    requireAuth((request) => ({
      signedIn: request.auth.isAuthenticated,
      sub: request.auth.user.sub,
    })),
  )
  app.get('/refresh-then-fail', async (request) => {
    await request.auth.accessToken({ forceRefresh: true })
    throw new Error('the app failed after a token refresh')
  })
  app.get('/refresh-and-cookie', async (request, reply) => {
    await request.auth.accessToken({ forceRefresh: true })
    return reply.header('set-cookie', 'app=1; Path=/').send({ ok: true })
  })
  // a sibling plugin, encapsulated as usual: it sees the decoration all the same
  app.register(async (child) => {
    child.get('/child', async (request) => ({ isAuthenticated: request.auth.isAuthenticated }))
  })
  return app
}

function harnessOf(make: (options: AuthOptions) => FastifyInstance): Harness {
  return {
    name: 'fastify-bare',
    async start({ port, auth: options }) {
      const app = make(options)
      await app.listen({ port, host: '127.0.0.1' })
      return { close: () => app.close() }
    },
  }
}

describe('@codeflow/fastify with Fastify’s own error handling', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harnessOf((options) => bareApp(options)))
  })
  afterAll(() => stack.close())

  it('sets request.auth for an anonymous request', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/state`)
    expect(response.json()).toEqual({
      keys: ['accessToken', 'fetch', 'isAuthenticated', 'session', 'user', 'userinfo'],
      isAuthenticated: false,
      hasIdToken: false,
      token: { error: 401 },
    })
  })

  it('sets request.auth for a signed-in request, in a sibling plugin’s routes too', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    expect((await browser.request(`${stack.baseUrl}/state`)).json()).toEqual({
      keys: ['accessToken', 'fetch', 'isAuthenticated', 'session', 'user', 'userinfo'],
      isAuthenticated: true,
      sub: 'alice',
      hasIdToken: true,
      token: { type: 'bearer', hasToken: true },
    })
    expect((await browser.request(`${stack.baseUrl}/child`)).json()).toEqual({
      isAuthenticated: true,
    })
  })

  it('answers through the reply: Fastify’s hooks and log see the status, once', async () => {
    responses.length = 0
    logs.length = 0
    const response = await stack.browser().navigate(`${stack.baseUrl}/login`)
    expect(response.status).toBe(302)
    expect(responses).toEqual(['GET /login 302'])
    const completed = logs.filter((line) => line.msg === 'request completed')
    expect(completed).toHaveLength(1)
    expect(completed[0]).toMatchObject({ res: { statusCode: 302 } })
    expect(logs.filter((line) => Number(line.level) >= 40)).toEqual([])
  })

  it('sends login() once from a handler, also with an async onSend hook', async () => {
    responses.length = 0
    logs.length = 0
    const response = await stack.browser().navigate(`${stack.baseUrl}/signup`)
    expect(response.status).toBe(302)
    expect(responses).toEqual(['GET /signup 302'])
    expect(logs.filter((line) => Number(line.level) >= 40)).toEqual([])
  })

  it('answers HEAD on its routes without a body; unknown routes are Fastify’s 404', async () => {
    const browser = stack.browser()
    const head = await browser.request(`${stack.baseUrl}/login`, { method: 'HEAD' })
    const get = await browser.request(`${stack.baseUrl}/login`)
    expect(head.status).toBe(get.status)
    expect(head.body).toBe('')
    const missing = await browser.request(`${stack.baseUrl}/nowhere`)
    expect(missing.status).toBe(404)
    expect(missing.json()).toMatchObject({ statusCode: 404 })
  })

  it('serves a form POST without a form parser of Fastify’s (no 415)', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const sid = await providerSid(stack.provider, browser, CLIENT_ID)
    const token = await stack.provider.signLogoutToken({ sid })
    const response = await stack
      .browser()
      .postForm(`${stack.baseUrl}/backchannel-logout`, { logout_token: token })
    expect(response.status).toBe(200)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().isAuthenticated).toBe(false)
  })

  it('starts a login and logs out from the app’s own handlers, with their options', async () => {
    const browser = stack.browser()
    const start = await browser.navigate(`${stack.baseUrl}/signup`)
    expect(start.status).toBe(302)
    expect(start.location?.searchParams.get('prompt')).toBe('login')
    const callback = await authorize(browser, start)
    const back = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(back.location?.href).toBe(`${stack.baseUrl}/state`)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().sub).toBe('alice')
    // the app's parser read this body: logout() takes the parsed form
    const out = await browser.postForm(`${stack.baseUrl}/signout`, {}, { origin: stack.baseUrl })
    expect(out.status).toBe(303)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().isAuthenticated).toBe(false)
  })

  it('requireAuth() as a preHandler: 401 JSON for an anonymous API call', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/profile`)
    expect(response.status).toBe(401)
    expect(response.header('www-authenticate')).toContain('login_url=')
  })

  it('requireAuth(handler): the handler sees the signed-in request.auth, anonymous are refused', async () => {
    const anonymous = await stack.browser().request(`${stack.baseUrl}/handler`)
    expect(anonymous.status).toBe(401)
    expect(anonymous.json()).toMatchObject({ error: 'unauthenticated' })
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/handler`)
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ signedIn: true, sub: 'alice' })
  })

  it("keeps the core's Set-Cookie through Fastify's error handler (a used transaction)", async () => {
    const browser = stack.browser()
    const url = await authorize(browser, await startLogin(browser, stack.baseUrl))
    const state = url.searchParams.get('state') as string
    url.searchParams.set('code', 'forged-code-value')
    handled.length = 0
    const response = await browser.navigate(url, { 'sec-fetch-site': 'cross-site' })
    // Fastify's own rendering: the error's status, as JSON, no stack
    expect(response.status).toBe(400)
    expect(response.header('content-type')).toMatch(/^application\/json/)
    expect(response.body).not.toMatch(/\bat .*\.js/)
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.setCookies).toHaveLength(1)
    expect(response.setCookies[0]).toMatch(new RegExp(`^codeflow_tx\\.${state}=;.*Max-Age=0`))
    expect(handled).toHaveLength(1)
    expect(handled[0]).toBeInstanceOf(AuthError)
  })

  it("keeps a refreshed session's Set-Cookie when the app fails afterwards", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const before = browser.cookie(stack.baseUrl, 'codeflow')?.value
    const response = await browser.request(`${stack.baseUrl}/refresh-then-fail`)
    expect(response.status).toBe(500)
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.setCookies.filter((c) => c.startsWith('codeflow='))).toHaveLength(1)
    expect(browser.cookie(stack.baseUrl, 'codeflow')?.value).not.toBe(before)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().isAuthenticated).toBe(true)
  })

  it("joins the app's own Set-Cookie (reply.header) to a refreshed session's", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/refresh-and-cookie`)
    expect(response.status).toBe(200)
    expect(response.setCookies.filter((c) => c.startsWith('codeflow='))).toHaveLength(1)
    expect(response.setCookies).toContain('app=1; Path=/')
  })
})

describe('@codeflow/fastify with authErrorHandler()', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harnessOf((options) => bareApp(options, 'codeflow')))
  })
  afterAll(() => stack.close())

  async function forged(headers: Record<string, string>) {
    const browser = stack.browser()
    const url = await authorize(browser, await startLogin(browser, stack.baseUrl))
    url.searchParams.set('code', 'forged-code-value')
    return browser.request(url.href, { headers: { 'sec-fetch-site': 'cross-site', ...headers } })
  }

  it('renders a page navigation’s error as codeflow’s HTML page, with its cookies', async () => {
    const response = await forged({ accept: 'text/html', 'sec-fetch-mode': 'navigate' })
    expect(response.status).toBe(400)
    expect(response.header('content-type')).toMatch(/^text\/html/)
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.setCookies.some((c) => c.startsWith('codeflow_tx.'))).toBe(true)
  })

  it('renders an API call’s error as JSON', async () => {
    const response = await forged({ accept: 'application/json' })
    expect(response.status).toBe(400)
    expect(response.json()).toMatchObject({ error: expect.any(String) })
  })

  it('renders the app’s other 500s as codeflow’s generic error, its message kept back', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/refresh-then-fail`)
    expect(response.status).toBe(500)
    // Fastify's own handler would show the message ("the app failed after a token refresh")
    expect(response.json()).toMatchObject({ error: 'internal_error' })
    expect(response.body).not.toMatch(/the app failed/)
    expect(response.setCookies.filter((c) => c.startsWith('codeflow='))).toHaveLength(1)
  })
})

describe('@codeflow/fastify mounting', () => {
  const options = {
    issuer: 'https://op.example',
    clientId: 'x',
    baseUrl: 'http://localhost:3000',
    secret: SECRET,
  }

  it('fails ready() with the option named when an option is bad', async () => {
    const app = Fastify()
    app.register(codeflow, { ...options, secret: 'short' })
    await expect(app.ready()).rejects.toThrow(/"secret"/)
  })

  it('answers a provider that is down with 503 and Retry-After, through Fastify’s own handler', async () => {
    const app = Fastify()
    // nothing listens on port 9 of the loopback: the discovery fails at once
    app.register(codeflow, {
      ...options,
      issuer: 'http://127.0.0.1:9',
      allowInsecureRequests: true,
      logger: false,
    })
    const response = await app.inject('/login')
    expect(response.statusCode).toBe(503)
    expect(response.headers['retry-after']).toBeDefined()
    expect(response.json()).toMatchObject({ statusCode: 503 })
    expect(response.body).not.toMatch(/\bat .*\.js/)
    await app.close()
  })

  it('takes an existing Auth as it is', async () => {
    const auth = createAuth(options)
    const app = Fastify()
    app.register(codeflow, auth)
    app.get('/', async (request) => ({ isAuthenticated: request.auth.isAuthenticated }))
    const response = await app.inject('/')
    expect(response.json()).toEqual({ isAuthenticated: false })
    await app.close()
  })

  it('can be registered twice (two apps on one server) without a decorator clash', async () => {
    const app = Fastify()
    app.register(codeflow, options)
    // its own paths: Fastify knows codeflow's routes, and two instances at one path clash (below)
    app.register(codeflow, {
      ...options,
      routes: {
        login: '/other/login',
        callback: '/other/callback',
        logout: '/other/logout',
        backchannelLogout: '/other/backchannel-logout',
        frontchannelLogout: '/other/frontchannel-logout',
      },
    })
    app.get('/', async (request) => ({ isAuthenticated: request.auth.isAuthenticated }))
    await expect(app.ready()).resolves.toBeDefined()
    expect((await app.inject('/')).json()).toEqual({ isAuthenticated: false })
    await app.close()
  })

  it('fails clearly when requireAuth() runs without the plugin', async () => {
    const errors: Error[] = []
    const app = Fastify()
    app.setErrorHandler((error, _request, reply) => {
      errors.push(error as Error)
      return reply.code(500).send('failed')
    })
    app.get('/hook', { preHandler: requireAuth() }, async () => 'never')
    app.get(
      '/handler',
      requireAuth(async () => 'never'),
    )
    expect((await app.inject('/hook')).statusCode).toBe(500)
    expect((await app.inject('/handler')).statusCode).toBe(500)
    expect(errors.map((error) => error.message)).toEqual([
      'requireAuth() needs the codeflow plugin registered on this instance',
      'requireAuth() needs the codeflow plugin registered on this instance',
    ])
    await app.close()
  })

  /** An app whose sessions live in a memory store: every session read awaits the store. */
  function storedApp(store: SessionStore = createMemoryStore()) {
    const auth = createAuth({ ...options, session: { store } })
    const app = Fastify()
    app.register(codeflow, auth)
    return { auth, app }
  }

  it('lets requireAuth(handler) send later through the reply after an awaited session read', async () => {
    const { auth, app } = storedApp()
    app.get(
      '/later',
      requireAuth((request, reply) => {
        // returns nothing, sends later: the reply stands for the answer
        setImmediate(() => reply.send({ sub: request.auth.user.sub }))
      }),
    )
    const { cookie } = await mintSession(auth, { user: { sub: 'later-user' } })
    const response = await app.inject({ url: '/later', headers: { cookie } })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ sub: 'later-user' })
    await app.close()
  })

  it('never lets a request through a guard whose step fails without an error', async () => {
    // a store that rejects with nothing: Fastify would take next(undefined) for "go on"
    const failing: SessionStore = {
      get: () => Promise.reject(undefined),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    }
    const minting = createAuth({ ...options, session: { store: createMemoryStore() } })
    const { cookie } = await mintSession(minting, { user: { sub: 'u' } })
    const { app } = storedApp(failing)
    let ran = false
    app.get('/hook', { preHandler: requireAuth() }, async () => {
      ran = true
      return 'protected'
    })
    app.get(
      '/handler',
      requireAuth(async () => {
        ran = true
        return 'protected'
      }),
    )
    expect((await app.inject({ url: '/hook', headers: { cookie } })).statusCode).toBe(500)
    expect((await app.inject({ url: '/handler', headers: { cookie } })).statusCode).toBe(500)
    expect(ran).toBe(false)
    await app.close()
  })

  it('serves its routes from a plugin with a prefix, as routes Fastify knows', async () => {
    const app = Fastify()
    const seen: { url?: string; is404: boolean }[] = []
    app.register(
      async (api) => {
        api.register(codeflow, {
          ...options,
          baseUrl: 'http://localhost:3000/app',
          issuer: 'http://127.0.0.1:9',
          allowInsecureRequests: true,
          logger: false,
        })
        api.addHook('onResponse', (request, _reply, done) => {
          seen.push({ url: request.routeOptions.url, is404: request.is404 })
          done()
        })
        api.get('/me', async (request) => ({ isAuthenticated: request.auth.isAuthenticated }))
      },
      { prefix: '/app' },
    )
    // the provider is down: the login route answers, with 503
    expect((await app.inject('/app/login')).statusCode).toBe(503)
    expect((await app.inject('/app/me')).json()).toEqual({ isAuthenticated: false })
    expect(seen).toEqual([
      { url: '/app/login', is404: false },
      { url: '/app/me', is404: false },
    ])
    await app.close()
  })

  it('refuses routes outside the prefix it is registered under, and Fastify’s prefix option', async () => {
    const inside = Fastify()
    inside.register(async (api) => api.register(codeflow, options), { prefix: '/app' })
    await expect(inside.ready()).rejects.toThrow(/route \/login is outside the prefix \/app/)
    const prefixed = Fastify()
    prefixed.register(codeflow, { ...options, prefix: '/auth' } as AuthOptions)
    await expect(prefixed.ready()).rejects.toThrow(/"prefix" register option/)
  })

  it('refuses a second instance at the same paths at start-up', async () => {
    const app = Fastify()
    app.register(codeflow, options)
    app.register(codeflow, options)
    await expect(app.ready()).rejects.toThrow(/\/login/)
  })

  it('sets request.auth, anonymous, for the hooks after one of its own answers', async () => {
    const app = Fastify()
    app.register(codeflow, options)
    const seen: boolean[] = []
    app.addHook('onSend', async (request, _reply, payload) => {
      seen.push(request.auth.isAuthenticated)
      return payload
    })
    // the logout confirmation page (no session): codeflow's own answer
    expect((await app.inject('/logout')).statusCode).toBe(200)
    expect(seen).toEqual([false])
    await app.close()
  })

  it('keeps no-store with its cookies and Vary: Cookie, whatever the route set after it', async () => {
    const { auth, app } = storedApp()
    app.get('/cached', (request, reply) => {
      reply.header('cache-control', 'public, max-age=3600').header('vary', 'Accept-Encoding')
      return { sub: request.auth.user?.sub }
    })
    // a session due for its rolling touch: this answer carries a new cookie
    const hours = 2 * 3600
    const { cookie } = await mintSession(auth, {
      user: { sub: 'touched' },
      createdAt: Math.floor(Date.now() / 1000) - hours,
      updatedAt: Math.floor(Date.now() / 1000) - hours,
    })
    const response = await app.inject({ url: '/cached', headers: { cookie } })
    expect(response.json()).toEqual({ sub: 'touched' })
    expect(response.headers['set-cookie']).toBeDefined()
    expect(response.headers['cache-control']).toBe('no-store')
    expect(response.headers.vary).toBe('Accept-Encoding, Cookie')
    await app.close()
  })

  it('renders an app’s 500 without its message, and leaves a client’s fault to Fastify', async () => {
    const app = Fastify()
    app.register(codeflow, { ...options, logger: false })
    app.setErrorHandler(authErrorHandler())
    app.get('/fails', async () => {
      throw new Error('connect ECONNREFUSED 10.0.3.7:6379 (a secret detail)')
    })
    app.post(
      '/validated',
      { schema: { body: { type: 'object', required: ['name'] } } },
      async () => 'ok',
    )
    const failed = await app.inject({ url: '/fails', headers: { accept: 'application/json' } })
    expect(failed.statusCode).toBe(500)
    expect(failed.body).not.toMatch(/secret detail|ECONNREFUSED/)
    const invalid = await app.inject({ method: 'POST', url: '/validated', payload: {} })
    expect(invalid.statusCode).toBe(400)
    expect(invalid.json()).toMatchObject({ code: 'FST_ERR_VALIDATION' })
    await app.close()
  })

  it('has the metadata of a non-encapsulated plugin', () => {
    const meta = codeflow as unknown as Record<symbol, unknown>
    expect(meta[Symbol.for('skip-override')]).toBe(true)
    expect(meta[Symbol.for('fastify.display-name')]).toBe('@codeflow/fastify')
  })
})
