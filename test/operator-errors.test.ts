/**
 * Failures tell the operator, by default (the console), in one line, what went wrong and what to
 * change (issue 15): a wrong client secret, a wrong issuer path, an issuer the provider's metadata
 * does not name, a browser on another loopback name than `baseUrl`; configuration mistakes are
 * not answered as a retryable outage; a cancelled sign-in is a calm page. On every adapter.
 */
import { describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { authorize, startLogin } from './support/flow.js'
import { captureLogs } from './support/logs.js'
import { startScriptedStack } from './support/stack.js'

const NAVIGATE = { 'sec-fetch-site': 'cross-site' }

describe.each(harnesses)('operator errors ($name)', (harness) => {
  it('names invalid_client and the options to check when the client secret is wrong, once', async () => {
    const stack = await startScriptedStack(harness, { auth: { clientSecret: 'not-the-secret' } })
    const logs = captureLogs(stack.instances[0] as (typeof stack.instances)[0])
    try {
      const browser = stack.browser()
      const callback = await authorize(browser, await startLogin(browser, stack.baseUrl))
      const response = await browser.navigate(callback, NAVIGATE)
      expect(response.status).toBe(502)
      const lines = logs.lines().filter((line) => line.includes('invalid_client'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(
        'the provider rejected the client credentials (invalid_client) at the code exchange: check "clientId", "clientSecret" and "clientAuth"',
      )
      expect(lines[0]).not.toContain('not-the-secret')
    } finally {
      logs.stop()
      await stack.close()
    }
  })

  it('answers a wrong issuer path as a configuration error (502, no Retry-After), naming the URL', async () => {
    const stack = await startScriptedStack(harness)
    const issuer = `${stack.provider.issuer}/wrong-path`
    await (stack.instances[0] as (typeof stack.instances)[0]).restart({ issuer })
    const logs = captureLogs(stack.instances[0] as (typeof stack.instances)[0])
    try {
      const response = await stack.browser().navigate(`${stack.baseUrl}/login`)
      expect(response.status).toBe(502)
      expect(response.header('retry-after')).toBeUndefined()
      const lines = logs.lines().filter((line) => line.includes('discovery'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(
        `discovery at ${issuer}/.well-known/openid-configuration answered 404: check "issuer"`,
      )
    } finally {
      logs.stop()
      await stack.close()
    }
  })

  it('says what issuer the provider names when "issuer" differs (localhost for 127.0.0.1)', async () => {
    const stack = await startScriptedStack(harness)
    const issuer = stack.provider.issuer.replace('127.0.0.1', 'localhost')
    await (stack.instances[0] as (typeof stack.instances)[0]).restart({ issuer })
    const logs = captureLogs(stack.instances[0] as (typeof stack.instances)[0])
    try {
      const response = await stack.browser().navigate(`${stack.baseUrl}/login`)
      expect(response.status).toBe(502)
      expect(response.header('retry-after')).toBeUndefined()
      const lines = logs.lines().filter((line) => line.includes('metadata says issuer'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(
        `the provider's metadata says issuer "${stack.provider.issuer}", but "issuer" is "${new URL(issuer).href}"`,
      )
    } finally {
      logs.stop()
      await stack.close()
    }
  })

  it('tells the operator when the browser opens the app at 127.0.0.1 while baseUrl is localhost', async () => {
    const stack = await startScriptedStack(harness)
    const instance = stack.instances[0] as (typeof stack.instances)[0]
    const logs = captureLogs(instance)
    try {
      const browser = stack.browser()
      const other = `http://127.0.0.1:${instance.port}`
      const start = await browser.navigate(`${other}/login`)
      expect(start.status).toBe(302)
      const callback = await authorize(browser, start)
      expect(callback.origin).toBe(stack.baseUrl)
      const response = await browser.navigate(callback, NAVIGATE)
      expect(response.status).toBe(400)
      const lines = logs.lines().filter((line) => line.includes('host_mismatch'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(
        `this browser started a login at http://127.0.0.1:${instance.port}, but "baseUrl" is ${stack.baseUrl}`,
      )
    } finally {
      logs.stop()
      await stack.close()
    }
  })

  it('answers a cancelled sign-in with a calm page that leads back', async () => {
    const stack = await startScriptedStack(harness)
    try {
      const browser = stack.browser()
      const callback = await authorize(browser, await startLogin(browser, stack.baseUrl))
      callback.searchParams.delete('code')
      callback.searchParams.set('error', 'access_denied')
      const response = await browser.navigate(callback, NAVIGATE)
      expect(response.status).toBe(403)
      expect(response.body).toContain('<title>Sign-in cancelled</title>')
      expect(response.body).not.toContain('Not allowed')
      expect(response.body).toContain('Back to the start page')
    } finally {
      await stack.close()
    }
  })
})
