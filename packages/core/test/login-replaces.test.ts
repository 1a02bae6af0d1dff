/**
 * A login in a browser that has a session already: the new session (a new id) takes the place of
 * the old one, whose store data is deleted; its cookie is written over, not deleted and set again.
 */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Browser } from '../../../test/support/browser.js'
import { authorize } from '../../../test/support/flow.js'
import { handleCallback, handleLogin } from '../src/adapter.js'
import { type Auth, type AuthOptions, createMemoryStore, getSession } from '../src/index.js'
import { APP, context, cookieHeader, SECRET, testAuth } from './support.js'

let provider: DevProvider
beforeAll(async () => {
  provider = await startDevProvider({
    clients: [
      {
        clientId: 'replace-client',
        clientSecret: 'replace-client-secret',
        redirectUris: [`${APP}/callback`],
        postLogoutRedirectUris: [`${APP}/`],
      },
    ],
  })
})
afterAll(() => provider.close())

function appAuth(overrides: Partial<AuthOptions> = {}): Auth {
  return testAuth({
    issuer: provider.issuer,
    clientId: 'replace-client',
    clientSecret: 'replace-client-secret',
    allowInsecureRequests: true,
    secret: SECRET,
    ...overrides,
  })
}

/** A login as `login` in a browser whose cookies are `cookie`; the callback's Set-Cookies. */
async function login(auth: Auth, user: string, cookie = '') {
  const start = context('/login', { headers: { cookie } })
  const redirect = await handleLogin(auth, start)
  const browser = new Browser()
  const callbackUrl = await authorize(
    browser,
    await browser.navigate(redirect.headers.Location as string),
    user,
  )
  const callback = context(callbackUrl.href, {
    headers: { cookie: cookieHeader(start.cookies, cookie) },
  })
  await handleCallback(auth, callback)
  return { cookies: callback.cookies, cookie: cookieHeader(callback.cookies, cookie) }
}

describe('a login over an existing session', () => {
  it('writes the session cookie over the old one, without deleting it first', async () => {
    const auth = appAuth()
    const first = await login(auth, 'first')
    const second = await login(auth, 'second', first.cookie)
    const session = second.cookies.filter((c) => c.name === 'codeflow')
    expect(session.map((c) => c.options.maxAge === 0)).toEqual([false])
    expect(
      (await getSession(auth, context('/', { headers: { cookie: second.cookie } })))?.sub,
    ).toBe('second')
  })

  it('deletes the old session from the store: its cookie reads as anonymous', async () => {
    const auth = appAuth({ session: { store: createMemoryStore() } })
    const first = await login(auth, 'first')
    expect(
      await getSession(auth, context('/', { headers: { cookie: first.cookie } })),
    ).toBeDefined()
    const second = await login(auth, 'second', first.cookie)
    expect(
      await getSession(auth, context('/', { headers: { cookie: first.cookie } })),
    ).toBeUndefined()
    expect(
      (await getSession(auth, context('/', { headers: { cookie: second.cookie } })))?.sub,
    ).toBe('second')
  })
})
