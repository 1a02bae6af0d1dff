/**
 * `logoutUrl`, for providers whose logout is not RP-Initiated Logout (Amazon Cognito's
 * `/logout?client_id=…&logout_uri=…`): the URL it builds from the context it is given, a local
 * logout when it returns nothing, and a URL that is not https (or a hook that throws) refused
 * and reported, never followed.
 */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWebContext, handleLogout } from '../src/adapter.js'
import {
  type AuthLogEvent,
  type AuthOptions,
  createAuth,
  type LogoutUrlContext,
} from '../src/index.js'
import { APP, clientAt, devClient, SECRET, sessionCookie, sessionData } from './support.js'

describe('logoutUrl', () => {
  let provider: DevProvider
  beforeAll(async () => {
    provider = await startDevProvider({
      clients: [devClient('app')],
    })
  })
  afterAll(() => provider?.close())

  async function logout(logoutUrl: AuthOptions['logoutUrl'], events: AuthLogEvent[] = []) {
    const auth = createAuth({
      ...clientAt(provider, 'app'),
      baseUrl: APP,
      secret: SECRET,
      allowInsecureRequests: true,
      logoutUrl,
      logger: (event) => events.push(event),
    })
    const cookie = await sessionCookie(
      auth,
      sessionData({ iss: provider.issuer, refreshToken: undefined }),
    )
    const request = new Request(`${APP}/logout`, {
      method: 'POST',
      headers: { cookie, origin: APP },
    })
    return handleLogout(auth, createWebContext(request))
  }

  it('sends the browser where the hook says, with what it was given', async () => {
    let given: LogoutUrlContext | undefined
    const response = await logout((context) => {
      given = context
      const url = new URL('https://auth.example.com/logout')
      url.searchParams.set('client_id', context.clientId)
      url.searchParams.set('logout_uri', context.postLogoutRedirectUri)
      return url
    })
    expect(response.status).toBe(303)
    expect(response.headers.Location).toBe(
      `https://auth.example.com/logout?client_id=app&logout_uri=${encodeURIComponent(`${APP}/`)}`,
    )
    expect(given?.issuer).toBe(provider.issuer)
    expect(given?.endSessionEndpoint).toBe(`${provider.issuer}/session/end`)
    expect(given?.standardUrl).toContain(`${provider.issuer}/session/end?`)
    expect(given?.state).toMatch(/^[\w-]{16,}$/)
    expect(given?.user.sub).toBe('user-1')
    expect(typeof given?.idToken).toBe('string')
  })

  it('ends the local session only when the hook returns undefined', async () => {
    const response = await logout(() => undefined)
    expect(response.headers.Location).toBe(`${APP}/`)
  })

  it.each([
    ['a javascript: URL', () => 'javascript:alert(1)'],
    ['an http URL elsewhere than loopback', () => 'http://auth.example.com/logout'],
    ['not a URL', () => 'logout please'],
  ])('refuses %s, reporting it, and ends the local session', async (_name, hook) => {
    const events: AuthLogEvent[] = []
    const response = await logout(hook, events)
    expect(response.headers.Location).toBe(`${APP}/`)
    expect(events.map((e) => e.code)).toContain('logout_url_refused')
  })

  it('reports a hook that throws, and ends the local session', async () => {
    const events: AuthLogEvent[] = []
    const response = await logout(() => {
      throw new Error('no domain configured')
    }, events)
    expect(response.headers.Location).toBe(`${APP}/`)
    expect(events.map((e) => e.code)).toContain('logout_url_failed')
  })

  it('is checked to be a function at start-up', () => {
    expect(() =>
      createAuth({
        issuer: provider.issuer,
        clientId: 'app',
        baseUrl: APP,
        secret: SECRET,
        allowInsecureRequests: true,
        logoutUrl: 'https://auth.example.com/logout' as unknown as AuthOptions['logoutUrl'],
      }),
    ).toThrow('"logoutUrl"')
  })
})
