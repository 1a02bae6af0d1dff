/**
 * The adapter's server side: the proxy, the route handlers, and the session in Server Components,
 * Route Handlers and Server Actions, where `next/headers` is the request Next.js is rendering.
 * Sessions come from the core's own session module; tokens from a provider that rotates refresh
 * tokens, so that spending one twice would fail.
 */
import { type AuthLogEvent, type AuthOptions, ConfigurationError } from '@codeflow/core'
import { homeUrl } from '@codeflow/core/adapter'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
// sessions sealed by the core's session module itself, as the core's own tests do
import { createAuth } from '../../core/src/index.js'
import { type RotatingProvider, startRotatingProvider } from '../../core/test/rotating-provider.js'
import { APP, SECRET, sessionCookie, sessionData } from '../../core/test/support.js'

/** The request Next.js is rendering, as `next/headers` shows it. */
const rendering = vi.hoisted(() => ({
  headers: new Headers(),
  /** false in a Server Component: setting a cookie throws there */
  writable: true,
  written: [] as { name: string; value: string; options: Record<string, unknown> }[],
}))

vi.mock('next/headers.js', () => ({
  headers: async () => rendering.headers,
  cookies: async () => ({
    set(name: string, value: string, options: Record<string, unknown>) {
      if (!rendering.writable) {
        throw new Error('Cookies can only be modified in a Server Action or Route Handler.')
      }
      rendering.written.push({ name, value, options })
    },
  }),
}))

vi.mock('next/navigation.js', () => ({
  redirect(url: string): never {
    throw Object.assign(new Error('NEXT_REDIRECT'), { url })
  },
  forbidden(): never {
    throw Object.assign(new Error('NEXT_HTTP_ERROR_FALLBACK;403'), { forbidden: true })
  },
}))

const { createCodeflow } = await import('../src/index.js')

let provider: RotatingProvider
const events: AuthLogEvent[] = []

beforeAll(async () => {
  provider = await startRotatingProvider()
})
afterAll(() => provider.close())
beforeEach(() => {
  events.length = 0
  rendering.headers = new Headers()
  rendering.writable = true
  rendering.written = []
})

function options(overrides: Partial<AuthOptions> = {}): AuthOptions {
  return {
    issuer: provider.issuer,
    clientId: 'client',
    clientSecret: 'client-secret',
    baseUrl: APP,
    secret: SECRET,
    allowInsecureRequests: true,
    logger: (event) => events.push(event),
    ...overrides,
  }
}

/** A session cookie whose access token expires in `expiresIn` seconds, refreshable once. */
async function session(expiresIn: number, refreshable = true): Promise<string> {
  const refreshToken = `initial-${crypto.randomUUID()}`
  if (refreshable) provider.grant(refreshToken)
  const now = Math.floor(Date.now() / 1000)
  return sessionCookie(
    createAuth(options()),
    sessionData({
      id: crypto.randomUUID(),
      iss: provider.issuer,
      refreshToken,
      expiresAt: now + expiresIn,
    }),
  )
}

/** Renders a request: what `next/headers` returns until the next call. */
function render(cookie: string, writable: boolean): void {
  rendering.headers = new Headers({ cookie })
  rendering.writable = writable
}

function get(path: string, headers: Record<string, string> = {}): Request {
  return new Request(new URL(path, APP), { headers })
}

function sessionValue(setCookies: readonly string[]): string | undefined {
  const header = setCookies.find((c) => c.startsWith('codeflow=') && !c.startsWith('codeflow=;'))
  return header?.slice('codeflow='.length, header.indexOf(';'))
}

