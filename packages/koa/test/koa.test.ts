/**
 * What only Koa needs: cookies that survive Koa's default error handling, `ctx.state.auth`, the
 * request target when a sub-app rewrote the URL, and mistakes in mounting. Every protocol
 * scenario runs on the Koa example through the shared suite in test/.
 */
import { once } from 'node:events'
import {
  AuthError,
  type AuthOptions,
  MissingTransactionError,
  UnauthenticatedError,
} from '@codeflow/core'
import { homeUrl } from '@codeflow/core/adapter'
import Koa, { type Middleware } from 'koa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Harness } from '../../../test/harness/harness.js'
import { Browser } from '../../../test/support/browser.js'
import { authorize, signIn, startLogin } from '../../../test/support/flow.js'
import { providerSid } from '../../../test/support/provider-logout.js'
import { CLIENT_ID, freePort, type Stack, startStack } from '../../../test/support/stack.js'
import {
  auth,
  authErrorHandler,
  login,
  logout,
  type RequestAuth,
  requireAuth,
} from '../src/index.js'

/** Errors that reached Koa's default error handling, in order. */
const unhandled: Error[] = []

/** The parts of `ctx.state.auth` a test can compare. */
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
    sessionSub: state.session?.sub,
    hasIdToken: typeof state.session?.idToken === 'string',
    token,
  }
}

/** The app's own routes, after `auth()`. */
const routes: Middleware = async (ctx) => {
  switch (ctx.path) {
    case '/state':
      ctx.body = await summarize(ctx.state.auth)
      return
    case '/context':
      // whether codeflow gave this request's context an onerror of its own
      ctx.body = { ownOnerror: Object.hasOwn(ctx, 'onerror') }
      return
    case '/signup':
      await login(ctx, { returnTo: '/state', authorizationParams: { prompt: 'login' } })
      return
    case '/signout':
      await logout(ctx, { returnTo: '/bye' })
      return
    case '/refresh-then-fail':
      await ctx.state.auth?.accessToken({ forceRefresh: true })
      throw new Error('the app failed after a token refresh')
    default:
      ctx.status = 404
  }
}

/** A Koa app with only Koa's own error handling: no authErrorHandler, no catch-all. */
function bareApp(options: AuthOptions): Koa {
  const app = new Koa()
  app.silent = true
  app.on('error', (error: Error) => unhandled.push(error))
  // like koa-mount: a sub-app under /app sees req.url without the prefix
  app.use(async (ctx, next) => {
    if (ctx.path.startsWith('/app/')) ctx.path = ctx.path.slice('/app'.length)
    await next()
  })
  app.use(auth(options))
  app.use(async (ctx, next) => {
    if (ctx.path === '/profile') return requireAuth()(ctx, next)
    if (ctx.path === '/handler') {
      // typed as signed in: no `!` or `?.`
      return requireAuth((signedIn) => {
        signedIn.body = {
          signedIn: signedIn.state.auth.isAuthenticated,
          sub: signedIn.state.auth.user.sub,
        }
      })(ctx, next)
    }
    await next()
  })
  app.use(routes)
  return app
}

