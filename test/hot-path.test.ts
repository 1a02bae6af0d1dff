/**
 * The adapters' hot path (issue 9): with a cookie session already unsealed, Express's and Koa's
 * `auth()` and `requireAuth()`, and Fastify's plugin hook and `requireAuth()`, go on to the next
 * middleware in the same tick (no promise on the way), and the session is the one the cookie
 * carries.
 */
import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { createAuth, getSession } from '@codeflow/core'
import { createWebContext } from '@codeflow/core/adapter'
import * as express from '@codeflow/express'
import * as fastify from '@codeflow/fastify'
import * as koa from '@codeflow/koa'
import { describe, expect, it } from 'vitest'

const auth = createAuth({
  issuer: 'https://op.example.com',
  clientId: 'client',
  clientSecret: 'client-secret',
  baseUrl: 'http://localhost:3000',
  secret: 'a-hot-path-secret-of-at-least-32-characters',
})

/** A signed-in Cookie header: a session sealed by the core as a login would. */
async function signedIn(): Promise<string> {
  // the core's own session writer, from the same build the adapters import (an `Auth` belongs to
  // the copy of the core that made it)
  const { appOf } = await import('../packages/core/dist/auth.js')
  const { writeSession } = await import('../packages/core/dist/session/write.js')
  const now = Math.floor(Date.now() / 1000)
  const claims = Buffer.from(JSON.stringify({ sub: 'alice', name: 'Alice' })).toString('base64url')
  const ctx = createWebContext(new Request('http://localhost:3000/'))
  await writeSession(appOf(auth), ctx, {
    id: 'hot-path-session',
    iss: 'https://op.example.com',
    sub: 'alice',
    idToken: `eyJhbGciOiJSUzI1NiJ9.${claims}.c2ln`,
    accessToken: 'access',
    tokenType: 'bearer',
    createdAt: now,
    updatedAt: now,
  })
  const cookie = ctx.cookies.map((c) => `${c.name}=${c.value}`).join('; ')
  // the first read unseals (a promise); it fills the cache the adapters then hit
  const session = await getSession(
    auth,
    createWebContext(new Request('http://localhost:3000/', { headers: { cookie } })),
  )
  expect(session?.sub).toBe('alice')
  return cookie
}

function nodeRequest(cookie: string): { req: IncomingMessage; res: ServerResponse } {
  const req = new IncomingMessage(new Socket())
  req.method = 'GET'
  req.url = '/api/me'
  req.headers = { host: 'localhost:3000', cookie, accept: 'application/json' }
  return { req, res: new ServerResponse(req) }
}

describe('the hot path of the adapters', () => {
  it('Express: auth() and requireAuth() call next() before they return', async () => {
    const cookie = await signedIn()
    const { req, res } = nodeRequest(cookie)
    const calls: unknown[] = []
    express.auth(auth)(req as never, res as never, (error?: unknown) => calls.push(error))
    expect(calls).toEqual([undefined])
    express.requireAuth()(req as never, res as never, (error?: unknown) => calls.push(error))
    expect(calls).toEqual([undefined, undefined])
    expect((req as unknown as { auth: express.RequestAuth }).auth.user?.sub).toBe('alice')
  })

  it('Koa: auth() and requireAuth() call next() before they return', async () => {
    const cookie = await signedIn()
    const { req, res } = nodeRequest(cookie)
    const ctx = {
      req,
      res,
      originalUrl: '/api/me',
      request: {},
      state: {},
      onerror() {},
    } as unknown as Parameters<koa.AuthMiddleware>[0]
    let calls = 0
    const next = async () => {
      calls++
    }
    void koa.auth(auth)(ctx, next)
    expect(calls).toBe(1)
    void koa.requireAuth()(ctx, next)
    expect(calls).toBe(2)
    expect((ctx.state as { auth: koa.RequestAuth }).auth.user?.sub).toBe('alice')
  })

  it('Fastify: the plugin’s onRequest hook and requireAuth() call done() before they return', async () => {
    const cookie = await signedIn()
    const { req, res } = nodeRequest(cookie)
    // the plugin registered on a stand-in for the instance: it hands over its hook
    let hook:
      | ((request: unknown, reply: unknown, done: (error?: unknown) => void) => void)
      | undefined
    // what the plugin uses of the instance: its onRequest hook is kept, its routes declared
    const instance = {
      prefix: '',
      hasRequestDecorator: () => true,
      all: () => undefined,
      addHook: (name: string, handler: typeof hook) => {
        if (name === 'onRequest') hook = handler
      },
    }
    fastify.codeflow(instance as never, auth, () => undefined)
    const request = { raw: req, originalUrl: '/api/me', auth: null as fastify.RequestAuth | null }
    const reply = { raw: res, getHeader: () => undefined, header: () => reply }
    const calls: unknown[] = []
    hook?.(request, reply, (error?: unknown) => calls.push(error))
    expect(calls).toEqual([undefined])
    fastify
      .requireAuth()
      .call(instance as never, request as never, reply as never, (error?: unknown) =>
        calls.push(error),
      )
    expect(calls).toEqual([undefined, undefined])
    expect(request.auth?.user?.sub).toBe('alice')
  })
})