describe('getSession, getAccessToken and requireAuth with next/headers', () => {
  it('reads the session of the request being rendered', async () => {
    const codeflow = createCodeflow(options())
    render(await session(3600), false)
    expect((await codeflow.getSession())?.user.sub).toBe('user-1')
    expect((await codeflow.requireAuth()).sub).toBe('user-1')
  })

  it('redirects an anonymous page to login, with returnTo', async () => {
    const codeflow = createCodeflow(options())
    await expect(codeflow.requireAuth({ returnTo: '/orders?page=2' })).rejects.toMatchObject({
      url: `${APP}/login?returnTo=${encodeURIComponent('/orders?page=2')}`,
    })
  })

  it('sets a refreshed session with cookies() in a Route Handler or Server Action', async () => {
    const codeflow = createCodeflow(options())
    render(await session(-10), true)
    const before = provider.tokenRequests
    const token = await codeflow.getAccessToken()
    expect(provider.tokenRequests).toBe(before + 1)
    const written = rendering.written.find((c) => c.name === 'codeflow')
    expect(written?.options).toMatchObject({ path: '/', httpOnly: true, sameSite: 'lax' })
    expect(events.map((e) => e.code)).not.toContain('session_write_deferred')
    // a later call in the same request sees the new session: no second refresh
    expect((await codeflow.getAccessToken()).token).toBe(token.token)
    expect(provider.tokenRequests).toBe(before + 1)
  })

  it('reports a session a Server Component could not save; the next request that can saves it, with no second refresh', async () => {
    const codeflow = createCodeflow(options())
    const old = await session(-10)
    render(old, false)
    const before = provider.tokenRequests
    const token = await codeflow.getAccessToken()
    await codeflow.getAccessToken()
    expect(provider.tokenRequests).toBe(before + 1)
    expect(rendering.written).toEqual([])
    const deferred = events.filter((e) => e.code === 'session_write_deferred')
    expect(deferred).toHaveLength(1)
    expect(deferred[0]?.level).toBe('warn')

    // the browser still sends the old cookie; the proxy of the next navigation writes the new one
    const response = await codeflow.proxy(get('/dashboard', { cookie: old }))
    expect(response.headers.get('x-middleware-next')).toBe('1')
    const saved = sessionValue(response.headers.getSetCookie())
    expect(saved).toBeDefined()
    expect(response.headers.get('x-middleware-request-cookie')).toBe(`codeflow=${saved}`)
    expect(provider.tokenRequests).toBe(before + 1)
    const next = await codeflow.getSession(get('/', { cookie: `codeflow=${saved}` }))
    expect(next?.accessToken).toBe(token.token)
  })
})

