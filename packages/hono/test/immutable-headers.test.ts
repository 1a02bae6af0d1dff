/**
 * A response whose headers are immutable (Response.redirect, a fetched response) gets codeflow's
 * headers on a copy. Apart from hono.test.ts, which loads Hono's Node server: it puts a Response
 * of its own in place, whose headers can be changed.
 */
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { type AuthEnv, auth } from '../src/index.js'

describe('@codeflow/hono and immutable headers', () => {
  const options = {
    issuer: 'http://127.0.0.1:9',
    allowInsecureRequests: true,
    clientId: 'x',
    baseUrl: 'http://localhost:3000',
    secret: 'a-secret-of-at-least-thirty-two-characters',
    logger: false as const,
  }

  it('copies a response whose headers are immutable to put its headers on it', async () => {
    const redirect = Response.redirect('http://localhost:3000/', 302)
    expect(() => redirect.headers.set('x-probe', '1')).toThrow(TypeError)
    const app = new Hono<AuthEnv>()
    app.use(auth(options))
    app.get('/away', () => Response.redirect('http://localhost:3000/elsewhere', 302))
    // an unreadable session cookie: the core deletes it, and the answer varies on Cookie
    const response = await app.request('/away', { headers: { cookie: 'codeflow=junk' } })
    expect(response.status).toBe(302)
    expect(response.headers.get('location')).toBe('http://localhost:3000/elsewhere')
    expect(response.headers.get('vary')).toMatch(/\bCookie\b/)
  })
  it('leaves a protocol switch (a WebSocket upgrade) as it is', async () => {
    const app = new Hono<AuthEnv>()
    app.use(auth(options))
    app.get('/socket', () => {
      // what Deno.upgradeWebSocket answers: a 101 with immutable headers (it cannot be copied)
      const upgrade = Response.redirect('http://localhost:3000/', 302)
      Object.defineProperty(upgrade, 'status', { value: 101 })
      return upgrade
    })
    const response = await app.request('/socket', { headers: { cookie: 'codeflow=junk' } })
    expect(response.status).toBe(101)
  })
})
