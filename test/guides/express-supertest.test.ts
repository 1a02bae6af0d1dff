// test/api.test.ts: an Express app's API tested with supertest, signed in without a provider
import { auth, requireAuth } from '@codeflow/express'
import { mintSession } from '@codeflow/testing'
import express from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'

// the options your app passes to auth(); in a real app, import them from where it makes them
const options = {
  issuer: 'https://accounts.example.com',
  clientId: 'my-app',
  clientSecret: 'my-app-secret',
  baseUrl: 'http://localhost:3000',
  secret: 'a-session-secret-of-at-least-32-characters',
}

const app = express()
app.use(auth(options))
app.get(
  '/api/me',
  requireAuth((req, res) => {
    res.json({ email: req.auth.user.email })
  }),
)

describe('GET /api/me', () => {
  it('answers a signed-in user', async () => {
    const { cookie } = await mintSession(options, {
      user: { sub: 'user-1', email: 'user-1@example.com' },
    })
    const response = await request(app).get('/api/me').set('Cookie', cookie)
    expect(response.status).toBe(200)
    expect(response.body).toEqual({ email: 'user-1@example.com' })
  })

  it('refuses an anonymous request with 401', async () => {
    expect((await request(app).get('/api/me')).status).toBe(401)
  })

  it('refuses a session past its lifetime', async () => {
    const eightDaysAgo = Math.floor(Date.now() / 1000) - 8 * 24 * 3600
    const { cookie } = await mintSession(options, {
      user: { sub: 'user-1' },
      createdAt: eightDaysAgo,
    })
    expect((await request(app).get('/api/me').set('Cookie', cookie)).status).toBe(401)
  })
})