describe('proxy', () => {
  it('serves the login route', async () => {
    const codeflow = createCodeflow(options())
    const response = await codeflow.proxy(get('/login?returnTo=%2Fprofile'))
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toMatch(new RegExp(`^${provider.issuer}/auth\\?`))
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.getSetCookie()[0]).toMatch(/^codeflow_tx\./)
  })

  it('renders the errors of the auth routes', async () => {
    const codeflow = createCodeflow(options())
    const response = await codeflow.proxy(get('/callback?state=x&code=y'))
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'missing_transaction' })
  })

  it('guards protected paths: a page is redirected to login, an API call gets 401 JSON', async () => {
    const codeflow = createCodeflow(options(), { protect: ['/profile', /^\/admin(\/|$)/] })
    const page = await codeflow.proxy(get('/profile', { 'sec-fetch-mode': 'navigate' }))
    expect(page.status).toBe(302)
    expect(page.headers.get('location')).toBe(`${APP}/login?returnTo=%2Fprofile`)
    const api = await codeflow.proxy(get('/profile/data', { accept: 'application/json' }))
    expect(api.status).toBe(401)
    expect(api.headers.get('www-authenticate')).toMatch(/^Cookie /)
    expect((await codeflow.proxy(get('/admin'))).status).toBe(401)
    for (const path of ['/profiles', '/', '/administrator']) {
      expect((await codeflow.proxy(get(path))).headers.get('x-middleware-next'), path).toBe('1')
    }
    const signedIn = await codeflow.proxy(get('/profile', { cookie: await session(3600) }))
    expect(signedIn.headers.get('x-middleware-next')).toBe('1')
  })

  it('guards a protected path by claims (403, never a login) and by the age of the sign-in (a step-up login)', async () => {
    const codeflow = createCodeflow(options(), {
      protect: [
        { path: '/admin', claims: { groups: { includes: 'admin' } } },
        { path: '/payments', unauthenticated: 'redirect', maxAge: 300 },
      ],
    })
    const cookie = await session(3600)
    const navigate = { 'sec-fetch-mode': 'navigate', cookie }
    const admin = await codeflow.proxy(get('/admin', navigate))
    expect(admin.status).toBe(403)
    expect(admin.headers.get('content-type')).toMatch(/^text\/html/)
    // the test session has no auth_time: too old for any maxAge
    const payments = await codeflow.proxy(get('/payments', navigate))
    expect(payments.status).toBe(302)
    const to = new URL(String(payments.headers.get('location')))
    expect(`${to.origin}${to.pathname}`).toBe(`${provider.issuer}/auth`)
    expect(to.searchParams.get('max_age')).toBe('300')
    expect(payments.headers.getSetCookie().some((c) => c.startsWith('codeflow_tx.'))).toBe(true)
    // anonymous: the path's own mode
    const anonymous = await codeflow.proxy(get('/payments', { accept: 'application/json' }))
    expect(anonymous.status).toBe(302)
  })

  it('refuses a protect pattern that is not a path', () => {
    expect(() => createCodeflow(options(), { protect: ['profile'] })).toThrow(ConfigurationError)
  })

  it('lets a current session through untouched', async () => {
    const codeflow = createCodeflow(options())
    const response = await codeflow.proxy(get('/', { cookie: await session(3600) }))
    expect(response.headers.get('x-middleware-next')).toBe('1')
    expect(response.headers.get('x-middleware-override-headers')).toBeNull()
    expect(response.headers.getSetCookie()).toEqual([])
  })

  it('refreshes an access token about to expire and passes the new session on to the page', async () => {
    const codeflow = createCodeflow(options())
    const cookie = `theme=dark; ${await session(30)}`
    const response = await codeflow.proxy(get('/', { cookie }))
    const saved = sessionValue(response.headers.getSetCookie())
    expect(saved).toBeDefined()
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('x-middleware-request-cookie')).toBe(
      `theme=dark; codeflow=${saved}`,
    )
    const forwarded = await codeflow.getSession(get('/', { cookie: `codeflow=${saved}` }))
    expect(forwarded?.expiresAt).toBeGreaterThan(Date.now() / 1000 + 600)
  })

  it('leaves the refresh to the page with refreshAhead: false', async () => {
    const codeflow = createCodeflow(options(), { refreshAhead: false })
    const response = await codeflow.proxy(get('/', { cookie: await session(30) }))
    expect(response.headers.getSetCookie()).toEqual([])
  })

  it('ends a session whose refresh the provider refuses: the page renders anonymous', async () => {
    const codeflow = createCodeflow(options())
    const response = await codeflow.proxy(get('/', { cookie: await session(-10, false) }))
    expect(response.headers.get('x-middleware-next')).toBe('1')
    expect(response.headers.getSetCookie().some((c) => /^codeflow=;.*Max-Age=0/.test(c))).toBe(true)
    expect(response.headers.get('x-middleware-request-cookie')).toBe('')
  })

  it('lets the request through when the provider is down, for the page to report', async () => {
    const cookie = await session(-10)
    const codeflow = createCodeflow(options({ issuer: 'http://127.0.0.1:9', httpTimeout: 1000 }))
    const response = await codeflow.proxy(get('/', { cookie }))
    expect(response.headers.get('x-middleware-next')).toBe('1')
  })
})

describe('rolling sessions', () => {
  /** A session last active 10 minutes ago: reading it records activity (a cookie write). */
  async function idleSession(): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    return sessionCookie(
      createAuth(options()),
      sessionData({ id: crypto.randomUUID(), iss: provider.issuer, updatedAt: now - 600 }),
    )
  }
  const rolling = () => options({ session: { idleDuration: 3600 } })

  it('the proxy records the activity and passes the session on', async () => {
    const codeflow = createCodeflow(rolling())
    const response = await codeflow.proxy(get('/', { cookie: await idleSession() }))
    const saved = sessionValue(response.headers.getSetCookie())
    expect(saved).toBeDefined()
    expect(response.headers.get('x-middleware-request-cookie')).toBe(`codeflow=${saved}`)
    expect(events.map((e) => e.code)).not.toContain('session_write_deferred')
  })

  it('getSession(request), which has no response to set it on, reports the change', async () => {
    const codeflow = createCodeflow(rolling())
    expect((await codeflow.getSession(get('/', { cookie: await idleSession() })))?.sub).toBe(
      'user-1',
    )
    expect(events.map((e) => e.code)).toContain('session_write_deferred')
  })
})

