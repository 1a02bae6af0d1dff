import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import type { Browser } from './support/browser.js'
import { authorize, signIn, startLogin } from './support/flow.js'
import { SECRET, type Stack, startStack } from './support/stack.js'

function setSessionCookie(browser: Browser, baseUrl: string, name: string, value: string): void {
  const host = new URL(baseUrl).hostname
  const existing = browser.cookies.filter(
    (c) => !(c.host === host && c.name.startsWith('codeflow')),
  )
  browser.cookies.splice(0, browser.cookies.length, ...existing)
  browser.cookies.push({
    name,
    value,
    host,
    path: '/',
    expires: undefined,
    secure: false,
    httpOnly: true,
    sameSite: 'lax',
    raw: '',
  })
}

describe.each(harnesses)('session cookies ($name)', (harness) => {
  let stack: Stack
  let sealed: string
  beforeAll(async () => {
    stack = await startStack(harness)
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    sealed = browser.cookie(stack.baseUrl, 'codeflow')?.value as string
  })
  afterAll(() => stack?.close())

  async function expectAnonymousWith(value: string, name = 'codeflow'): Promise<void> {
    const browser = stack.browser()
    setSessionCookie(browser, stack.baseUrl, name, value)
    const api = await browser.request(`${stack.baseUrl}/api/me`)
    expect(api.status).toBe(401)
    const page = await browser.navigate(`${stack.baseUrl}/`)
    expect(page.status).toBe(200)
    expect(page.body).toContain('You are not signed in')
    const profile = await browser.navigate(`${stack.baseUrl}/profile`)
    expect(profile.status).toBe(302)
  }

  it('accepts the genuine cookie', async () => {
    const browser = stack.browser()
    setSessionCookie(browser, stack.baseUrl, 'codeflow', sealed)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(200)
  })

  it('treats a tampered cookie as anonymous, never a 500', async () => {
    const middle = Math.floor(sealed.length / 2)
    const flipped = sealed[middle] === 'A' ? 'B' : 'A'
    await expectAnonymousWith(sealed.slice(0, middle) + flipped + sealed.slice(middle + 1))
  })

  it('treats a truncated cookie as anonymous', async () => {
    await expectAnonymousWith(sealed.slice(0, sealed.length - 10))
    await expectAnonymousWith(sealed.slice(0, 20))
  })

  it('treats garbage as anonymous', async () => {
    for (const value of [
      '',
      'x',
      'Fe26.2**',
      '%00%ff',
      'Fe26.2*1*a*b*c*d*e*f*g',
      '"quoted"',
      'a'.repeat(3000),
    ]) {
      await expectAnonymousWith(value)
    }
  })

  it('treats a cookie sealed with another secret as anonymous', async () => {
    const other = await startStack(harness, { auth: { secret: `${SECRET}-but-another-one` } })
    try {
      const browser = other.browser()
      await signIn(browser, other.baseUrl)
      const foreign = browser.cookie(other.baseUrl, 'codeflow')?.value as string
      expect(foreign).toBeTruthy()
      await expectAnonymousWith(foreign)
    } finally {
      await other.close()
    }
  })

  it('never accepts a transaction cookie as a session cookie', async () => {
    const browser = stack.browser()
    const start = await startLogin(browser, stack.baseUrl)
    expect(start.status).toBe(302)
    const transaction = browser.cookies.find((c) => c.name.startsWith('codeflow_tx.'))
    expect(transaction).toBeDefined()
    await expectAnonymousWith(transaction?.value as string)
  })

  it('never accepts a session cookie as a transaction cookie', async () => {
    const browser = stack.browser()
    const start = await startLogin(browser, stack.baseUrl)
    const callback = await authorize(browser, start)
    const state = callback.searchParams.get('state') as string
    // swap the transaction cookie's value for a genuine session seal
    const transaction = browser.cookies.find((c) => c.name === `codeflow_tx.${state}`)
    expect(transaction).toBeDefined()
    if (transaction) transaction.value = sealed
    const tokensBefore = stack.provider.counts('token')
    const response = await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })
    expect(response.status).toBe(400)
    expect(stack.provider.counts('token')).toBe(tokensBefore)
  })

  it('ignores the provider cookies on the same host and stray cookies', async () => {
    const browser = stack.browser()
    setSessionCookie(browser, stack.baseUrl, 'codeflow', sealed)
    const response = await browser.request(`${stack.baseUrl}/api/me`, {
      cookies: false,
      headers: {
        cookie: `_session=abc; op_session=x; codeflow.7=junk; codeflow=${sealed}; codeflow=second`,
      },
    })
    expect(response.status).toBe(200)
  })
})

