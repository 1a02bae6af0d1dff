/**
 * The provider's key set (`protocol/keys.ts`): fetched once, refetched at once for a key it does
 * not have (a rotation), at most once per cooldown for junk, not at all for a cooldown after a
 * failure, and again after its maximum age; intervals by the app's clock.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { KeySetUnavailableError, ProviderKeys, verifySignature } from '../src/protocol/keys.js'

interface KeyServer {
  readonly url: URL
  fetches: number
  status: number
  keys: JWK[]
  close(): Promise<void>
}

const servers: KeyServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
})

async function keyServer(): Promise<KeyServer> {
  const state = { fetches: 0, status: 200, keys: [] as JWK[] }
  const server: Server = createServer((_req, res) => {
    state.fetches++
    res.writeHead(state.status, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ keys: state.keys }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const handle: KeyServer = Object.assign(state, {
    url: new URL(`http://127.0.0.1:${port}/jwks`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  })
  servers.push(handle)
  return handle
}

/** A signing key published under `kid`, and a token it signs. */
async function signer(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  const sign = () =>
    new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey)
  return { jwk, sign }
}

function manualClock() {
  let now = 1_800_000_000_000
  return { clock: () => now, advance: (ms: number) => (now += ms) }
}

describe('the provider key set', () => {
  it('is fetched once and used for every token signed with its keys', async () => {
    const server = await keyServer()
    const one = await signer('one')
    server.keys = [one.jwk]
    const keys = new ProviderKeys(server.url, 2000, manualClock().clock)
    await verifySignature(keys, await one.sign(), 'RS256')
    await verifySignature(keys, await one.sign(), 'RS256')
    expect(server.fetches).toBe(1)
  })

  it('refetches at once for a key rotated in since, then not for the same key again', async () => {
    const server = await keyServer()
    const time = manualClock()
    const one = await signer('one')
    server.keys = [one.jwk]
    const keys = new ProviderKeys(server.url, 2000, time.clock)
    await verifySignature(keys, await one.sign(), 'RS256')
    time.advance(2000)
    const two = await signer('two')
    server.keys = [two.jwk]
    await verifySignature(keys, await two.sign(), 'RS256')
    await verifySignature(keys, await two.sign(), 'RS256')
    expect(server.fetches).toBe(2)
  })

  it('refetches for unknown keys at most once per cooldown', async () => {
    const server = await keyServer()
    const time = manualClock()
    const one = await signer('one')
    server.keys = [one.jwk]
    const keys = new ProviderKeys(server.url, 2000, time.clock)
    await verifySignature(keys, await one.sign(), 'RS256')
    time.advance(2000)
    for (let i = 0; i < 20; i++) {
      const junk = await signer(`junk-${i}`)
      await expect(verifySignature(keys, await junk.sign(), 'RS256')).rejects.toThrow()
    }
    expect(server.fetches).toBe(2)
    time.advance(10_000)
    const junk = await signer('junk-late')
    await expect(verifySignature(keys, await junk.sign(), 'RS256')).rejects.toThrow()
    expect(server.fetches).toBe(3)
  })

  it('does not refetch for an unknown key a set it has just fetched', async () => {
    const server = await keyServer()
    const one = await signer('one')
    server.keys = [one.jwk]
    const keys = new ProviderKeys(server.url, 2000, manualClock().clock)
    const junk = await signer('junk')
    await expect(verifySignature(keys, await junk.sign(), 'RS256')).rejects.toThrow()
    expect(server.fetches).toBe(1)
  })

  it('fails with 503 and does not fetch again for a cooldown after a failure', async () => {
    const server = await keyServer()
    const time = manualClock()
    server.status = 500
    const one = await signer('one')
    const keys = new ProviderKeys(server.url, 2000, time.clock)
    for (let i = 0; i < 5; i++) {
      const error = await verifySignature(keys, await one.sign(), 'RS256').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(KeySetUnavailableError)
      expect((error as KeySetUnavailableError).status).toBe(503)
    }
    expect(server.fetches).toBe(1)
    server.status = 200
    server.keys = [one.jwk]
    time.advance(10_000)
    await verifySignature(keys, await one.sign(), 'RS256')
    expect(server.fetches).toBe(2)
  })

  it('fetches again once the set is ten minutes old', async () => {
    const server = await keyServer()
    const time = manualClock()
    const one = await signer('one')
    server.keys = [one.jwk]
    const keys = new ProviderKeys(server.url, 2000, time.clock)
    await verifySignature(keys, await one.sign(), 'RS256')
    time.advance(10 * 60_000)
    await verifySignature(keys, await one.sign(), 'RS256')
    expect(server.fetches).toBe(2)
  })

  it('refuses a token signed with another algorithm than the pinned one', async () => {
    const server = await keyServer()
    const one = await signer('one')
    server.keys = [one.jwk]
    const keys = new ProviderKeys(server.url, 2000, manualClock().clock)
    await expect(verifySignature(keys, await one.sign(), 'PS256')).rejects.toThrow()
  })
})
