/**
 * The cookie module: parsing the Cookie header, serializing Set-Cookie, chunking large values.
 * Internal functions, imported directly for focused checks; sessions.test.ts covers them
 * through stored sessions.
 */
import { describe, expect, it } from 'vitest'
import { MAX_SET_COOKIE_BYTES } from '../src/adapter.js'
import {
  chunkCookieNames,
  chunkValue,
  deletionCookie,
  makeCookie,
  parseCookieHeader,
  readChunked,
} from '../src/http/cookies.js'

describe('parseCookieHeader', () => {
  it('parses name=value pairs, trimming spaces', () => {
    expect([...parseCookieHeader('a=1; b=2;c=3 ;  d = 4')]).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
      ['d', '4'],
    ])
  })

  it('reads nothing from an absent or empty header', () => {
    expect(parseCookieHeader(null).size).toBe(0)
    expect(parseCookieHeader(undefined).size).toBe(0)
    expect(parseCookieHeader('').size).toBe(0)
  })

  it('unquotes a quoted value, and only a fully quoted one', () => {
    const cookies = parseCookieHeader('a="quoted"; b="; c="half; d=""; e=in"side"')
    expect(cookies.get('a')).toBe('quoted')
    expect(cookies.get('b')).toBe('"')
    expect(cookies.get('c')).toBe('"half')
    expect(cookies.get('d')).toBe('')
    expect(cookies.get('e')).toBe('in"side"')
  })

  it('keeps the first of duplicate names (the most specific path)', () => {
    expect(parseCookieHeader('s=first; s=second; s=third').get('s')).toBe('first')
  })

  it('keeps "=" inside a value', () => {
    expect(parseCookieHeader('seal=Fe26.2*1*abc==; x=1').get('seal')).toBe('Fe26.2*1*abc==')
  })

  it('skips garbage without losing the valid pairs around it', () => {
    const cookies = parseCookieHeader(';;novalue; =nameless; ; ok=yes;; =; also=fine')
    expect([...cookies]).toEqual([
      ['ok', 'yes'],
      ['also', 'fine'],
    ])
  })

  it('does not treat __proto__ specially', () => {
    const cookies = parseCookieHeader('__proto__=x; constructor=y')
    expect(cookies.get('__proto__')).toBe('x')
    expect(cookies.get('constructor')).toBe('y')
    expect(({} as Record<string, unknown>).x).toBeUndefined()
  })

  it('parses at most 200 cookies', () => {
    const header = Array.from({ length: 300 }, (_, i) => `c${i}=${i}`).join('; ')
    const cookies = parseCookieHeader(header)
    expect(cookies.size).toBe(200)
    expect(cookies.get('c199')).toBe('199')
    expect(cookies.has('c200')).toBe(false)
  })

  it('counts distinct cookies toward the cap, not duplicates', () => {
    const header = [...Array.from({ length: 250 }, () => 'dup=1'), 'last=2'].join('; ')
    expect(parseCookieHeader(header).get('last')).toBe('2')
  })

  it('ignores what lies past the first 64 KiB of the header', () => {
    const header = `big=${'x'.repeat(70 * 1024)}; after=1`
    const cookies = parseCookieHeader(header)
    expect(cookies.has('after')).toBe(false)
    expect(cookies.get('big')?.length).toBe(64 * 1024 - 'big='.length)
  })
})

describe('Set-Cookie serialization', () => {
  it('sets HttpOnly, SameSite=Lax and Path=/ always, Secure on https', () => {
    expect(makeCookie('n', 'v', false, 60).header).toBe(
      'n=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax',
    )
    expect(makeCookie('__Host-n', 'v', true, 60).header).toBe(
      '__Host-n=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax',
    )
  })

  it('makes a browser-session cookie without maxAge', () => {
    expect(makeCookie('n', 'v', false, undefined).header).toBe(
      'n=v; Path=/; HttpOnly; SameSite=Lax',
    )
  })

  it('deletes with Max-Age=0 and a past Expires, keeping Secure for __Host- names', () => {
    const deletion = deletionCookie('__Host-n', true)
    expect(deletion.value).toBe('')
    expect(deletion.options.maxAge).toBe(0)
    expect(deletion.header).toBe(
      '__Host-n=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
    )
  })
})