describe('route handlers', () => {
  it('serves the auth routes, and 404 elsewhere', async () => {
    const { handlers } = createCodeflow(options())
    expect((await handlers.GET(get('/login'), {})).status).toBe(302)
    const logout = await handlers.POST(
      new Request(`${APP}/logout`, { method: 'POST', headers: { origin: APP } }),
      {},
    )
    expect(logout.status).toBe(303)
    expect((await handlers.GET(get('/elsewhere'), {})).status).toBe(404)
  })

  it('requireAuth(handler) answers an anonymous request with 401 JSON, or a redirect', async () => {
    const codeflow = createCodeflow(options())
    const handler = codeflow.requireAuth(() => new Response('secret'))
    const response = await handler(get('/api/data'), {})
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBeTruthy()
    expect(await response.json()).toMatchObject({ error: 'unauthenticated' })
    const page = codeflow.requireAuth(() => new Response('page'), { unauthenticated: 'redirect' })
    expect((await page(get('/page'), {})).headers.get('location')).toBe(
      `${APP}/login?returnTo=%2Fpage`,
    )
  })

  it('requireAuth(handler) passes the session and context, and sets a refreshed session on any response', async () => {
    const codeflow = createCodeflow(options())
    const handler = codeflow.requireAuth<{ params: Promise<{ id: string }> }>(
      async (_request, { session, accessToken, context }) => {
        await accessToken()
        const { id } = await context.params
        return Response.redirect(`${APP}/items/${id}?user=${session.user.sub}`, 303)
      },
    )
    const response = await handler(get('/api/items', { cookie: await session(-10) }), {
      params: Promise.resolve({ id: '7' }),
    })
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe(`${APP}/items/7?user=user-1`)
    expect(sessionValue(response.headers.getSetCookie())).toBeDefined()
    expect(response.headers.get('cache-control')).toBe('no-store')
  })

  it('reads the session of a given request', async () => {
    const codeflow = createCodeflow(options())
    expect(await codeflow.getSession(get('/'))).toBeUndefined()
    const signedIn = await codeflow.getSession(get('/', { cookie: await session(3600) }))
    expect(signedIn?.sub).toBe('user-1')
  })

  it('is configured at the first request when given a function', async () => {
    const configure = vi.fn(() => options())
    const codeflow = createCodeflow(configure)
    expect(configure).not.toHaveBeenCalled()
    await codeflow.getSession(get('/'))
    await codeflow.getSession(get('/'))
    expect(configure).toHaveBeenCalledTimes(1)
    expect(new URL(homeUrl(codeflow.auth)).origin).toBe(APP)
  })
})

