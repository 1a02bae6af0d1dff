/**
 * The example apps as users run them: their own process, configured by the environment of
 * examples/README.md, against the embedded dev provider and against a separately started, standard
 * oidc-provider named by OIDC_ISSUER.
 */
import { createServer, type Server } from 'node:http'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDevProvider } from '@codeflow/dev-provider'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Browser } from './support/browser.js'
import { authorize, signIn } from './support/flow.js'
import { listeningAddresses, spawnProcess, waitForOutput } from './support/process.js'
import { confirmLogoutAt } from './support/provider-logout.js'
import { freePort } from './support/stack.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Every example app, started with its built server: `node <main> ...args`. */
const examples: { name: string; dir: string; main: string; args?: string[] }[] = [
  { name: 'express', dir: resolve(root, 'examples/express'), main: 'dist/server.js' },
  { name: 'koa', dir: resolve(root, 'examples/koa'), main: 'dist/server.js' },
  { name: 'fastify', dir: resolve(root, 'examples/fastify'), main: 'dist/server.js' },
  { name: 'hono', dir: resolve(root, 'examples/hono'), main: 'dist/server.js' },
  // `pnpm start`: `next start` of the build that `pnpm test` makes first, bound to HOST
  { name: 'next', dir: resolve(root, 'examples/next'), main: 'scripts/start.mjs' },
]

/** A plain oidc-provider, configured by hand: the "any standard provider" of the contract. */
async function startStandardProvider(
  baseUrl: string,
): Promise<{ issuer: string; close(): Promise<void> }> {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'standard-1', use: 'sig', alg: 'RS256' }
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'standard-client',
        client_secret: 'standard-client-secret',
        redirect_uris: [`${baseUrl}/callback`],
        post_logout_redirect_uris: [`${baseUrl}/`],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['standard-provider-cookie-key'] },
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    conformIdTokenClaims: false,
    ttl: { AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        claims: async () => ({ sub, name: `Standard ${sub}`, email: `${sub}@standard.test` }),
      }
    },
  })
  const server: Server = createServer(provider.callback())
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done))
  return {
    issuer,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done())
        server.closeAllConnections()
      }),
  }
}

