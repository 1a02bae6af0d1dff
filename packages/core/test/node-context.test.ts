/**
 * `createNodeContext`, the context Express and Koa share: which request target it reads, and the
 * cookies it records for an adapter whose framework may drop response headers (Koa on errors).
 */
import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { createNodeContext } from '../src/adapter.js'
import { destroySession } from '../src/index.js'
import { APP, testAuth } from './support.js'

function nodeRequest(
  url: string,
  options: { originalUrl?: string; cookie?: string } = {},
): IncomingMessage & { originalUrl?: string } {
  const req: IncomingMessage & { originalUrl?: string } = new IncomingMessage(new Socket())
  req.method = 'GET'
  req.url = url
  if (options.originalUrl !== undefined) req.originalUrl = options.originalUrl
  if (options.cookie !== undefined) {
    req.headers.cookie = options.cookie
    req.rawHeaders.push('Cookie', options.cookie)
  }
  return req
}

function respond(req: IncomingMessage): ServerResponse {
  return new ServerResponse(req)
}

describe('createNodeContext: the request target', () => {
  it('reads req.originalUrl (Express), else req.url', () => {
    const express = nodeRequest('/login', { originalUrl: '/auth/login?returnTo=%2Fa' })
    expect(createNodeContext(express, respond(express), APP).url.href).toBe(
      `${APP}/auth/login?returnTo=%2Fa`,
    )
    const plain = nodeRequest('/profile?tab=1')
    expect(createNodeContext(plain, respond(plain), APP).url.href).toBe(`${APP}/profile?tab=1`)
  })

  it('reads an explicit target first (Koa: ctx.originalUrl, when a sub-app rewrote req.url)', () => {
    const req = nodeRequest('/login')
    const ctx = createNodeContext(req, respond(req), APP, '/app/login?returnTo=%2Fapp')
    expect(ctx.url.pathname).toBe('/app/login')
    expect(ctx.url.searchParams.get('returnTo')).toBe('/app')
  })

  it('keeps the target on the configured origin, whatever it looks like', () => {
    const req = nodeRequest('/')
    const ctx = createNodeContext(req, respond(req), APP, '//evil.example/x?y')
    expect(ctx.url.origin).toBe(APP)
    expect(ctx.url.pathname).toBe('//evil.example/x')
  })

  it('takes the target when the context is made, not when the URL is first read', () => {
    const req = nodeRequest('/app/profile')
    const ctx = createNodeContext(req, respond(req), APP)
    req.url = '/profile'
    expect(ctx.url.pathname).toBe('/app/profile')
  })
})

describe('createNodeContext: cookies', () => {
  it('starts with no cookies', () => {
    const req = nodeRequest('/')
    const res = respond(req)
    expect(createNodeContext(req, res, APP).cookies).toEqual([])
    expect(res.getHeader('set-cookie')).toBeUndefined()
  })

  it('records every cookie it appends to the response, in order', () => {
    const auth = testAuth()
    const req = nodeRequest('/', { cookie: 'codeflow.0=a; codeflow.1=b; other=c' })
    const res = respond(req)
    res.setHeader('set-cookie', ['app=1; Path=/'])
    const ctx = createNodeContext(req, res, APP)
    destroySession(auth, ctx)
    expect(ctx.cookies.map((cookie) => [cookie.name, cookie.options.maxAge])).toEqual([
      ['codeflow.0', 0],
      ['codeflow.1', 0],
    ])
    // the app's own cookie stays, and is not one of the core's
    expect(res.getHeader('set-cookie')).toEqual([
      'app=1; Path=/',
      ...ctx.cookies.map((cookie) => cookie.header),
    ])
  })
})

describe('createNodeContext: headers written through a view of a reply', () => {
  it('appends Set-Cookie, sets Cache-Control and Vary through it, not on a ServerResponse', async () => {
    const auth = testAuth()
    const req = nodeRequest('/', { cookie: 'codeflow.0=a' })
    const headers = new Map<string, string | string[]>([['vary', 'Accept']])
    const calls: string[] = []
    const view = {
      headersSent: false,
      getHeader: (name: string) => headers.get(name.toLowerCase()),
      setHeader(name: string, value: string) {
        calls.push(`set ${name}`)
        headers.set(name.toLowerCase(), value)
      },
      appendHeader(name: string, value: string) {
        calls.push(`append ${name}`)
        const key = name.toLowerCase()
        headers.set(key, [...[headers.get(key) ?? []].flat(), value])
      },
    }
    const ctx = createNodeContext(req, view, APP)
    ctx.varyOnCookie?.()
    destroySession(auth, ctx)
    expect(headers.get('vary')).toBe('Accept, Cookie')
    expect(headers.get('set-cookie')).toEqual(ctx.cookies.map((cookie) => cookie.header))
    expect(headers.get('cache-control')).toBe('no-store')
    expect(calls).toEqual(['set Vary', 'append Set-Cookie', 'set Cache-Control'])
  })

  it('adds no Vary once the headers are sent', () => {
    const req = nodeRequest('/')
    const headers = new Map<string, string>()
    const view = {
      headersSent: true,
      getHeader: (name: string) => headers.get(name),
      setHeader: (name: string, value: string) => headers.set(name, value),
      appendHeader: (name: string, value: string) => headers.set(name, value),
    }
    createNodeContext(req, view, APP).varyOnCookie?.()
    expect(headers.size).toBe(0)
  })
})
