/**
 * Several providers (`providers`, `resolveProvider`, `maxCachedProviders`): the options checked
 * at start-up with errors naming the provider's option, discovery cached per provider within the
 * bound, a resolver naming no provider, step-up login URLs naming the session's issuer, and
 * sessions of a provider the app does not sign in with reading as anonymous.
 */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authorize, handleLogin, loginUrl, startLogin } from '../src/adapter.js'
import {
  AuthError,
  type AuthOptions,
  ConfigurationError,
  createAuth,
  getSession,
} from '../src/index.js'
import { APP, context, SECRET, sessionCookie, sessionData, validOptions } from './support.js'

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
    const client = (clientId: string) => ({
      clientId,
      clientSecret: `${clientId}-secret`,
      redirectUris: [`${APP}/callback`],
    })
    first = await startDevProvider({ clients: [client('first')] })
    second = await startDevProvider({ clients: [client('second')] })
  })
  afterAll(async () => {
    await first?.close()
    await second?.close()
  })

  function twoProviders(overrides: Partial<AuthOptions> = {}): AuthOptions {
    return {
      providers: [
        { issuer: first.issuer, clientId: 'first', clientSecret: 'first-secret' },
        { id: 'second', issuer: second.issuer, clientId: 'second', clientSecret: 'second-secret' },
      ],
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

  it('names the session issuer in a step-up login URL only with several providers', () => {
    const many = createAuth(twoProviders())
    const url = new URL(loginUrl(many, '/x', { maxAge: 60, iss: second.issuer }))
    expect(url.searchParams.get('iss')).toBe(second.issuer)
    const one = createAuth(validOptions())
    expect(new URL(loginUrl(one, '/x', { maxAge: 60, iss: 'https://op.example.com' })).search).toBe(
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
    expect(login.searchParams.get('iss')).toBe(new URL(second.issuer).href)
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
})
