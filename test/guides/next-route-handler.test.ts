// app/api/me/route.test.ts: a Next.js Route Handler tested with vitest, no server, no provider
import { createCodeflow } from '@codeflow/next'
import { mintSession } from '@codeflow/testing'
import { describe, expect, it } from 'vitest'

// lib/codeflow.ts, as the app makes it
const codeflow = createCodeflow({
  issuer: 'https://accounts.example.com',
  clientId: 'my-app',
  clientSecret: 'my-app-secret',
  baseUrl: 'http://localhost:3000',
  secret: 'a-session-secret-of-at-least-32-characters',
})

// app/api/me/route.ts
const GET = codeflow.requireAuth(async (_request, { session }) =>
  Response.json({ sub: session.user.sub, acr: session.acr ?? null }),
)

const context = { params: Promise.resolve({}) }

describe('GET /api/me', () => {
  it('answers the signed-in user', async () => {
    const { cookie } = await mintSession(codeflow.auth, {
      user: { sub: 'user-1' },
      acr: 'urn:example:mfa',
    })
    const request = new Request('http://localhost:3000/api/me', { headers: { cookie } })
    const response = await GET(request, context)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ sub: 'user-1', acr: 'urn:example:mfa' })
  })

  it('answers 401 JSON without a session', async () => {
    const response = await GET(new Request('http://localhost:3000/api/me'), context)
    expect(response.status).toBe(401)
    expect((await response.json()).error).toBe('unauthenticated')
  })

  it('reads the session of a request with codeflow.getSession(request)', async () => {
    const { cookie } = await mintSession(codeflow.auth, { user: { sub: 'user-2' } })
    const request = new Request('http://localhost:3000/', { headers: { cookie } })
    expect((await codeflow.getSession(request))?.user.sub).toBe('user-2')
  })
})
