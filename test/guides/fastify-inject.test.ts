// test/api.test.ts: a Fastify app's API tested with Fastify's own inject(), signed in without a provider
import { authErrorHandler, codeflow, requireAuth } from '@codeflow/fastify'
import { mintSession } from '@codeflow/testing'
import Fastify from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'

const options = {
  issuer: 'https://accounts.example.com',
  clientId: 'my-app',
  baseUrl: 'http://localhost:3000',
  secret: 'a-session-secret-of-at-least-32-characters',
}

const app = Fastify()
app.register(codeflow, options)
app.setErrorHandler(authErrorHandler())
app.get(
  '/api/me',
  requireAuth((request) => ({ sub: request.auth.user.sub }), { unauthenticated: 'json' }),
)
afterAll(() => app.close())

describe('the API', () => {
  it('answers the signed-in user', async () => {
    const { cookie } = await mintSession(options, { user: { sub: 'alice' } })
    const response = await app.inject({ url: '/api/me', headers: { cookie } })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ sub: 'alice' })
  })

  it('answers 401 without a session', async () => {
    const response = await app.inject({ url: '/api/me' })
    expect(response.statusCode).toBe(401)
    expect(response.json()).toMatchObject({ error: 'unauthenticated' })
  })
})
