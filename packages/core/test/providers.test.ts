/**
 * Several providers (`providers`, `resolveProvider`, `maxCachedProviders`): the options checked
 * at start-up with errors naming the provider's option, discovery cached per provider within the
 * bound, a resolver naming no provider, step-up login URLs naming the session's issuer, and
 * sessions of a provider the app does not sign in with reading as anonymous.
 */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Browser } from '../../../test/support/browser.js'
import { authorize as authorizeAt } from '../../../test/support/flow.js'
import { authorize, handleAuthRoute, handleLogin, loginUrl, startLogin } from '../src/adapter.js'
import {
  AuthError,
  type AuthOptions,
  ConfigurationError,
  createAuth,
  getSession,
} from '../src/index.js'
import {
  APP,
  clientAt,
  context,
  cookieHeader,
  devClient,
  SECRET,
  sessionCookie,
  sessionData,
  validOptions,
} from './support.js'

const A = { issuer: 'https://a.example.com', clientId: 'client-a', clientSecret: 'secret-a' }
const B = { issuer: 'https://b.example.com', clientId: 'client-b', clientSecret: 'secret-b' }

/** The options of an app with `providers`, over `overrides`. */
function several(overrides: Partial<AuthOptions> = {}): AuthOptions {
  return { providers: [A, { id: 'b', ...B }], baseUrl: APP, secret: SECRET, ...overrides }
}

/** The option a `ConfigurationError` of `createAuth(options)` names, and its message. */
function refusal(options: AuthOptions): { option: string; message: string } {
  try {
    createAuth(options)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    const { option, message } = error as ConfigurationError
    return { option, message }
  }
  throw new Error('createAuth accepted the options')
}

describe('providers: options', () => {
  it('accepts several providers, each with its own client', () => {
    expect(() => createAuth(several())).not.toThrow()
  })

  it('refuses a client option at the top level beside "providers"', () => {
    for (const name of ['issuer', 'clientId', 'clientSecret', 'clientAuth'] as const) {
      const value = name === 'clientAuth' ? 'client_secret_post' : 'x'
      const { option, message } = refusal(several({ [name]: value }))
      expect(option).toBe(name)
      expect(message).toContain('per provider')
    }
  })

  it('names the option of the provider at fault', () => {
    expect(refusal(several({ providers: [A, { issuer: B.issuer } as never] })).option).toBe(
      'providers[1].clientId',
    )
    expect(refusal(several({ providers: [{ ...A, issuer: 'http://a.example.com' }] })).option).toBe(
      'providers[0].issuer',
    )
    expect(refusal(several({ providers: [{ ...A, clientAuth: 'private_key_jwt' }] })).option).toBe(
      'providers[0].clientPrivateKey',
    )
    expect(refusal(several({ providers: [{ ...A, id: 'not an id' }] })).option).toBe(
      'providers[0].id',
    )
    expect(refusal(several({ providers: [{ ...A, scope: 'profile' }] })).option).toBe(
      'providers[0].scope',
    )
    // a top-level default that a provider cannot use is named at the top level, but for it
    expect(refusal(several({ scope: 'profile' })).option).toBe('scope')
  })

  it('refuses two providers of one issuer without ids of their own', () => {
    const { option, message } = refusal(several({ providers: [A, { ...A, clientId: 'other' }] }))
    expect(option).toBe('providers[1].id')
    expect(message).toContain('another provider')
    // with ids, two clients at one issuer are fine
    expect(() =>
      createAuth(
        several({
          providers: [
            { ...A, id: 'one' },
            { ...A, id: 'two', clientId: 'c' },
          ],
        }),
      ),
    ).not.toThrow()
  })

  it('refuses an empty "providers", and the provider options without it', () => {
    expect(refusal(several({ providers: [] })).option).toBe('providers')
    expect(refusal(validOptions({ resolveProvider: () => undefined })).option).toBe(
      'resolveProvider',
    )
    expect(refusal(validOptions({ maxCachedProviders: 3 })).option).toBe('maxCachedProviders')
    expect(refusal(several({ maxCachedProviders: 0 })).option).toBe('maxCachedProviders')
    expect(refusal(several({ resolveProvider: 'a' as never })).option).toBe('resolveProvider')
  })

  it('refuses an option of the app inside a provider, and a callback path of another route', () => {
    const inside = refusal(several({ providers: [{ ...A, fetchUserinfo: true } as never] }))
    expect(inside.option).toBe('providers[0].fetchUserinfo')
    expect(inside.message).toContain('not an option of a provider')
    expect(refusal(several({ providers: [A, { ...B, callbackPath: '/login' }] })).option).toBe(
      'providers[1].callbackPath',
    )
    expect(refusal(several({ providers: [{ ...A, callbackPath: 'back' }] })).option).toBe(
      'providers[0].callbackPath',
    )
  })

  it('requires "issuer" and "clientId" without "providers"', () => {
    const { issuer: _issuer, ...noIssuer } = validOptions()
    expect(refusal(noIssuer).option).toBe('issuer')
    const { clientId: _clientId, ...noClient } = validOptions()
    expect(refusal(noClient).option).toBe('clientId')
  })
})

