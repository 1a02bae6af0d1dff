/**
 * A resource server that accepts DPoP-bound tokens only (RFC 9449 §7), as a careful API does: the
 * proof's signature with its own `jwk`, `typ`, `htm`, `htu`, `ath`, a recent `iat`, a `jti` never
 * seen before, and, when `requireNonce`, the nonce it handed out; then the token's binding: the
 * provider's introspection (as the app's client) must say `cnf.jkt` is the proof key's
 * thumbprint. It answers `{ sub, jkt }`, or 401 with a `DPoP` challenge saying why.
 */
import { createHash, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, type JWK, jwtVerify } from 'jose'

export interface DPoPResourceServer {
  readonly url: string
  /** every request's verdict, in order: `ok`, or why it was refused */
  readonly verdicts: string[]
  /** the key thumbprints of the accepted proofs, in order */
  readonly keys: string[]
  /** the provider and the client that introspect the tokens */
  introspection: { issuer: string; clientId: string; clientSecret: string }
  /** answer a request without the current nonce with `use_dpop_nonce` */
  requireNonce: boolean
  /** hands out a new nonce from now on (the old one is refused) */
  rotateNonce(): void
  close(): Promise<void>
}

export async function startDPoPResourceServer(): Promise<DPoPResourceServer> {
  const verdicts: string[] = []
  const keys: string[] = []
  const seen = new Set<string>()
  let nonce = randomUUID()
  let port = 0
  const state: DPoPResourceServer = {
    url: '',
    verdicts,
    keys,
    introspection: { issuer: '', clientId: '', clientSecret: '' },
    requireNonce: false,
    rotateNonce: () => {
      nonce = randomUUID()
    },
    close: async () => undefined,
  }
  const server = createServer(async (req, res) => {
    const refuse = (why: string, error = 'invalid_token', headers: Record<string, string> = {}) => {
      verdicts.push(why)
      res.writeHead(401, { 'www-authenticate': `DPoP error="${error}"`, ...headers }).end()
    }
    const [scheme, token] = (req.headers.authorization ?? '').split(' ')
    const proof = req.headers.dpop
    if (scheme !== 'DPoP' || !token || typeof proof !== 'string') return refuse('not DPoP')
    let payload: Record<string, unknown>
    let jwk: JWK
    try {
      const header = decodeProtectedHeader(proof)
      jwk = header.jwk as JWK
      const verified = await jwtVerify(proof, await importJWK(jwk, 'ES256'), { typ: 'dpop+jwt' })
      payload = verified.payload
    } catch (error) {
      return refuse(`bad proof: ${(error as Error).message}`)
    }
    const ath = createHash('sha256').update(token).digest('base64url')
    const now = Math.floor(Date.now() / 1000)
    if (payload.htm !== req.method) return refuse('htm')
    if (payload.htu !== `http://127.0.0.1:${port}${(req.url ?? '/').split('?')[0]}`)
      return refuse('htu')
    if (payload.ath !== ath) return refuse('ath')
    if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > 60) return refuse('iat')
    if (typeof payload.jti !== 'string' || seen.has(payload.jti)) return refuse('jti replayed')
    seen.add(payload.jti)
    if (state.requireNonce && payload.nonce !== nonce) {
      return refuse('nonce', 'use_dpop_nonce', { 'dpop-nonce': nonce })
    }
    const { issuer, clientId, clientSecret } = state.introspection
    const answer = await fetch(`${issuer}/token/introspection`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    })
    const introspected = (await answer.json()) as {
      active?: boolean
      sub?: string
      cnf?: { jkt?: string }
    }
    const jkt = await calculateJwkThumbprint(jwk)
    if (!introspected.active) return refuse('inactive token')
    if (introspected.cnf?.jkt !== jkt) return refuse('bound to another key')
    verdicts.push('ok')
    keys.push(jkt)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ sub: introspected.sub, jkt }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
  Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  })
  return state
}