describe.each(examples)('the $name example as a process', (example) => {
  let port: number
  let baseUrl: string
  beforeAll(async () => {
    port = await freePort()
    baseUrl = `http://localhost:${port}`
  })

  it('starts the embedded dev provider when OIDC_ISSUER is unset, and signs in and out', async () => {
    const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
      cwd: example.dir,
      env: { PORT: String(port) },
    })
    try {
      await waitForOutput(app, /press Ctrl\+C/)
      expect(app.output()).toContain(`open ${baseUrl}/`)
      expect(app.output()).toMatch(/any username and any password/)
      const browser = new Browser()
      const callback = await signIn(browser, baseUrl, { returnTo: '/profile' })
      expect(callback.location?.href).toBe(`${baseUrl}/profile`)
      expect((await browser.request(`${baseUrl}/api/me`)).json().sub).toBe('alice')
      const token = await browser.request(`${baseUrl}/api/token`)
      expect(token.json().expiresAt).toBeGreaterThan(Date.now() / 1000)
      const logout = await browser.postForm(`${baseUrl}/logout`, {}, { origin: baseUrl })
      expect(logout.status).toBe(303)
      expect(logout.location?.searchParams.get('id_token_hint')).toBeTruthy()
      expect((await browser.request(`${baseUrl}/api/me`)).status).toBe(401)
    } finally {
      await app.stop()
    }
  })

  it.each([
    'OIDC_CLIENT_AUTH=private_key_jwt',
    'OIDC_CLIENT_AUTH=client_secret_jwt',
    'OIDC_CLIENT_AUTH=tls_client_auth',
    'OIDC_CLIENT_AUTH=self_signed_tls_client_auth',
    'OIDC_PAR=true',
    'OIDC_JAR=true',
    'OIDC_DPOP=true',
  ])(
    'with %s alone, the embedded dev provider requires it, and the sign-in works',
    async (variable) => {
      const [name, value] = variable.split('=') as [string, string]
      const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
        cwd: example.dir,
        env: { PORT: String(port), [name]: value },
      })
      try {
        await waitForOutput(app, /press Ctrl\+C/)
        const browser = new Browser()
        await signIn(browser, baseUrl)
        expect((await browser.request(`${baseUrl}/api/me`)).json().sub).toBe('alice')
        expect(app.output()).not.toMatch(/invalid_client/)
      } finally {
        await app.stop()
      }
    },
  )

  it('listens on 127.0.0.1 alone when HOST is unset, and where HOST says', async () => {
    for (const [host, expected] of [
      [undefined, ['127.0.0.1']],
      ['0.0.0.0', ['0.0.0.0']],
    ] as const) {
      const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
        cwd: example.dir,
        env: { PORT: String(port), ...(host === undefined ? {} : { HOST: host }) },
      })
      try {
        await waitForOutput(app, /press Ctrl\+C/)
        expect(listeningAddresses(port)).toEqual(expected)
      } finally {
        await app.stop()
      }
    }
  })

  it('registers its back-channel logout with the embedded dev provider: a sign-out there ends the session', async () => {
    const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
      cwd: example.dir,
      env: { PORT: String(port) },
    })
    try {
      await waitForOutput(app, /press Ctrl\+C/)
      const issuer = /the embedded dev provider at (\S+)/.exec(app.output())?.[1] as string
      const browser = new Browser()
      await signIn(browser, baseUrl)
      expect((await browser.request(`${baseUrl}/api/me`)).status).toBe(200)
      await confirmLogoutAt(issuer, browser)
      expect((await browser.request(`${baseUrl}/api/me`)).status).toBe(401)
    } finally {
      await app.stop()
    }
  })

  describe('against a standard provider named by OIDC_ISSUER', () => {
    let provider: { issuer: string; close(): Promise<void> }
    beforeAll(async () => {
      provider = await startStandardProvider(baseUrl)
    })
    afterAll(() => provider.close())

    it('obeys the contract', async () => {
      const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
        cwd: example.dir,
        env: {
          PORT: String(port),
          APP_BASE_URL: baseUrl,
          OIDC_ISSUER: provider.issuer,
          OIDC_CLIENT_ID: 'standard-client',
          OIDC_CLIENT_SECRET: 'standard-client-secret',
          SESSION_SECRET: 'a-production-like-secret-of-enough-length-0123',
          NODE_ENV: 'production',
        },
      })
      try {
        await waitForOutput(app, /press Ctrl\+C/)
        expect(app.output()).toContain(provider.issuer)
        const browser = new Browser()
        const anonymous = await browser.navigate(`${baseUrl}/profile`)
        expect(anonymous.status).toBe(302)
        expect(anonymous.location?.search).toBe('?returnTo=%2Fprofile')
        expect((await browser.request(`${baseUrl}/api/me`)).status).toBe(401)

        const callback = await signIn(browser, baseUrl, { login: 'erin', returnTo: '/profile' })
        expect(callback.status).toBe(302)
        expect(callback.header('cache-control')).toBe('no-store')
        const profile = await browser.navigate(`${baseUrl}/profile`)
        expect(profile.body).toContain('<code id="sub">erin</code>')
        const me = await browser.request(`${baseUrl}/api/me`)
        expect(me.header('cache-control')).toBe('no-store')
        expect(me.json()).toMatchObject({ sub: 'erin', name: 'Standard erin' })
        const token = await browser.request(`${baseUrl}/api/token`)
        expect(token.status).toBe(200)
        expect(token.json().expiresAt).toBeGreaterThan(Date.now() / 1000)

        const logout = await browser.postForm(`${baseUrl}/logout`, {}, { origin: baseUrl })
        expect(logout.status).toBe(303)
        expect(logout.location?.origin).toBe(provider.issuer)
        expect(logout.location?.searchParams.get('post_logout_redirect_uri')).toBe(`${baseUrl}/`)
        expect((await browser.request(`${baseUrl}/api/me`)).status).toBe(401)
        // production mode: an unexpected error page never shows a stack trace
        expect(app.output()).not.toMatch(/Error:/)
      } finally {
        await app.stop()
      }
    })
  })

  it('refuses to start in production without SESSION_SECRET, naming it', async () => {
    const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
      cwd: example.dir,
      env: {
        PORT: String(port),
        NODE_ENV: 'production',
        OIDC_ISSUER: 'https://op.example',
        OIDC_CLIENT_ID: 'x',
      },
    })
    const code = await app.exited
    expect(code).toBe(1)
    expect(app.output()).toContain('SESSION_SECRET')
  })

  it('signs in with a provider of OIDC_PROVIDERS when /login?iss= names it, and with the first otherwise', async () => {
    const second = await startDevProvider({
      clients: [
        {
          clientId: 'second-client',
          clientSecret: 'second-client-secret',
          redirectUris: [`${baseUrl}/callback`],
          postLogoutRedirectUris: [`${baseUrl}/`],
        },
      ],
    })
    const providers = [
      {
        id: 'second',
        issuer: second.issuer,
        clientId: 'second-client',
        clientSecret: 'second-client-secret',
      },
    ]
    const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
      cwd: example.dir,
      env: { PORT: String(port), OIDC_PROVIDERS: JSON.stringify(providers) },
    })
    try {
      await waitForOutput(app, /press Ctrl\+C/)
      const first = await new Browser().navigate(`${baseUrl}/login`)
      expect(first.status).toBe(302)
      expect(first.location?.searchParams.get('client_id')).toBe('codeflow-example')
      const browser = new Browser()
      const start = await browser.navigate(
        `${baseUrl}/login?iss=${encodeURIComponent(second.issuer)}`,
      )
      expect(start.status).toBe(302)
      expect(start.location?.origin).toBe(second.issuer)
      const callback = await authorize(browser, start, 'grace')
      expect((await browser.navigate(callback, { 'sec-fetch-site': 'cross-site' })).status).toBe(
        302,
      )
      expect((await browser.request(`${baseUrl}/api/me`)).json().sub).toBe('grace')
    } finally {
      await app.stop()
      await second.close()
    }
  })

  it.each([
    ['not JSON', 'providers', /OIDC_PROVIDERS must be a JSON array/],
    [
      'a member without clientId',
      '[{"issuer":"http://127.0.0.1:9"}]',
      /"providers\[1\]\.clientId"/,
    ],
    [
      'an unknown member',
      '[{"issuer":"http://127.0.0.1:9","clientId":"x","colour":"red"}]',
      /OIDC_PROVIDERS\[0\] has no member "colour"/,
    ],
  ])('refuses OIDC_PROVIDERS with %s, naming it', async (_label, value, message) => {
    const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
      cwd: example.dir,
      env: { PORT: String(port), OIDC_PROVIDERS: value },
    })
    expect(await app.exited).toBe(1)
    expect(app.output()).toMatch(message)
  })

  it('refuses an invalid option with a message naming it', async () => {
    const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
      cwd: example.dir,
      env: {
        PORT: String(port),
        OIDC_ISSUER: 'http://op.example',
        OIDC_CLIENT_ID: 'x',
        SESSION_SECRET: 'short',
      },
    })
    const code = await app.exited
    expect(code).toBe(1)
    expect(app.output()).toMatch(/"secret"|"issuer"/)
  })

  it('stops with the embedded dev provider when the core refuses an option, naming it', async () => {
    const app = spawnProcess('node', [example.main, ...(example.args ?? [])], {
      cwd: example.dir,
      // a scope without openid: refused by the core, after the dev provider started
      env: { PORT: String(port), OIDC_SCOPE: 'profile email' },
    })
    const code = await app.exited
    expect(code).toBe(1)
    expect(app.output()).toContain('"scope" must be')
  })
})
