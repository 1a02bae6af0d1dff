// test/api.test.ts: a Hono app tested with app.request(), signed in without a provider or a server
import { type AuthEnv, auth, requireAuth } from '@codeflow/hono'
import { mintSession } from '@codeflow/testing'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'

// the options your app passes to auth(); in a real app, import them from where it makes them
const options = {
  issuer: 'https://accounts.example.com',
  clientId: 'my-app',
  clientSecret: 'my-app-secret',
  baseUrl: 'http://localhost:3000',
  secret: 'a-session-secret-of-at-least-32-characters',
}

const app = new Hono<AuthEnv>()
app.use(auth(options))
app.get('/api/me', requireAuth({ unauthenticated: 'json' }), (c) =>
  c.json({ email: c.var.auth.user.email }),
)

describe('GET /api/me', () => {
  it('answers a signed-in user', async () => {
    const { cookie } = await mintSession(options, {
      user: { sub: 'user-1', email: 'user-1@example.com' },
    })
    const response = await app.request('/api/me', { headers: { cookie } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ email: 'user-1@example.com' })
  })

  it('refuses an anonymous request with 401', async () => {
    expect((await app.request('/api/me')).status).toBe(401)
  })
})