describe('providers: discovery, resolver, login URLs and sessions', () => {
  let first: DevProvider
  let second: DevProvider
  beforeAll(async () => {
    first = await startDevProvider({ clients: [devClient('first')] })
    second = await startDevProvider({ clients: [devClient('second')] })
  })
  afterAll(async () => {
    await first?.close()
    await second?.close()
  })

  function twoProviders(overrides: Partial<AuthOptions> = {}): AuthOptions {
    return {
      providers: [clientAt(first, 'first'), { id: 'second', ...clientAt(second, 'second') }],
      baseUrl: APP,
      secret: SECRET,
      allowInsecureRequests: true,
      logger: false,
      ...overrides,
    }
  }

  const loginAt = (auth: ReturnType<typeof createAuth>, issuer: string) =>
    handleLogin(auth, context(`/login?iss=${encodeURIComponent(issuer)}`))

  it('keeps the discovery of at most "maxCachedProviders" providers, the least recently used dropped', async () => {
    const bounded = createAuth(twoProviders({ maxCachedProviders: 1 }))
    const [a0, b0] = [first.counts('discovery'), second.counts('discovery')]
    for (const issuer of [first.issuer, second.issuer, first.issuer, first.issuer]) {
      expect((await loginAt(bounded, issuer)).status).toBe(302)
    }
    // the first provider was dropped for the second, then discovered again, and kept
    expect(first.counts('discovery') - a0).toBe(2)
    expect(second.counts('discovery') - b0).toBe(1)

    const roomy = createAuth(twoProviders())
    const [a1, b1] = [first.counts('discovery'), second.counts('discovery')]
    for (const issuer of [first.issuer, second.issuer, first.issuer, second.issuer]) {
      expect((await loginAt(roomy, issuer)).status).toBe(302)
    }
    expect(first.counts('discovery') - a1).toBe(1)
    expect(second.counts('discovery') - b1).toBe(1)
  })

  it('answers 500 with a hint naming the id when "resolveProvider" names no provider', async () => {
    const auth = createAuth(twoProviders({ resolveProvider: () => 'third' }))
    const error = await handleLogin(auth, context('/login')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthError)
    expect((error as AuthError).status).toBe(500)
    expect((error as AuthError).code).toBe('unknown_provider')
    expect((error as AuthError).hint).toContain('"third"')
  })

  it('logs in with the provider the app code names, and refuses an id it does not have', async () => {
    const auth = createAuth(twoProviders())
    const response = await startLogin(auth, context('/'), { provider: 'second' })
    expect(new URL(response.headers.Location ?? '').origin).toBe(second.issuer)
    await expect(startLogin(auth, context('/'), { provider: 'third' })).rejects.toThrow(
      /"provider" "third"/,
    )
  })

  it('names the provider in a login URL only with several providers', () => {
    const many = createAuth(twoProviders())
    const url = new URL(loginUrl(many, '/x', { maxAge: 60, provider: 'second' }))
    expect(url.searchParams.get('provider')).toBe('second')
    expect(() => loginUrl(many, '/x', { provider: 'third' })).toThrow(/"third"/)
    // a guard's list of providers: the login goes to the first
    const listed = new URL(
      loginUrl(many, '/x', { provider: ['second', new URL(first.issuer).href] }),
    )
    expect(listed.searchParams.get('provider')).toBe('second')
    const one = createAuth(validOptions())
    expect(new URL(loginUrl(one, '/x', { maxAge: 60, provider: 'x' })).search).toBe(
      '?returnTo=%2Fx&max_age=60',
    )
  })

  it('reads a session of a provider the app does not sign in with as anonymous', async () => {
    const auth = createAuth(twoProviders())
    const ofSecond = await sessionCookie(
      auth,
      sessionData({ iss: second.issuer, provider: 'second' }),
    )
    expect((await getSession(auth, context('/', { headers: { cookie: ofSecond } })))?.iss).toBe(
      second.issuer,
    )
    for (const data of [
      // another issuer
      sessionData({ iss: 'https://elsewhere.example' }),
      // an id the app does not have
      sessionData({ iss: second.issuer, provider: 'gone' }),
      // an id of the app, but another issuer than that provider's
      sessionData({ iss: first.issuer, provider: 'second' }),
    ]) {
      const cookie = await sessionCookie(auth, data)
      expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
    }
    // an app with one provider: a session of another issuer is not its own
    const single = createAuth(validOptions())
    const foreign = await sessionCookie(single, sessionData({ iss: 'https://elsewhere.example' }))
    expect(await getSession(single, context('/', { headers: { cookie: foreign } }))).toBeUndefined()
  })

  it('lets only the users of the providers a guard names pass', async () => {
    const auth = createAuth(twoProviders())
    const page = (cookie?: string) =>
      context('/staff', {
        headers: {
          'sec-fetch-mode': 'navigate',
          accept: 'text/html',
          ...(cookie ? { cookie } : {}),
        },
      })
    // anonymous: to log in at that provider
    const anonymous = await authorize(auth, page(), { provider: 'second' })
    expect(anonymous.response?.status).toBe(302)
    const login = new URL(anonymous.response?.headers.Location ?? '')
    expect(login.pathname).toBe('/login')
    expect(login.searchParams.get('provider')).toBe('second')
    expect(login.searchParams.get('returnTo')).toBe('/staff')
    // a user of another provider: 403, not a login loop
    const ofFirst = await sessionCookie(auth, sessionData({ iss: first.issuer }))
    const refused = await authorize(auth, page(ofFirst), { provider: 'second' })
    expect(refused.response?.status).toBe(403)
    expect(refused.response?.body).toContain('not with the provider this page needs')
    // a user of that provider passes, as one of several named
    const ofSecond = await sessionCookie(
      auth,
      sessionData({ iss: second.issuer, provider: 'second' }),
    )
    await expect(
      Promise.resolve().then(() => authorize(auth, page(ofSecond), { provider: ['x', 'second'] })),
    ).rejects.toThrow(/"x"/)
    expect((await authorize(auth, page(ofSecond), { provider: 'second' })).session?.iss).toBe(
      second.issuer,
    )
    expect(
      (await authorize(auth, page(ofFirst), { provider: [new URL(first.issuer).href, 'second'] }))
        .session?.iss,
    ).toBe(first.issuer)
  })

  it('drops the least recently used discovery, not the oldest', async () => {
    const third = await startDevProvider({
      clients: [devClient('third')],
    })
    try {
      const auth = createAuth(
        twoProviders({
          maxCachedProviders: 2,
          providers: [
            clientAt(first, 'first'),
            { id: 'second', ...clientAt(second, 'second') },
            { id: 'third', ...clientAt(third, 'third') },
          ],
        }),
      )
      const [a0, b0] = [first.counts('discovery'), second.counts('discovery')]
      // first, second, first (now the most recent), third (drops second), first, second
      for (const issuer of [
        first.issuer,
        second.issuer,
        first.issuer,
        third.issuer,
        first.issuer,
      ]) {
        expect((await loginAt(auth, issuer)).status).toBe(302)
      }
      expect(first.counts('discovery') - a0).toBe(1)
      expect((await loginAt(auth, second.issuer)).status).toBe(302)
      expect(second.counts('discovery') - b0).toBe(2)
    } finally {
      await third.close()
    }
  })

  it('sends a login to the provider of /login?provider=, which iss and the resolver must agree with', async () => {
    const auth = createAuth(
      twoProviders({
        resolveProvider: ({ url }) => (url.pathname.startsWith('/b/') ? 'second' : undefined),
      }),
    )
    const at = (path: string) => handleLogin(auth, context(path))
    const named = await at('/login?provider=second&returnTo=/b/page')
    expect(new URL(named.headers.Location ?? '').origin).toBe(second.issuer)
    const status = (path: string) =>
      at(path).then(
        (response) => response.status,
        (error: AuthError) => error.status,
      )
    expect(await status('/login?provider=nope')).toBe(400)
    expect(await status(`/login?provider=second&iss=${encodeURIComponent(first.issuer)}`)).toBe(400)
    expect(await status('/login?provider=second&provider=second')).toBe(400)
    // a page of tenant b sends an anonymous visitor to log in at b: /login itself cannot tell
    const page = await authorize(
      auth,
      context('/b/page', { headers: { 'sec-fetch-mode': 'navigate' } }),
    )
    const login = new URL(page.response?.headers.Location ?? '')
    expect(login.searchParams.get('provider')).toBe('second')
    expect(login.searchParams.get('returnTo')).toBe('/b/page')
    // a session of the first provider is anonymous on b's pages, valid elsewhere
    const ofFirst = await sessionCookie(auth, sessionData({ iss: first.issuer }))
    const read = (path: string) => getSession(auth, context(path, { headers: { cookie: ofFirst } }))
    expect(await read('/b/page')).toBeUndefined()
    expect((await read('/a/page'))?.iss).toBe(first.issuer)
  })

  it('tells two clients at one issuer apart by their ids', async () => {
    const shared = await startDevProvider({
      clients: [devClient('one'), devClient('two')],
    })
    try {
      const auth = createAuth(
        twoProviders({
          providers: [
            { id: 'one', ...clientAt(shared, 'one') },
            { id: 'two', ...clientAt(shared, 'two') },
          ],
        }),
      )
      const login = await handleLogin(auth, context('/login?provider=two'))
      expect(new URL(login.headers.Location ?? '').searchParams.get('client_id')).toBe('two')
      const guarded = await authorize(
        auth,
        context('/x', { headers: { 'sec-fetch-mode': 'navigate' } }),
        { provider: 'two' },
      )
      expect(new URL(guarded.response?.headers.Location ?? '').searchParams.get('provider')).toBe(
        'two',
      )
      // a session of client one is not client two's
      const ofOne = await sessionCookie(
        auth,
        sessionData({ iss: shared.issuer, provider: 'one', clientId: 'one' }),
      )
      const refused = await authorize(
        auth,
        context('/x', { headers: { 'sec-fetch-mode': 'navigate', cookie: ofOne } }),
        { provider: 'two' },
      )
      expect(refused.response?.status).toBe(403)
      // nor of another app of that issuer that shares the secret (its clientId)
      const single = createAuth(
        validOptions({ issuer: shared.issuer, clientId: 'two', allowInsecureRequests: true }),
      )
      const ofApp = await sessionCookie(
        single,
        sessionData({ iss: shared.issuer, clientId: 'one' }),
      )
      expect(await getSession(single, context('/', { headers: { cookie: ofApp } }))).toBeUndefined()
      const own = await sessionCookie(single, sessionData({ iss: shared.issuer, clientId: 'two' }))
      expect((await getSession(single, context('/', { headers: { cookie: own } })))?.sub).toBe(
        'user-1',
      )
    } finally {
      await shared.close()
    }
  })

  it('reads an issuer spelled otherwise (case, final slash) as the same provider', async () => {
    const auth = createAuth(validOptions({ issuer: 'https://op.example.com' }))
    for (const iss of [
      'https://op.example.com',
      'https://op.example.com/',
      'HTTPS://OP.Example.COM',
    ]) {
      const cookie = await sessionCookie(auth, sessionData({ iss }))
      expect((await getSession(auth, context('/', { headers: { cookie } })))?.iss, iss).toBe(iss)
    }
    const cookie = await sessionCookie(auth, sessionData({ iss: 'https://op.example.com/other' }))
    expect(await getSession(auth, context('/', { headers: { cookie } }))).toBeUndefined()
  })

  describe('callbacks of each provider (RFC 9700 §4.4.2)', () => {
    let own: DevProvider
    beforeAll(async () => {
      own = await startDevProvider({
        clients: [devClient('own', '/callback/own')],
      })
    })
    afterAll(() => own?.close())

    const withOwn = () =>
      createAuth(
        twoProviders({
          providers: [
            clientAt(first, 'first'),
            { id: 'second', ...clientAt(second, 'second') },
            {
              id: 'own',
              ...clientAt(own, 'own'),
              callbackPath: '/callback/own',
            },
          ],
        }),
      )

    /** A login at `provider` up to the provider's answer: the callback URL and the login's cookies. */
    async function answered(auth: ReturnType<typeof createAuth>, provider: string) {
      const start = context(`/login?provider=${provider}`)
      const redirect = new URL((await handleLogin(auth, start)).headers.Location as string)
      const callbackPath = new URL(redirect.searchParams.get('redirect_uri') as string).pathname
      const browser = new Browser()
      const url = await authorizeAt(browser, await browser.navigate(redirect), 'ivy', callbackPath)
      return { url, cookie: cookieHeader(start.cookies) }
    }

    const callback = (auth: ReturnType<typeof createAuth>, url: URL, cookie: string) =>
      handleAuthRoute(auth, context(url.href, { headers: { cookie } })).then(
        (response) => ({ status: response?.status, code: undefined as string | undefined }),
        (error: AuthError) => ({ status: error.status, code: error.code }),
      )

    it('sends each provider its own redirect_uri and takes its answer there only', async () => {
      const auth = withOwn()
      const { url, cookie } = await answered(auth, 'own')
      expect(url.pathname).toBe('/callback/own')
      // the same answer at the shared callback is not this provider's
      const elsewhere = new URL(url)
      elsewhere.pathname = '/callback'
      expect(await callback(auth, elsewhere, cookie)).toEqual({
        status: 400,
        code: 'wrong_callback',
      })
    })

    it('refuses an answer without iss at a shared callback, before any token request', async () => {
      const auth = withOwn()
      const { url, cookie } = await answered(auth, 'second')
      const stripped = new URL(url)
      stripped.searchParams.delete('iss')
      const tokens = second.counts('token')
      expect(await callback(auth, stripped, cookie)).toEqual({ status: 400, code: 'missing_iss' })
      expect(second.counts('token')).toBe(tokens)
    })

    it('completes a login at a provider with a callback of its own', async () => {
      const auth = withOwn()
      const { url, cookie } = await answered(auth, 'own')
      const done = await callback(auth, url, cookie)
      expect(done.status).toBe(302)
    })
  })
})
