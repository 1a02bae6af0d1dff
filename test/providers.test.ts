/**
 * Several providers in one app, on every harness, against two dev providers (a workforce one and
 * a customer one, each with its own client): `/login?iss=` picks one, a callback is checked
 * against the issuer its login started with (RFC 9207 mix-up defence), a `resolveProvider` by host
 * keeps one tenant's session out of another tenant's host, one user at two issuers is two
 * identities, and back-channel and front-channel logout from each issuer end only its sessions.
 */
import { type DevProvider, startDevProvider } from '@codeflow/dev-provider'
import { resolveByHost } from '@codeflow/example-shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { Browser } from './support/browser.js'
import { authorize } from './support/flow.js'
import { providerSid } from './support/provider-logout.js'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  freePort,
  type Instance,
  SECRET,
  startInstances,
} from './support/stack.js'

const CUSTOMER_CLIENT = 'customer-portal'
const CUSTOMER_SECRET = 'customer-portal-secret-value'
const FORM = 'application/x-www-form-urlencoded'

describe.each(harnesses)('several providers ($name)', (harness) => {
  let workforce: DevProvider
  let customers: DevProvider
  let app: Instance
  let baseUrl: string
  /** the host the resolver gives the customer provider: the tenant's own address */
  let tenantHost: string

  beforeAll(async () => {
    const port = await freePort()
    baseUrl = `http://localhost:${port}`
    tenantHost = `127.0.0.1:${port}`
    const client = (clientId: string, clientSecret: string) => ({
      clientId,
      clientSecret,
      redirectUris: [`${baseUrl}/callback`],
      postLogoutRedirectUris: [`${baseUrl}/`],
      backchannelLogoutUri: `${baseUrl}/backchannel-logout`,
      backchannelLogoutSessionRequired: true,
    })
    workforce = await startDevProvider({ clients: [client(CLIENT_ID, CLIENT_SECRET)] })
    customers = await startDevProvider({ clients: [client(CUSTOMER_CLIENT, CUSTOMER_SECRET)] })
    ;[app] = (await startInstances(harness, [port], undefined, (url) => ({
      providers: [
        { issuer: workforce.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
        {
          id: 'customers',
          issuer: customers.issuer,
          clientId: CUSTOMER_CLIENT,
          clientSecret: CUSTOMER_SECRET,
        },
      ],
      resolveProvider: resolveByHost({ customers: ['127.0.0.1'] }),
      baseUrl: url,
      secret: SECRET,
      scope: 'openid profile email offline_access',
      allowInsecureRequests: true,
    }))) as [Instance]
  })
  afterAll(async () => {
    await app?.stop()
    await workforce?.close()
    await customers?.close()
  })

  /** A browser signed in as `login` at `provider`, through `/login?iss=`. */
  async function signedInAt(provider: DevProvider, login = 'alice'): Promise<Browser> {
    const browser = new Browser()
    const start = await browser.navigate(
      `${baseUrl}/login?iss=${encodeURIComponent(provider.issuer)}`,
    )
    expect(start.status).toBe(302)
    const callback = await authorize(browser, start, login)
    const done = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(done.status).toBe(302)
    return browser
  }

  /** A logout token POSTed to the app as a provider does: no cookies, a form. */
  const postLogoutToken = (token: string) =>
    new Browser().request(`${baseUrl}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: new URLSearchParams({ logout_token: token }).toString(),
      cookies: false,
    })

  const me = (browser: Browser, host?: string) =>
    browser.request(`${baseUrl}/api/me`, host === undefined ? {} : { headers: { host } })

  it('signs in with the first provider by default, and with the one /login?iss= names', async () => {
    const first = await new Browser().navigate(`${baseUrl}/login`)
    expect(first.status).toBe(302)
    expect(first.location?.origin).toBe(workforce.issuer)
    expect(first.location?.searchParams.get('client_id')).toBe(CLIENT_ID)

    const named = await new Browser().navigate(
      `${baseUrl}/login?iss=${encodeURIComponent(customers.issuer)}`,
    )
    expect(named.status).toBe(302)
    expect(named.location?.origin).toBe(customers.issuer)
    expect(named.location?.searchParams.get('client_id')).toBe(CUSTOMER_CLIENT)

    const unknown = await new Browser().navigate(
      `${baseUrl}/login?iss=${encodeURIComponent('https://evil.example')}`,
    )
    expect(unknown.status).toBe(400)
  })

  it('signs the same login in at each issuer as two identities', async () => {
    const atWorkforce = await signedInAt(workforce)
    const atCustomers = await signedInAt(customers)
    const [a, b] = [await me(atWorkforce), await me(atCustomers)]
    expect(a.status).toBe(200)
    expect(b.status).toBe(200)
    expect(a.json().sub).toBe('alice')
    expect(b.json().sub).toBe('alice')
    // a back-channel logout of alice (by sub) at the workforce provider ends her session there only
    expect((await postLogoutToken(await workforce.signLogoutToken({ sub: 'alice' }))).status).toBe(
      200,
    )
    expect((await me(atWorkforce)).status).toBe(401)
    expect((await me(atCustomers)).status).toBe(200)
  })

  it('ends a provider session by back-channel logout from its own issuer only', async () => {
    const atWorkforce = await signedInAt(workforce, 'bob')
    const atCustomers = await signedInAt(customers, 'bob')
    const sid = await providerSid(customers, atCustomers, CUSTOMER_CLIENT)
    const post = postLogoutToken
    // the workforce provider cannot end a session of the customer provider, even naming its sid
    const foreign = await post(await workforce.signLogoutToken({ sid, iss: customers.issuer }))
    expect(foreign.status).toBe(400)
    expect((await me(atCustomers)).status).toBe(200)
    // nor by a token of its own (its iss, its client) about that sid
    expect((await post(await workforce.signLogoutToken({ sid }))).status).toBe(200)
    expect((await me(atCustomers)).status).toBe(200)
    // the customer provider can
    expect((await post(await customers.signLogoutToken({ sid }))).status).toBe(200)
    expect((await me(atCustomers)).status).toBe(401)
    expect((await me(atWorkforce)).status).toBe(200)
  })

  it('ends a provider session by front-channel logout from its own issuer only', async () => {
    const atWorkforce = await signedInAt(workforce, 'carol')
    const atCustomers = await signedInAt(customers, 'carol')
    const sid = await providerSid(customers, atCustomers, CUSTOMER_CLIENT)
    const frame = (iss: string) =>
      new Browser().navigate(`${baseUrl}/frontchannel-logout?${new URLSearchParams({ iss, sid })}`)
    expect((await frame('https://evil.example')).status).toBe(400)
    expect((await frame(workforce.issuer)).status).toBe(200)
    expect((await me(atCustomers)).status).toBe(200)
    expect((await frame(customers.issuer)).status).toBe(200)
    expect((await me(atCustomers)).status).toBe(401)
    expect((await me(atWorkforce)).status).toBe(200)
  })

  it('refuses a callback from another issuer than the login was sent to (mix-up)', async () => {
    const browser = new Browser()
    // one login at each provider, in one browser
    const toWorkforce = await browser.navigate(`${baseUrl}/login`)
    const toCustomers = await browser.navigate(
      `${baseUrl}/login?iss=${encodeURIComponent(customers.issuer)}`,
    )
    const workforceState = toWorkforce.location?.searchParams.get('state') as string
    const callback = await authorize(browser, toCustomers, 'mallory')
    expect(callback.searchParams.get('iss')).toBe(customers.issuer)
    // the customer provider's code, delivered to the workforce login's transaction
    const swapped = new URL(callback)
    swapped.searchParams.set('state', workforceState)
    const tokens = [workforce.counts('token'), customers.counts('token')]
    const refused = await browser.navigate(swapped, { 'sec-fetch-site': 'cross-site' })
    expect(refused.status).toBe(400)
    // refused before any token request: the code went to neither token endpoint
    expect([workforce.counts('token'), customers.counts('token')]).toEqual(tokens)
    expect((await me(browser)).status).toBe(401)
    // without the iss parameter the workforce provider promises (RFC 9207), refused too
    const login = await browser.navigate(`${baseUrl}/login`)
    const again = await authorize(
      browser,
      await browser.navigate(`${baseUrl}/login?iss=${encodeURIComponent(customers.issuer)}`),
      'mallory',
    )
    const stripped = new URL(again)
    stripped.searchParams.delete('iss')
    stripped.searchParams.set('state', login.location?.searchParams.get('state') as string)
    const before = [workforce.counts('token'), customers.counts('token')]
    const missing = await browser.navigate(stripped, { 'sec-fetch-site': 'cross-site' })
    expect(missing.status).toBe(400)
    expect(missing.body).toContain('did not say who it is')
    expect([workforce.counts('token'), customers.counts('token')]).toEqual(before)
    expect((await me(browser)).status).toBe(401)
  })

  it('keeps a tenant session out of another tenant host (resolveProvider)', async () => {
    const atWorkforce = await signedInAt(workforce, 'dave')
    const atCustomers = await signedInAt(customers, 'dave')
    // at the app's own host the resolver does not decide: both are valid
    expect((await me(atWorkforce)).status).toBe(200)
    expect((await me(atCustomers)).status).toBe(200)
    // at the customer tenant's host, only the customer provider's session
    expect((await me(atCustomers, tenantHost)).status).toBe(200)
    expect((await me(atWorkforce, tenantHost)).status).toBe(401)
    // and a login there is the customer provider's, which /login?iss= cannot change
    const there = await new Browser().request(`${baseUrl}/login`, {
      headers: { host: tenantHost, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
    })
    expect(there.status).toBe(302)
    expect(there.location?.origin).toBe(customers.issuer)
    const other = await new Browser().request(
      `${baseUrl}/login?iss=${encodeURIComponent(workforce.issuer)}`,
      { headers: { host: tenantHost, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' } },
    )
    expect(other.status).toBe(400)
  })

  it('logs a session out at its own provider', async () => {
    const browser = await signedInAt(customers, 'erin')
    const logout = await browser.request(`${baseUrl}/logout`, {
      method: 'POST',
      headers: { origin: baseUrl, 'content-type': FORM },
      body: '',
    })
    expect(logout.status).toBe(303)
    expect(logout.location?.origin).toBe(customers.issuer)
    expect(logout.location?.searchParams.get('client_id')).toBe(CUSTOMER_CLIENT)
    expect((await me(browser)).status).toBe(401)
  })

  it('sends a step-up of a session to its own provider, and back signed in there', async () => {
    const browser = await signedInAt(customers, 'frank')
    // the customer provider's login is now ten minutes old: a new app login carries that auth_time
    customers.ageSessions(600)
    for (let i = browser.cookies.length - 1; i >= 0; i--) {
      if (browser.cookies[i]?.host === 'localhost') browser.cookies.splice(i, 1)
    }
    const again = await browser.navigate(
      `${baseUrl}/login?iss=${encodeURIComponent(customers.issuer)}`,
    )
    await browser.navigate(await authorize(browser, again, 'frank'), {
      'sec-fetch-site': 'cross-site',
    })
    const stale = await browser.navigate(`${baseUrl}/step-up`)
    expect(stale.status).toBe(302)
    expect(stale.location?.origin).toBe(customers.issuer)
    expect(stale.location?.searchParams.get('client_id')).toBe(CUSTOMER_CLIENT)
    expect(stale.location?.searchParams.get('max_age')).toBe('300')
    const atProvider = await browser.navigate(stale.location as URL, {
      'sec-fetch-site': 'cross-site',
    })
    const login = await browser.navigate(atProvider.location as URL)
    const callback = await authorize(browser, login, 'frank')
    const back = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(back.status).toBe(302)
    expect(back.location?.href).toBe(`${baseUrl}/step-up`)
    expect((await browser.navigate(`${baseUrl}/step-up`)).status).toBe(200)
    expect((await me(browser)).json().sub).toBe('frank')
  })
})
