/** The Cookie header a proxy passes on to the app after the core wrote cookies. */
import { describe, expect, it } from 'vitest'
import { forwardedCookieHeader } from '../src/adapter.js'
import { makeCookie } from '../src/http/cookies.js'
import { context } from './support.js'

function withWrites(cookie: string | undefined, writes: ReturnType<typeof makeCookie>[]) {
  const ctx = context('/', cookie === undefined ? {} : { headers: { cookie } })
  for (const write of writes) ctx.setCookie(write)
  return ctx
}

describe('forwardedCookieHeader', () => {
  it('passes the request cookies through unchanged when nothing was written', () => {
    const header = 'theme=dark; codeflow=abc; quoted="a b"; flag'
    expect(forwardedCookieHeader(withWrites(header, []))).toBe(header)
  })

  it('replaces a written cookie and keeps the others as they were', () => {
    const ctx = withWrites('a=1; codeflow=old; b="x"', [makeCookie('codeflow', 'new', false, 60)])
    expect(forwardedCookieHeader(ctx)).toBe('a=1; b="x"; codeflow=new')
  })

  it('leaves deleted cookies out, and the last write of a name wins', () => {
    const ctx = withWrites('codeflow.0=x; codeflow.1=y; other=z', [
      makeCookie('codeflow.1', '', false, 0),
      makeCookie('codeflow.0', 'first', false, 60),
      makeCookie('codeflow.0', 'second', false, 60),
      makeCookie('codeflow_tx.s', '', false, 0),
    ])
    expect(forwardedCookieHeader(ctx)).toBe('other=z; codeflow.0=second')
  })

  it('adds written cookies to a request without a Cookie header', () => {
    const ctx = withWrites(undefined, [makeCookie('codeflow', 'v', false, 60)])
    expect(forwardedCookieHeader(ctx)).toBe('codeflow=v')
  })

  it('drops every duplicate of a written name, the way the core reads the first one', () => {
    const ctx = withWrites('codeflow=a; codeflow=b; x=1', [makeCookie('codeflow', 'c', false, 60)])
    expect(forwardedCookieHeader(ctx)).toBe('x=1; codeflow=c')
  })
})
