/**
 * The Iron seal made with Node's crypto (`iron.ts`) against iron-session 9 itself: each reads the
 * other's seals, and every field of a seal is covered by its MAC. The WebCrypto path (iron-session,
 * for runtimes without `node:crypto`) is checked by loading `seal.ts` with no Node crypto.
 */
import { sealData, unsealData } from 'iron-session'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { IronError, ironSeal, ironUnseal, nodeCrypto } from '../src/seal/iron.js'
import { seal, type UnsealFailure, unseal } from '../src/seal/seal.js'

const ONE = 'the-first-password-of-at-least-32-chars'
const TWO = 'the-second-password-of-at-least-32-chars'
const crypto = nodeCrypto as NonNullable<typeof nodeCrypto>

const payload = {
  id: 'Zs1q8c1D0dXGz2k4YcQm6w',
  sub: 'ünïcødé ✓ 👤',
  idToken: 'e'.repeat(1500),
  nested: { list: [1, 'two', { three: null }], flag: true },
  createdAt: 1_700_000_000,
}

function refusal(value: string, passwords: Record<string, string>): IronError {
  try {
    ironUnseal(crypto, value, passwords)
  } catch (error) {
    if (error instanceof IronError) return error
    throw error
  }
  throw new Error('the seal was accepted')
}

afterEach(() => {
  vi.useRealTimers()
})

describe('Iron seals with Node crypto', () => {
  it('is available on Node', () => {
    expect(nodeCrypto).toBeDefined()
  })

  it('makes seals that iron-session unseals', async () => {
    const sealed = ironSeal(crypto, JSON.stringify(payload), '1', ONE, 60_000)
    expect(sealed).toMatch(
      /^Fe26\.2\*1\*[0-9a-f]{64}\*[\w-]+\*[\w-]+\*\d+\*[0-9a-f]{64}\*[\w-]+~2$/,
    )
    expect(await unsealData(sealed, { password: { 1: ONE }, ttl: 0 })).toEqual(payload)
  })

  it("reads iron-session's seals, also under a retired password", async () => {
    const sealed = await sealData(payload, { password: { 1: ONE }, ttl: 60 })
    expect(JSON.parse(ironUnseal(crypto, sealed, { 1: ONE }))).toEqual(payload)
    expect(JSON.parse(ironUnseal(crypto, sealed, { 1: ONE, 2: TWO }))).toEqual(payload)
    expect(refusal(sealed, { 2: TWO }).reason).toBe('unknown-password')
  })

  it('seals with the newest password of the map, as iron-session does', async () => {
    const ours = await seal('session', payload, { 1: ONE, 2: TWO }, 60)
    const theirs = await sealData(payload, { password: { 1: ONE, 2: TWO }, ttl: 60 })
    expect(ours.split('*')[1]).toBe('2')
    expect(theirs.split('*')[1]).toBe('2')
    expect(await unsealData(ours, { password: { 2: TWO }, ttl: 0 })).toMatchObject(payload)
  })

  it('refuses a change to any field, the MAC included', () => {
    const sealed = ironSeal(crypto, JSON.stringify(payload), '1', ONE, 60_000)
    const [body = '', version] = sealed.split('~')
    const parts = body.split('*')
    for (let i = 1; i < parts.length; i++) {
      const changed = [...parts]
      const field = changed[i] as string
      // flip one character, keeping the field's alphabet
      const at = Math.floor(field.length / 2)
      const swap = field[at] === 'a' ? 'b' : 'a'
      changed[i] = field.slice(0, at) + swap + field.slice(at + 1)
      const reason = refusal(`${changed.join('*')}~${version}`, { 1: ONE, 0: ONE }).reason
      // a changed password id names no password or the wrong one
      expect([i, reason]).toEqual([i, i === 1 ? 'unknown-password' : 'invalid'])
    }
  })

  it('refuses truncated, extended and foreign values as invalid', () => {
    const sealed = ironSeal(crypto, JSON.stringify(payload), '1', ONE, 60_000)
    for (const value of [
      '',
      'Fe26.2',
      sealed.slice(0, -10),
      sealed.replace('~2', ''), // the marker is ignored: this one is valid
      `${sealed.slice(0, sealed.indexOf('~'))}*extra~2`,
      sealed.replace('Fe26.2', 'Fe26.1'),
      sealed.replace(/\*[\w-]+~2$/, '*~2'),
    ]) {
      if (value === sealed.replace('~2', '')) {
        expect(JSON.parse(ironUnseal(crypto, value, { 1: ONE }))).toEqual(payload)
        continue
      }
      expect(refusal(value, { 1: ONE }).reason).toBe('invalid')
    }
  })

  it('takes only the canonical encoding of the MAC (no spare padding bits)', () => {
    const sealed = ironSeal(crypto, JSON.stringify(payload), '1', ONE, 60_000)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const end = sealed.indexOf('~') - 1
    // the last of 43 characters carries 4 bits of the digest and 2 unused ones: flip an unused bit
    const spare = alphabet[alphabet.indexOf(sealed[end] as string) ^ 1] as string
    const variant = `${sealed.slice(0, end)}${spare}${sealed.slice(end + 1)}`
    const mac = (value: string) =>
      Buffer.from((value.split('*')[7] as string).split('~')[0] as string, 'base64url')
    expect(mac(variant)).toEqual(mac(sealed))
    expect(refusal(variant, { 1: ONE }).reason).toBe('invalid')
  })

  it('ignores the version marker, which is outside the MAC', async () => {
    const sealed = ironSeal(crypto, JSON.stringify(payload), '1', ONE, 60_000)
    const remarked = sealed.replace(/~2$/, '~9')
    expect(JSON.parse(ironUnseal(crypto, remarked, { 1: ONE }))).toEqual(payload)
    expect(await unsealData(remarked, { password: { 1: ONE }, ttl: 0 })).toEqual(payload)
  })

  it("expires like iron-session: at the seal's expiry plus 60 s of clock skew", async () => {
    vi.useFakeTimers({ now: 1_800_000_000_000, toFake: ['Date'] })
    const sealed = ironSeal(crypto, JSON.stringify(payload), '1', ONE, 10_000)
    vi.setSystemTime(1_800_000_000_000 + 10_000 + 59_000)
    expect(JSON.parse(ironUnseal(crypto, sealed, { 1: ONE }))).toEqual(payload)
    expect(await unsealData(sealed, { password: { 1: ONE }, ttl: 0 })).toEqual(payload)
    vi.setSystemTime(1_800_000_000_000 + 10_000 + 60_000)
    expect(refusal(sealed, { 1: ONE }).reason).toBe('expired')
    let reason: string | undefined
    await unsealData(sealed, { password: { 1: ONE }, ttl: 0, onUnsealError: (r) => (reason = r) })
    expect(reason).toBe('expired')
  })

  it('never looks a password id up on the prototype', () => {
    for (const id of ['__proto__', 'constructor', 'toString']) {
      const sealed = ironSeal(crypto, '{}', id, ONE, 60_000)
      expect(refusal(sealed, { 1: ONE }).reason).toBe('unknown-password')
    }
  })

  it('refuses a seal under another password of the same id', () => {
    const sealed = ironSeal(crypto, JSON.stringify(payload), '1', ONE, 60_000)
    expect(refusal(sealed, { 1: TWO }).reason).toBe('invalid')
  })
})