function harnessOf(make: (options: AuthOptions) => Koa): Harness {
  return {
    name: 'koa-bare',
    async start({ port, auth: options }) {
      const server = make(options).listen(port, '127.0.0.1')
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

describe('@codeflow/koa without authErrorHandler', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harnessOf(bareApp))
  })
  afterAll(() => stack.close())

  it('sets ctx.state.auth for an anonymous request', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/state`)
    expect(response.json()).toEqual({
      keys: ['accessToken', 'fetch', 'isAuthenticated', 'session', 'user', 'userinfo'],
      isAuthenticated: false,
      hasIdToken: false,
      token: { error: 401 },
    })
  })

  it('sets ctx.state.auth for a signed-in request', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/state`)
    expect(response.json()).toEqual({
      keys: ['accessToken', 'fetch', 'isAuthenticated', 'session', 'user', 'userinfo'],
      isAuthenticated: true,
      sub: 'alice',
      sessionSub: 'alice',
      hasIdToken: true,
      token: { type: 'bearer', hasToken: true },
    })
  })

  it('starts a login and logs out from the app’s own middleware, with their options', async () => {
    const browser = stack.browser()
    const start = await browser.navigate(`${stack.baseUrl}/signup`)
    expect(start.status).toBe(302)
    expect(start.location?.searchParams.get('prompt')).toBe('login')
    const callback = await authorize(browser, start)
    const back = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(back.location?.href).toBe(`${stack.baseUrl}/state`)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().sub).toBe('alice')
    const out = await browser.postForm(`${stack.baseUrl}/signout`, {}, { origin: stack.baseUrl })
    expect(out.status).toBe(303)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().isAuthenticated).toBe(false)
  })

  it('requireAuth(handler): 401 JSON for an anonymous API call, the handler not called', async () => {
    const response = await stack.browser().request(`${stack.baseUrl}/handler`)
    expect(response.status).toBe(401)
    expect(response.json()).toMatchObject({ error: 'unauthenticated' })
  })

  it('requireAuth(handler): the handler sees the signed-in ctx.state.auth', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.request(`${stack.baseUrl}/handler`)
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ signedIn: true, sub: 'alice' })
  })

  it("keeps the core's Set-Cookie through Koa's error handling (a used transaction)", async () => {
    const browser = stack.browser()
    const url = await authorize(browser, await startLogin(browser, stack.baseUrl))
    const state = url.searchParams.get('state') as string
    url.searchParams.set('code', 'forged-code-value')
    unhandled.length = 0
    const response = await browser.navigate(url, { 'sec-fetch-site': 'cross-site' })
    // Koa's own rendering: the status and exposed message of the error, as text
    expect(response.status).toBe(400)
    expect(response.header('content-type')).toMatch(/^text\/plain/)
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.setCookies).toHaveLength(1)
    expect(response.setCookies[0]).toMatch(new RegExp(`^codeflow_tx\\.${state}=;.*Max-Age=0`))
    expect(browser.cookies.some((c) => c.name.startsWith('codeflow_tx.'))).toBe(false)
    // the app's error listeners still see codeflow's error
    expect(unhandled).toHaveLength(1)
    expect(unhandled[0]).toBeInstanceOf(AuthError)
    expect(unhandled[0]).toMatchObject({ status: 400, expose: true })
  })

  it("keeps a refreshed session's Set-Cookie when the app fails afterwards", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const before = browser.cookie(stack.baseUrl, 'codeflow')?.value
    unhandled.length = 0
    const response = await browser.request(`${stack.baseUrl}/refresh-then-fail`)
    expect(response.status).toBe(500)
    expect(response.body).toBe('Internal Server Error')
    expect(response.header('cache-control')).toBe('no-store')
    expect(response.setCookies.filter((c) => c.startsWith('codeflow='))).toHaveLength(1)
    expect(browser.cookie(stack.baseUrl, 'codeflow')?.value).not.toBe(before)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().isAuthenticated).toBe(true)
    expect(unhandled.map((error) => error.message)).toEqual([
      'the app failed after a token refresh',
    ])
  })

  it("wraps Koa's onerror once for the app, never on each request's context", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    // a closure per context gave each its own hidden class (the heap grew several times over)
    expect((await browser.request(`${stack.baseUrl}/context`)).json()).toEqual({
      ownOnerror: false,
    })
    expect((await stack.browser().request(`${stack.baseUrl}/context`)).json()).toEqual({
      ownOnerror: false,
    })
  })

  it('leaves errors of requests that set no cookie as they are', async () => {
    unhandled.length = 0
    const response = await stack.browser().request(`${stack.baseUrl}/callback?state=x&code=y`)
    expect(response.status).toBe(400)
    expect(response.setCookies).toEqual([])
    expect(unhandled).toHaveLength(1)
    expect(Object.getPrototypeOf(unhandled[0])).toBe(MissingTransactionError.prototype)
  })

  it('routes and guards on ctx.originalUrl when a sub-app rewrote the URL', async () => {
    const mounted = await startStack(harnessOf(bareApp), {
      auth: { routes: { login: '/app/login', callback: '/app/callback', logout: '/app/logout' } },
    })
    try {
      const browser = mounted.browser()
      const profile = await browser.navigate(`${mounted.baseUrl}/app/profile?tab=1`)
      expect(profile.status).toBe(302)
      expect(profile.location?.pathname).toBe('/app/login')
      expect(profile.location?.searchParams.get('returnTo')).toBe('/app/profile?tab=1')
      const login = await browser.navigate(profile.location as URL)
      expect(login.status).toBe(302)
      expect(login.location?.origin).toBe(mounted.provider.issuer)
    } finally {
      await mounted.close()
    }
  })
})

/** A forged code at the callback: Koa renders the error; the used transaction's cookie goes. */
async function forgedCallback(stack: Stack) {
  const browser = stack.browser()
  const url = await authorize(browser, await startLogin(browser, stack.baseUrl))
  const state = url.searchParams.get('state') as string
  url.searchParams.set('code', 'forged-code-value')
  const response = await browser.navigate(url, { 'sec-fetch-site': 'cross-site' })
  expect(response.status).toBe(400)
  expect(response.setCookies).toHaveLength(1)
  expect(response.setCookies[0]).toMatch(new RegExp(`^codeflow_tx\\.${state}=;.*Max-Age=0`))
  return response
}