describe.each(harnesses)('large sessions ($name)', (harness) => {
  let stack: Stack
  // random ids: sessions are deflated, and repetitive claims would fit in one cookie
  const groups = Array.from({ length: 150 }, () => randomBytes(36).toString('base64url'))
  beforeAll(async () => {
    stack = await startStack(harness, { provider: { claims: { groups } } })
  })
  afterAll(() => stack?.close())

  it('chunks a 10 KB session across cookies, each Set-Cookie at most 4096 bytes', async () => {
    const browser = stack.browser()
    const callback = await signIn(browser, stack.baseUrl)
    expect(callback.status).toBe(302)
    const chunks = callback.setCookies.filter((c) => /^codeflow\.\d+=/.test(c))
    expect(chunks.length).toBeGreaterThanOrEqual(2)
    expect(chunks.length).toBeLessThanOrEqual(3)
    const total = chunks.reduce((sum, c) => sum + c.length, 0)
    expect(total).toBeGreaterThan(8 * 1024)
    for (const header of callback.setCookies) expect(header.length).toBeLessThanOrEqual(4096)
    const me = await browser.request(`${stack.baseUrl}/api/me`)
    expect(me.status).toBe(200)
    expect(me.json().groups).toEqual(groups)
  })

  it('deletes every chunk at logout', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const names = browser.cookies.filter((c) => /^codeflow\.\d+$/.test(c.name)).map((c) => c.name)
    expect(names.length).toBeGreaterThanOrEqual(2)
    const response = await browser.postForm(
      `${stack.baseUrl}/logout`,
      {},
      { origin: stack.baseUrl },
    )
    for (const name of names) {
      expect(
        response.setCookies.some((c) => c.startsWith(`${name}=;`) && /Max-Age=0/.test(c)),
      ).toBe(true)
    }
    expect(browser.cookies.filter((c) => c.name.startsWith('codeflow'))).toEqual([])
  })

  it('reads a session with a missing chunk as anonymous', async () => {
    const browser = stack.browser()
    await signIn(browser, stack.baseUrl)
    const index = browser.cookies.findIndex((c) => c.name === 'codeflow.1')
    expect(index).toBeGreaterThanOrEqual(0)
    browser.cookies.splice(index, 1)
    expect((await browser.request(`${stack.baseUrl}/api/me`)).status).toBe(401)
  })
})

describe.each(harnesses)('sessions too large for the cookie budget ($name)', (harness) => {
  it('signs the user in without the claims that do not fit, never a 500', async () => {
    const huge = { blob: randomBytes(30 * 1024).toString('base64url') }
    const stack = await startStack(harness, { provider: { claims: huge } })
    try {
      const browser = stack.browser()
      const response = await signIn(browser, stack.baseUrl)
      expect(response.status).toBe(302)
      expect(response.header('cache-control')).toBe('no-store')
      const cookies = response.setCookies.filter((c) => /^codeflow(\.\d+)?=[^;]/.test(c))
      expect(cookies.length).toBeGreaterThan(0)
      expect(cookies.length).toBeLessThanOrEqual(3)
      const me = await browser.request(`${stack.baseUrl}/api/me`)
      expect(me.status).toBe(200)
      expect(me.json().sub).toBe('alice')
      expect(me.json().blob).toBeUndefined()
    } finally {
      await stack.close()
    }
  })
})
