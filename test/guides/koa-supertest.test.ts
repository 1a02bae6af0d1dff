// test/api.test.ts: a Koa app's API tested with supertest, with sessions in a server-side store
import { createMemoryStore } from '@codeflow/core'
import { auth, requireAuth } from '@codeflow/koa'
import { mintSession } from '@codeflow/testing'
import Koa from 'koa'
import request from 'supertest'
import { describe, expect, it } from 'vitest'

// the same options (the same store object) for the app and for mintSession
const options = {
  issuer: 'https://accounts.example.com',
  clientId: 'my-app',
  baseUrl: 'http://localhost:3000',
  secret: 'a-session-secret-of-at-least-32-characters',
  session: { store: createMemoryStore() },
}

const app = new Koa()
app.use(auth(options))
app.use(requireAuth({ claims: { groups: { includes: 'admin' } } }))
app.use((ctx) => {
  ctx.body = { admin: ctx.state.auth?.user?.sub }
})

describe('the admin API', () => {
  it('lets an administrator in', async () => {
    const { cookie } = await mintSession(options, {
      user: { sub: 'root', groups: ['admin'] },
    })
    const response = await request(app.callback()).get('/').set('Cookie', cookie)
    expect(response.status).toBe(200)
    expect(response.body).toEqual({ admin: 'root' })
  })

  it('answers 403 to a user outside the group', async () => {
    const { cookie } = await mintSession(options, { user: { sub: 'guest', groups: ['users'] } })
    expect((await request(app.callback()).get('/').set('Cookie', cookie)).status).toBe(403)
  })

  it('answers 401 once the session is gone from the store', async () => {
    const { cookie, session } = await mintSession(options, {
      user: { sub: 'root', groups: ['admin'] },
    })
    await options.session.store.delete(session.id)
    expect((await request(app.callback()).get('/').set('Cookie', cookie)).status).toBe(401)
  })
})