describe('a configuration that is wrong at run time', () => {
  // the function form is read at the first request: "secret" is too short there
  const broken = () => createCodeflow(() => options({ secret: 'short' }))

  it('answers the proxy and the route handlers with a plain 500, and logs the option once', async () => {
    const lines: string[] = []
    const error = vi.spyOn(console, 'error').mockImplementation((line: unknown) => {
      lines.push(String(line))
    })
    try {
      const codeflow = broken()
      const page = new Request(`${APP}/login`, {
        headers: {
          accept: 'text/html',
          'sec-fetch-mode': 'navigate',
          'sec-fetch-dest': 'document',
        },
      })
      for (const answer of [
        await codeflow.proxy(page),
        await codeflow.handlers.GET(new Request(`${APP}/login`), {}),
        await codeflow.requireAuth(() => new Response('never'))(new Request(`${APP}/api/me`), {}),
      ]) {
        expect(answer.status).toBe(500)
        expect(await answer.text()).not.toMatch(/ConfigurationError|at .*\.js|secret/)
      }
      expect(lines).toEqual([
        'codeflow: "secret" must be a string of at least 32 characters [invalid_configuration]',
      ])
    } finally {
      error.mockRestore()
    }
  })

  it('validate({ exit: false }) throws the ConfigurationError naming the option', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    try {
      expect(() => broken().validate({ exit: false })).toThrow(
        expect.objectContaining({ name: 'ConfigurationError', option: 'secret' }),
      )
    } finally {
      error.mockRestore()
    }
  })

  it('validate() prints one line and ends the process with code 1', () => {
    const lines: string[] = []
    const error = vi.spyOn(console, 'error').mockImplementation((line: unknown) => {
      lines.push(String(line))
    })
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never)
    try {
      expect(() => broken().validate()).toThrow(ConfigurationError)
      expect(exit).toHaveBeenCalledWith(1)
      expect(lines).toEqual([
        'codeflow: "secret" must be a string of at least 32 characters [invalid_configuration]',
      ])
    } finally {
      exit.mockRestore()
      error.mockRestore()
    }
  })

  it('validate() returns the Auth of a good configuration, and exits nothing', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never)
    try {
      const codeflow = createCodeflow(() => options())
      expect(codeflow.validate()).toBe(codeflow.auth)
      expect(exit).not.toHaveBeenCalled()
    } finally {
      exit.mockRestore()
    }
  })
})

describe('login and logout from a Server Action', () => {
  it('starts a login with its options: the transaction cookie set, a redirect to the provider', async () => {
    const codeflow = createCodeflow(options())
    render('', true)
    const redirected = await codeflow
      .login({ returnTo: '/orders', authorizationParams: { prompt: 'login' }, maxAge: 60 })
      .catch((error: { url?: string }) => error)
    const url = new URL(String((redirected as { url?: string }).url))
    expect(`${url.origin}${url.pathname}`).toBe(`${provider.issuer}/auth`)
    expect(url.searchParams.get('prompt')).toBe('login')
    expect(url.searchParams.get('max_age')).toBe('60')
    expect(rendering.written.map((c) => c.name)).toEqual([
      `codeflow_tx.${url.searchParams.get('state')}`,
    ])
  })

  it('refuses to start a login in a Server Component, which cannot set its cookie', async () => {
    const codeflow = createCodeflow(options())
    render('', false)
    await expect(codeflow.login()).rejects.toThrow(
      'codeflow.login() sets a cookie, which a Server Component cannot',
    )
  })

  it('logs out: the session cookie deleted, a redirect to the returnTo (no end_session_endpoint)', async () => {
    const codeflow = createCodeflow(options())
    rendering.headers = new Headers({ cookie: await session(3600), origin: APP })
    rendering.writable = true
    const redirected = await codeflow
      .logout({ returnTo: '/bye' })
      .catch((error: { url?: string }) => error)
    expect((redirected as { url?: string }).url).toBe(`${APP}/bye`)
    const deleted = rendering.written.find((c) => c.name === 'codeflow')
    expect(deleted?.value).toBe('')
  })
})

describe('requireAuth() in a page with claims and step-up', () => {
  it('calls forbidden() for claims that do not match, and returns the session when they do', async () => {
    const codeflow = createCodeflow(options())
    render(await session(3600), false)
    await expect(
      codeflow.requireAuth({ claims: { groups: { includes: 'admin' } } }),
    ).rejects.toMatchObject({ forbidden: true })
    expect((await codeflow.requireAuth({ claims: { sub: 'user-1' } })).sub).toBe('user-1')
  })

  it('redirects a sign-in of unknown age to /login asking for max_age and acr_values', async () => {
    const codeflow = createCodeflow(options())
    render(await session(3600), false)
    const redirected = await codeflow
      .requireAuth({ returnTo: '/payments', maxAge: 300, acr: 'urn:mfa' })
      .catch((error: { url?: string }) => error)
    const url = new URL(String((redirected as { url?: string }).url))
    expect(`${url.origin}${url.pathname}`).toBe(`${APP}/login`)
    expect(url.searchParams.get('returnTo')).toBe('/payments')
    expect(url.searchParams.get('max_age')).toBe('300')
    expect(url.searchParams.get('acr_values')).toBe('urn:mfa')
  })
})