describe('seal.ts without Node crypto (iron-session, WebCrypto)', () => {
  it('seals and unseals through iron-session, and reads the Node seals', async () => {
    vi.resetModules()
    vi.doMock('../src/seal/iron.js', async (original) => ({
      ...(await original<typeof import('../src/seal/iron.js')>()),
      nodeCrypto: undefined,
      // never reached: everything below goes through iron-session
      ironSeal: () => {
        throw new Error('ironSeal used without Node crypto')
      },
      ironUnseal: () => {
        throw new Error('ironUnseal used without Node crypto')
      },
    }))
    try {
      const web = await import('../src/seal/seal.js')
      const sealed = await web.seal('session', payload, { 1: ONE }, 60)
      expect(await unseal('session', sealed, { 1: ONE }, () => undefined)).toMatchObject(payload)
      const ours = await seal('transaction', payload, { 1: ONE }, 60)
      expect(await web.unseal('transaction', ours, { 1: ONE }, () => undefined)).toMatchObject(
        payload,
      )
      const reasons: UnsealFailure[] = []
      expect(await web.unseal('session', ours, { 1: ONE }, (r) => reasons.push(r))).toBeUndefined()
      // a character inside the MAC (the last one also carries padding bits that decoders ignore)
      const at = ours.length - 12
      const tampered = `${ours.slice(0, at)}${ours[at] === 'A' ? 'B' : 'A'}${ours.slice(at + 1)}`
      expect(await web.unseal('session', tampered, { 1: ONE }, (r) => reasons.push(r))).toBe(
        undefined,
      )
      expect(await web.unseal('session', ours, { 2: TWO }, (r) => reasons.push(r))).toBe(undefined)
      expect(reasons).toEqual(['wrong-kind', 'invalid', 'unknown-password'])
    } finally {
      vi.doUnmock('../src/seal/iron.js')
      vi.resetModules()
    }
  })
})
