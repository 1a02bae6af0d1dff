/**
 * The synchronous fast paths of the cold read and the login (issue 20): base64url with Buffer,
 * the fitted deflate window, the S256 challenge with Node's hash, and the ID token signature
 * checked with Node's crypto.verify. Each must give what the slow path gives, and refuse what it
 * refuses.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inflateRawSync } from 'node:zlib'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import * as client from 'openid-client'
import { afterAll, describe, expect, it } from 'vitest'
import { decodeBase64urlText, encodeBase64urlText } from '../src/protocol/base64url.js'
import { jwtPayload } from '../src/protocol/claims.js'
import { ProviderKeys, verifySignature } from '../src/protocol/keys.js'
import { pkceChallenge } from '../src/protocol/provider.js'
import { packSession, unpackSession, windowBitsFor } from '../src/session/compact.js'
import type { SessionData } from '../src/session/types.js'

describe('base64url text', () => {
  it('round-trips UTF-8 text, as atob/btoa did', () => {
    for (const text of ['', 'a', 'ab', 'abc', '{"name":"Zoë","emoji":"🙂"}', 'x'.repeat(1000)]) {
      const encoded = encodeBase64urlText(text)
      expect(encoded).toBe(Buffer.from(text).toString('base64url'))
      expect(decodeBase64urlText(encoded)).toBe(text)
      expect(decodeBase64urlText(encoded, true)).toBe(text)
    }
  })

  it('refuses what is not base64url: other characters, padding, an impossible length', () => {
    for (const bad of ['ab+c', 'ab/c', 'abc=', 'ab c', 'a', 'abcde', 'ab.c']) {
      expect(decodeBase64urlText(bad)).toBeUndefined()
      expect(decodeBase64urlText(bad, true)).toBeUndefined()
    }
  })

  it('refuses bytes that are not UTF-8 when fatal, and replaces them otherwise', () => {
    const invalid = Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')
    expect(decodeBase64urlText(invalid, true)).toBeUndefined()
    expect(decodeBase64urlText(invalid)).toBe('{\uFFFD}')
  })

  it('makes a malformed ID token payload throw, as before', () => {
    expect(() => jwtPayload('a.b+c.d')).toThrow()
    expect(jwtPayload(`x.${encodeBase64urlText('{"sub":"a"}')}.y`)).toEqual({ sub: 'a' })
    // a verified token with padding (a provider that pads, a verifier that took it) still reads
    const padded = Buffer.from('{"sub":"abc"}').toString('base64')
    expect(padded.endsWith('=')).toBe(true)
    expect(jwtPayload(`x.${padded}.y`)).toEqual({ sub: 'abc' })
  })
})

describe('the packed session', () => {
  it('uses the smallest window that reaches back over the whole input', () => {
    expect(windowBitsFor(0)).toBe(9)
    expect(windowBitsFor(2 ** 9 - 262)).toBe(9)
    expect(windowBitsFor(2 ** 9 - 261)).toBe(10)
    expect(windowBitsFor(3000)).toBe(12)
    expect(windowBitsFor(2 ** 15)).toBe(15)
    expect(windowBitsFor(10 ** 7)).toBe(15)
  })

  it('packs as the default window does, and unpacks to the session', async () => {
    const token = (claims: object) =>
      `${encodeBase64urlText('{"alg":"RS256"}')}.${encodeBase64urlText(JSON.stringify(claims))}.${'s'.repeat(342)}`
    for (const groups of [3, 60, 2000]) {
      const claims = {
        sub: 'alice',
        groups: Array.from({ length: groups }, (_, i) => `group-${i}`),
      }
      const data = {
        id: 'id',
        iss: 'https://op.example',
        sub: 'alice',
        idToken: token(claims),
        accessToken: token({ ...claims, scope: 'openid' }),
        tokenType: 'Bearer',
        createdAt: 1,
        updatedAt: 1,
      } as SessionData
      const packed = await packSession(data)
      expect(typeof packed.z).toBe('string')
      // the bytes are exactly those of the default window (so inflating is unchanged)
      const bytes = Buffer.from(packed.z as string, 'base64')
      const expanded = inflateRawSync(bytes).toString('utf8')
      const { deflateRawSync } = await import('node:zlib')
      expect(Buffer.compare(bytes, deflateRawSync(expanded, { level: 1 }))).toBe(0)
      expect(await unpackSession({ ...packed, k: 'session' })).toEqual({ ...data, k: 'session' })
    }
  })
})

describe('the S256 challenge', () => {
  it("is openid-client's", async () => {
    for (let i = 0; i < 5; i++) {
      const verifier = client.randomPKCECodeVerifier()
      expect(await pkceChallenge(verifier)).toBe(await client.calculatePKCECodeChallenge(verifier))
      expect(await pkceChallenge(verifier)).toBe(
        createHash('sha256').update(verifier).digest('base64url'),
      )
    }
  })
})

describe('the ID token signature, checked with crypto.verify', () => {
  const servers: Server[] = []
  afterAll(async () => {
    for (const server of servers)
      await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  async function keysFor(jwks: JWK[]): Promise<ProviderKeys> {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ keys: jwks }))
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    return new ProviderKeys(new URL(`http://127.0.0.1:${port}/jwks`), 5000, Date.now)
  }

  for (const alg of ['RS256', 'PS384', 'ES256', 'ES384', 'ES512'] as const) {
    it(`verifies ${alg} and refuses a changed payload, a changed signature, another alg`, async () => {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
      const keys = await keysFor([{ ...(await exportJWK(publicKey)), kid: 'k', alg, use: 'sig' }])
      const token = await new SignJWT({ sub: 'alice' })
        .setProtectedHeader({ alg, kid: 'k' })
        .sign(privateKey)
      await expect(verifySignature(keys, token, alg)).resolves.toBeUndefined()
      const [h, p, s] = token.split('.') as [string, string, string]
      const other = encodeBase64urlText('{"sub":"mallory"}')
      await expect(verifySignature(keys, `${h}.${other}.${s}`, alg)).rejects.toThrow()
      const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`
      await expect(verifySignature(keys, `${h}.${p}.${flipped}`, alg)).rejects.toThrow()
      await expect(verifySignature(keys, `${h}.${p}.${s.slice(0, -4)}`, alg)).rejects.toThrow()
      // the pinned algorithm is the only one: the token's own alg does not decide
      await expect(
        verifySignature(keys, token, alg === 'RS256' ? 'PS256' : 'RS256'),
      ).rejects.toThrow()
    })
  }

  it('refuses an RSA key under 2048 bits, a crit header, and a token of another key', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const keys = await keysFor([
      {
        ...(weak.publicKey.export({ format: 'jwk' }) as JWK),
        kid: 'weak',
        alg: 'RS256',
      },
    ])
    // jose will not sign with such a key either: signed by hand
    const input = `${encodeBase64urlText('{"alg":"RS256","kid":"weak"}')}.${encodeBase64urlText('{"sub":"a"}')}`
    const token = `${input}.${sign('sha256', Buffer.from(input), weak.privateKey).toString('base64url')}`
    await expect(verifySignature(keys, token, 'RS256')).rejects.toThrow(/2048/)

    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
    const good = await keysFor([{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256' }])
    // a critical extension codeflow does not know: jose refuses it (and will not sign it)
    const critInput = `${encodeBase64urlText('{"alg":"RS256","kid":"k","crit":["exp"],"exp":1}')}.${encodeBase64urlText('{"sub":"a"}')}`
    const privateObject = (await import('node:crypto')).KeyObject.from(privateKey)
    const crit = `${critInput}.${sign('sha256', Buffer.from(critInput), privateObject).toString('base64url')}`
    await expect(verifySignature(good, crit, 'RS256')).rejects.toThrow()

    const stranger = await generateKeyPair('RS256')
    const foreign = await new SignJWT({ sub: 'a' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k' })
      .sign(stranger.privateKey)
    await expect(verifySignature(good, foreign, 'RS256')).rejects.toThrow()
  })
})
