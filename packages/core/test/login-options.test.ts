/**
 * `LoginOptions` (`handleLogin(auth, ctx, options)`): per-login parameters over the option's,
 * which are over the query's (the query cannot override the app's configured policy), `maxAge`
 * and `acr` sent as `max_age` and `acr_values`, and codeflow's own parameters refused.
 */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWebContext, handleLogin } from '../src/adapter.js'
import { type Auth, createAuth } from '../src/index.js'
import { APP, clientAt, devClient, SECRET } from './support.js'

describe('LoginOptions', () => {
  let provider: DevProvider
  let auth: Auth
  beforeAll(async () => {
    provider = await startDevProvider({
      clients: [devClient('app')],
    })
    auth = createAuth({
      ...clientAt(provider, 'app'),
      baseUrl: APP,
      secret: SECRET,
      allowInsecureRequests: true,
      authorizationParams: { prompt: 'consent', ui_locales: 'fr' },
    })
  })
  afterAll(() => provider?.close())

  const login = (query: string, options?: Parameters<typeof handleLogin>[2]) =>
    handleLogin(auth, createWebContext(new Request(`${APP}/login${query}`)), options)

  it('layers the query, the option (which the query cannot override) and the app’s own parameters, in that order', async () => {
    const response = await login('?prompt=login&login_hint=bob&ui_locales=de', {
      authorizationParams: { login_hint: 'alice', audience: 'https://api.example' },
      maxAge: 60,
      acr: ['urn:a', 'urn:b'],
    })
    const sent = new URL(String(response.headers.Location)).searchParams
    // the configured prompt and ui_locales are the app's policy
    expect(sent.get('prompt')).toBe('consent')
    expect(sent.get('ui_locales')).toBe('fr')
    expect(sent.get('login_hint')).toBe('alice')
    expect(sent.get('audience')).toBe('https://api.example')
    expect(sent.get('max_age')).toBe('60')
    expect(sent.get('acr_values')).toBe('urn:a urn:b')
  })

  it.each([
    [
      { authorizationParams: { state: 'mine' } },
      '"authorizationParams.state" is set by codeflow itself',
    ],
    [
      { authorizationParams: { redirect_uri: 'https://evil.example' } },
      '"authorizationParams.redirect_uri"',
    ],
    [{ maxAge: 1.5 }, '"maxAge" must be a whole number of seconds'],
    [{ acr: [] }, '"acr" must be one or more acr values'],
    [{ acr: 'two words' }, '"acr" must be one or more acr values'],
  ])('refuses %j with a TypeError naming it', async (options, message) => {
    await expect(login('', options as Parameters<typeof handleLogin>[2])).rejects.toThrow(message)
  })
})