describe('chunkValue', () => {
  const bytes = (header: string) => Buffer.byteLength(header, 'utf8')

  it('keeps a value that fits in one cookie under its own name', () => {
    const chunks = chunkValue('__Host-s', 'v'.repeat(100), true, 3600, 3)
    expect(chunks?.map((c) => c.name)).toEqual(['__Host-s'])
  })

  it('uses one cookie up to exactly 4096 bytes of Set-Cookie, chunks beyond', () => {
    const overhead = makeCookie('s', '', true, 3600).header.length
    const fits = 'v'.repeat(MAX_SET_COOKIE_BYTES - overhead)
    const single = chunkValue('s', fits, true, 3600, 3)
    expect(single?.map((c) => c.name)).toEqual(['s'])
    expect(bytes(single?.[0]?.header ?? '')).toBe(MAX_SET_COOKIE_BYTES)
    expect(chunkValue('s', `${fits}v`, true, 3600, 3)?.map((c) => c.name)).toEqual(['s.0', 's.1'])
  })

  it.each([
    [false, undefined],
    [true, 1_209_600],
    [true, 1],
  ])(
    'splits under 4096 bytes per Set-Cookie, attributes counted (secure %s, maxAge %s)',
    (secure, maxAge) => {
      const value = Array.from({ length: 11_000 }, (_, i) => 'abcdefghij'[i % 10]).join('')
      const chunks = chunkValue('__Host-codeflow', value, secure, maxAge, 3)
      expect(chunks).toBeDefined()
      expect(chunks?.map((c) => c.name)).toEqual([
        '__Host-codeflow.0',
        '__Host-codeflow.1',
        '__Host-codeflow.2',
      ])
      for (const chunk of chunks ?? []) {
        expect(bytes(chunk.header)).toBeLessThanOrEqual(MAX_SET_COOKIE_BYTES)
        expect(chunk.options.secure).toBe(secure)
        expect(chunk.options.maxAge).toBe(maxAge)
      }
      expect(chunks?.map((c) => c.value).join('')).toBe(value)
    },
  )

  it('returns undefined when more than maxChunks would be needed', () => {
    const value = 'v'.repeat(3 * 4096)
    expect(chunkValue('s', value, true, 60, 3)).toBeUndefined()
    expect(chunkValue('s', value, true, 60, 4)?.length).toBe(4)
    expect(chunkValue('s', 'v'.repeat(5000), true, 60, 1)).toBeUndefined()
  })
})

describe('readChunked', () => {
  const read = (header: string, max = 3) => readChunked(parseCookieHeader(header), 's', max)

  it('reads an unchunked cookie', () => {
    expect(read('s=whole')).toBe('whole')
  })

  it('reads an empty cookie as absent', () => {
    expect(read('s=')).toBeUndefined()
    expect(read('other=1')).toBeUndefined()
  })

  it('joins chunks in index order, whatever the header order', () => {
    expect(read('s.2=c; s.0=a; s.1=b')).toBe('abc')
  })

  it('prefers the whole cookie over chunks', () => {
    expect(read('s.0=a; s=whole; s.1=b')).toBe('whole')
  })

  it('reads chunks without chunk 0 as absent', () => {
    expect(read('s.1=b; s.2=c')).toBeUndefined()
  })

  it('reads a gap as absent', () => {
    expect(read('s.0=a; s.2=c')).toBeUndefined()
    expect(read('s.0=a; s.1=b; s.3=d', 4)).toBeUndefined()
  })

  it('reads more than maxChunks chunks as absent', () => {
    expect(read('s.0=a; s.1=b; s.2=c', 3)).toBe('abc')
    expect(read('s.0=a; s.1=b; s.2=c; s.3=d', 3)).toBeUndefined()
    expect(read('s.0=a; s.1=b', 1)).toBeUndefined()
  })

  it('round-trips what chunkValue wrote', () => {
    const value = 'x'.repeat(9000)
    const chunks = chunkValue('s', value, false, 60, 3) ?? []
    const header = chunks.map((c) => `${c.name}=${c.value}`).join('; ')
    expect(read(header)).toBe(value)
  })
})

describe('chunkCookieNames', () => {
  it('lists the cookie and its numbered chunks only', () => {
    const cookies = parseCookieHeader(
      's=1; s.0=a; s.12=b; s.x=c; s.123=d; s_tx.abc=e; ss=f; other=g; s.=h',
    )
    expect(chunkCookieNames(cookies, 's')).toEqual(['s', 's.0', 's.12'])
  })
})