describe("@codeflow/koa with the app's own ctx.onerror", () => {
  const seen: string[] = []
  const koaOnerror = new Koa().context.onerror
  /** Koa's default rendering, after noting which handler rendered an error. */
  const handler = (name: string) =>
    function (this: Koa.Context, error: Error | null) {
      // Koa calls it with null as well when a response has finished
      if (error) seen.push(name)
      return koaOnerror.call(this, error as Error)
    }

  /** Runs a forged callback on the app `make` builds; `name` is the handler that must render it. */
  async function rendersWith(make: (options: AuthOptions) => Koa, name: string): Promise<void> {
    const stack = await startStack(harnessOf(make))
    try {
      seen.length = 0
      await forgedCallback(stack)
      expect(seen).toEqual([name])
    } finally {
      await stack.close()
    }
  }

  it('keeps the cookies through an onerror the app set on app.context', async () => {
    await rendersWith((options) => {
      const app = bareApp(options)
      app.context.onerror = handler('app.context')
      return app
    }, 'app.context')
  })

  it("keeps the cookies through an onerror the app set on a request's context", async () => {
    await rendersWith((options) => {
      const app = new Koa()
      app.silent = true
      app.use(async (ctx, next) => {
        ctx.onerror = handler('ctx')
        await next()
      })
      app.use(auth(options))
      app.use(routes)
      return app
    }, 'ctx')
  })
})

/** A Koa app whose body parser (as @koa/bodyparser does) reads forms before `auth()` runs. */
function parsedApp(options: AuthOptions): Koa {
  const app = new Koa()
  app.silent = true
  app.use(async (ctx, next) => {
    if (ctx.is('application/x-www-form-urlencoded')) {
      let text = ''
      for await (const chunk of ctx.req) text += chunk
      ;(ctx.request as { body?: unknown }).body = Object.fromEntries(new URLSearchParams(text))
    }
    await next()
  })
  app.use(auth(options))
  app.use(routes)
  return app
}

describe('@codeflow/koa behind a body parser', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack(harnessOf(parsedApp))
  })
  afterAll(() => stack.close())

  it('reads the back-channel logout form from ctx.request.body', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const sid = await providerSid(stack.provider, browser, CLIENT_ID)
    const token = await stack.provider.signLogoutToken({ sid })
    const response = await stack.browser().postForm(`${stack.baseUrl}/backchannel-logout`, {
      logout_token: token,
    })
    expect(response.status).toBe(200)
    expect((await browser.request(`${stack.baseUrl}/state`)).json().isAuthenticated).toBe(false)
  })

  it("reads a logout's returnTo from ctx.request.body", async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const response = await browser.postForm(
      `${stack.baseUrl}/logout`,
      { returnTo: '/state' },
      { origin: stack.baseUrl },
    )
    expect(response.status).toBe(303)
    expect(response.setCookies.some((c) => c.startsWith('codeflow_logout='))).toBe(true)
  })
})

describe('@codeflow/koa mounting', () => {
  async function serve(app: Koa): Promise<{ url: string; close(): Promise<void> }> {
    const port = await freePort()
    const server = app.listen(port, '127.0.0.1')
    await once(server, 'listening')
    return {
      url: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    }
  }

  it('fails clearly when requireAuth() runs without auth() before it', async () => {
    const app = new Koa()
    app.silent = true
    const errors: Error[] = []
    app.on('error', (error: Error) => errors.push(error))
    app.use(authErrorHandler())
    app.use(requireAuth())
    const server = await serve(app)
    try {
      const response = await new Browser().request(`${server.url}/`)
      expect(response.status).toBe(500)
      expect(errors.map((error) => error.message)).toEqual([
        'requireAuth() needs auth() mounted before it',
      ])
    } finally {
      await server.close()
    }
  })

  it('validates the options when auth() is called, naming the option', () => {
    expect(() =>
      auth({
        issuer: 'https://op.example',
        clientId: 'x',
        baseUrl: 'http://localhost',
        secret: 'short',
      }),
    ).toThrow(/"secret"/)
  })

  it('exposes the core configuration on the middleware', () => {
    const middleware = auth({
      issuer: 'https://op.example',
      clientId: 'x',
      baseUrl: 'http://localhost:3000',
      secret: 'a-session-secret-of-at-least-32-characters!',
    })
    expect(auth(middleware.auth).auth).toBe(middleware.auth)
    expect(new URL(homeUrl(middleware.auth)).origin).toBe('http://localhost:3000')
  })
})
