/**
 * DPoP (RFC 9449): sender-constrained tokens. Each session has a key pair of its own, made at its
 * login and sealed with it (a stolen session must not carry another user's key), so that its
 * tokens are bound to that key: the token endpoint, the refresh, userinfo and PAR get proofs from
 * openid-client's DPoP handle (which answers a `use_dpop_nonce` challenge once); the calls to
 * APIs get proofs made here (with `ath`, the request's `htm` and `htu`), and an API's nonce is
 * remembered per origin.
 */
import { base64url, SignJWT } from 'jose'
import * as client from 'openid-client'
import { randomId } from '../random.js'

/** A session's DPoP key: a private P-256 JWK (`kty`, `crv`, `x`, `y`, `d`). */
export type DPoPKey = Readonly<{ kty: 'EC'; crv: 'P-256'; x: string; y: string; d: string }>

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const

/** A new key pair for a session, as the JWK that the session keeps. */
export async function newDPoPKey(): Promise<DPoPKey> {
  const pair = (await crypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', pair.privateKey)
  return { kty: kty as 'EC', crv: crv as 'P-256', x: x as string, y: y as string, d: d as string }
}

/** The public half of a session's key, as it goes into every proof's header. */
function publicJwk(key: DPoPKey) {
  return { kty: key.kty, crv: key.crv, x: key.x, y: key.y }
}

async function keyPair(key: DPoPKey): Promise<CryptoKeyPair> {
  const [privateKey, publicKey] = await Promise.all([
    crypto.subtle.importKey('jwk', { ...key }, ALGORITHM, false, ['sign']),
    crypto.subtle.importKey('jwk', publicJwk(key), ALGORITHM, true, ['verify']),
  ])
  return { privateKey, publicKey }
}

const MAX_HANDLES = 1000

/**
 * The DPoP handles of one provider's sessions, by key: a handle remembers the provider's nonce,
 * so a session's next request to the provider needs no new challenge. Bounded (least recently
 * used go first).
 */
export class DPoPHandles {
  readonly #config: client.Configuration
  /** per key: its imported pair (for API proofs) and openid-client's handle */
  readonly #entries = new Map<string, Promise<{ pair: CryptoKeyPair; handle: client.DPoPHandle }>>()
  /** API nonces (`DPoP-Nonce`), by origin */
  readonly #nonces = new Map<string, string>()

  constructor(config: client.Configuration) {
    this.#config = config
  }

  /** A session key's entry, imported once (least recently used go first past the bound). */
  #entry(key: DPoPKey) {
    let entry = this.#entries.get(key.x)
    if (entry) {
      this.#entries.delete(key.x)
    } else {
      entry = keyPair(key).then((pair) => ({
        pair,
        handle: client.getDPoPHandle(this.#config, pair),
      }))
      entry.catch(() => this.#entries.delete(key.x))
    }
    this.#entries.set(key.x, entry)
    if (this.#entries.size > MAX_HANDLES) {
      this.#entries.delete(this.#entries.keys().next().value as string)
    }
    return entry
  }

  /** The handle of a session's key, for openid-client's requests to the provider. */
  async handle(key: DPoPKey): Promise<client.DPoPHandle> {
    return (await this.#entry(key)).handle
  }

  /**
   * A proof for a request to an API with `accessToken` (RFC 9449 §4.2, §7): `htm` (the method as
   * it is sent), `htu` (the URL without query and fragment), `iat`, a fresh `jti`, `ath`, and
   * the API's nonce when it gave one; with the nonce it carries, to tell a new challenge.
   */
  async proof(
    key: DPoPKey,
    method: string,
    url: URL,
    accessToken: string,
  ): Promise<{ proof: string; nonce: string | undefined }> {
    const ath = new Uint8Array(
      await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken)),
    )
    const nonce = this.#nonces.get(url.origin)
    const { privateKey } = (await this.#entry(key)).pair
    const proof = await new SignJWT({
      htm: method,
      htu: `${url.origin}${url.pathname}`,
      jti: randomId(),
      ath: base64url.encode(ath),
      ...(nonce === undefined ? {} : { nonce }),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk(key) })
      .setIssuedAt()
      .sign(privateKey)
    return { proof, nonce }
  }

  /** Remembers the nonce an API answered with (`DPoP-Nonce`), and returns it. */
  rememberNonce(url: URL, response: Response): string | undefined {
    const nonce = response.headers.get('dpop-nonce') ?? undefined
    if (nonce === undefined) return undefined
    this.#nonces.delete(url.origin)
    this.#nonces.set(url.origin, nonce)
    if (this.#nonces.size > MAX_HANDLES) {
      this.#nonces.delete(this.#nonces.keys().next().value as string)
    }
    return nonce
  }
}

/** Whether an API's 401 asks for a DPoP nonce (RFC 9449 §9). */
export function wantsNonce(response: Response): boolean {
  return (
    response.status === 401 &&
    /\berror\s*=\s*"?use_dpop_nonce"?/i.test(response.headers.get('www-authenticate') ?? '')
  )
}
