/**
 * A step that fails without an error (a store rejecting with `undefined`): a rejection with nothing
 * would leave Koa without an error to answer with (the request would hang). It must be an error,
 * the route never reached.
 */
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { createAuth, createMemoryStore, type SessionStore } from '@codeflow/core'
import Koa from 'koa'
import { expect, it } from 'vitest'
import { mintSession } from '../../testing/src/index.js'
import { auth, requireAuth } from '../src/index.js'

const options = {
  issuer: 'https://op.example',
  clientId: 'x',
  baseUrl: 'http://localhost:3000',
  secret: 'a-secret-of-at-least-thirty-two-characters',
  logger: false as const,
}

it('never lets a request through when a step fails without an error', async () => {
  const { cookie } = await mintSession(
    createAuth({ ...options, session: { store: createMemoryStore() } }),
    { user: { sub: 'u' } },
  )
  const failing: SessionStore = {
    get: () => Promise.reject(undefined),
    set: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  }
  let ran = false
  const app = new Koa()
  app.silent = true
  app.use(auth({ ...options, session: { store: failing } }))
  app.use(requireAuth())
  app.use((ctx) => {
    ran = true
    ctx.body = 'protected'
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const { port } = server.address() as AddressInfo
    const response = await fetch(`http://127.0.0.1:${port}/protected`, { headers: { cookie } })
    expect(response.status).toBe(500)
    expect(ran).toBe(false)
  } finally {
    server.close()
    server.closeAllConnections()
  }
})
