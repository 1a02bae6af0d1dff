import { startDevProvider } from '@codeflow/dev-provider'
import { describe, expect, it } from 'vitest'
import { harnesses } from './harness/index.js'
import { Browser } from './support/browser.js'
import { signIn } from './support/flow.js'
import { CLIENT_ID, CLIENT_SECRET, freePort, SECRET } from './support/stack.js'

describe.each(harnesses)('provider availability ($name)', (harness) => {
  it('starts while the provider is down, answers 503 with Retry-After, then recovers', async () => {
    const providerPort = await freePort()
    const appPort = await freePort()
    const baseUrl = `http://localhost:${appPort}`
    const app = await harness.start({
      port: appPort,
      auth: {
        issuer: `http://127.0.0.1:${providerPort}`,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        baseUrl,
        secret: SECRET,
        allowInsecureRequests: true,
      },
    })
    try {
      const browser = new Browser()
      const home = await browser.navigate(`${baseUrl}/`)
      expect(home.status).toBe(200)
      const down = await browser.navigate(`${baseUrl}/login`)
      expect(down.status).toBe(503)
      expect(Number(down.header('retry-after'))).toBeGreaterThan(0)
      expect(down.header('cache-control')).toBe('no-store')
      expect(down.setCookies).toEqual([])
      expect(down.body).not.toMatch(/ECONNREFUSED|at .*\.js:\d+/)
      const api = await browser.request(`${baseUrl}/login`, {
        headers: { accept: 'application/json' },
      })
      expect(api.status).toBe(503)
      expect(api.json()).toMatchObject({ error: 'discovery_failed' })

      const provider = await startDevProvider({
        port: providerPort,
        clients: [
          {
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
            redirectUris: [`${baseUrl}/callback`],
            postLogoutRedirectUris: [`${baseUrl}/`],
          },
        ],
      })
      try {
        const callback = await signIn(browser, baseUrl, { returnTo: '/profile' })
        expect(callback.status).toBe(302)
        expect(callback.location?.href).toBe(`${baseUrl}/profile`)
        expect(provider.counts('discovery')).toBe(1)
      } finally {
        await provider.close()
      }
    } finally {
      await app.close()
    }
  })
})
