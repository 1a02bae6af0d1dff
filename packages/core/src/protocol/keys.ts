/**
 * The provider's signing keys (its jwks_uri), for every signature codeflow checks: ID tokens at
 * login and refresh, logout tokens. One cached set per discovered provider, fetched at first use
 * and again after `MAX_AGE`. A token signed with a key the set does not have (a provider that just
 * rotated its keys) refetches it at once, at most once per `COOLDOWN`: a login right after a
 * rotation works, and a flood of tokens with junk `kid`s costs one fetch per interval. A failed
 * fetch is not retried before the cooldown ends either.
 */
import type * as NodeCrypto from 'node:crypto'
import {
  type CompactJWSHeaderParameters,
  type CompactVerifyGetKey,
  compactVerify,
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose'
import { builtin } from '../builtin.js'
import { AuthError } from '../errors.js'
import { decodeBase64urlText } from './base64url.js'

/** Milliseconds between two refetches for a key the set does not have, and after a failure. */
const COOLDOWN = 10_000
/** Milliseconds a fetched set is used before it is fetched again. */
const MAX_AGE = 10 * 60_000
/** The largest key set accepted, in bytes. */
const MAX_BYTES = 512 * 1024

/** The provider's key set could not be fetched (or is cooling down after a failure): 503. */
export class KeySetUnavailableError extends AuthError {
  constructor(options?: { cause?: unknown }) {
    super(
      "the identity provider's signing keys are unavailable, try again shortly",
      'temporarily_unavailable',
      503,
      { ...options, headers: { 'Retry-After': String(COOLDOWN / 1000) } },
    )
  }
}

interface Fetched {
  readonly select: JWTVerifyGetKey
  /** when it was fetched, epoch ms by the app's clock */
  readonly at: number
}

/** One provider's key set. */
export class ProviderKeys {
  readonly #url: URL
  readonly #timeout: number
  readonly #clock: () => number
  readonly #transport: typeof fetch
  #current: Fetched | undefined
  #pending: Promise<Fetched> | undefined
  /** when the set was last refetched for a key it did not have (epoch ms) */
  #refetchedAt = Number.NEGATIVE_INFINITY
  /** when a fetch last failed (epoch ms) */
  #failedAt = Number.NEGATIVE_INFINITY

  /**
   * `url` is the provider's jwks_uri; `timeout` the milliseconds a fetch may take; `clock` the
   * app's (epoch ms), which the intervals are measured by; `transport` the `fetch` of the
   * client certificate, when there is one (a private CA's server certificate is trusted there).
   */
  constructor(url: URL, timeout: number, clock: () => number, transport?: typeof fetch) {
    this.#url = url
    this.#timeout = timeout
    this.#clock = clock
    // looked up at each call: a framework may replace the global fetch after this is made
    this.#transport = transport ?? ((input, init) => fetch(input, init))
  }

  /** What jose's verify functions take: the key for a token's header. */
  readonly key: JWTVerifyGetKey = async (header, token) => {
    const before = this.#current
    const fetched = await this.#fresh()
    try {
      return await fetched.select(header, token)
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error
      // a set fetched for this very token is what the provider serves now; one fetched before may
      // predate a rotation: fetched again, once per cooldown
      const now = this.#clock()
      if (fetched !== before || now - this.#refetchedAt < COOLDOWN) throw error
      this.#refetchedAt = now
      return (await this.#fetch()).select(header, token)
    }
  }

  #fresh(): Promise<Fetched> {
    const current = this.#current
    if (current && this.#clock() - current.at < MAX_AGE) return Promise.resolve(current)
    return this.#fetch()
  }

  /** One fetch at a time, none for a cooldown after a failure. */
  #fetch(): Promise<Fetched> {
    if (this.#pending) return this.#pending
    if (this.#clock() - this.#failedAt < COOLDOWN)
      return Promise.reject(new KeySetUnavailableError())
    const pending = this.#download().then(
      (fetched) => {
        this.#current = fetched
        return fetched
      },
      (cause: unknown) => {
        this.#failedAt = this.#clock()
        throw new KeySetUnavailableError({ cause })
      },
    )
    this.#pending = pending
    const clear = () => {
      if (this.#pending === pending) this.#pending = undefined
    }
    pending.then(clear, clear)
    return pending
  }

  async #download(): Promise<Fetched> {
    const response = await this.#transport(this.#url, {
      headers: { accept: 'application/json, application/jwk-set+json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(this.#timeout),
    })
    if (response.status !== 200) {
      await response.body?.cancel()
      throw new Error(`the jwks_uri answered ${response.status}`)
    }
    const jwks: unknown = JSON.parse(await boundedText(response, MAX_BYTES))
    if (!isKeySet(jwks)) throw new Error('the jwks_uri answered no JSON Web Key Set')
    return { select: createLocalJWKSet(jwks), at: this.#clock() }
  }
}

/** The body of `response` as text, refused past `limit` bytes (a chunked body included). */
async function boundedText(response: Response, limit: number): Promise<string> {
  const tooLarge = () => new Error('the jwks_uri answered a key set that is too large')
  if (Number(response.headers.get('content-length') ?? 0) > limit) {
    await response.body?.cancel()
    throw tooLarge()
  }
  const reader = response.body?.getReader()
  if (!reader) return ''
  const decoder = new TextDecoder()
  let text = ''
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return text + decoder.decode()
    size += value.byteLength
    if (size > limit) {
      await reader.cancel()
      throw tooLarge()
    }
    text += decoder.decode(value, { stream: true })
  }
}

function isKeySet(value: unknown): value is JSONWebKeySet {
  if (value === null || typeof value !== 'object') return false
  const { keys } = value as { keys?: unknown }
  return Array.isArray(keys) && keys.every((key) => key !== null && typeof key === 'object')
}

/** Node's crypto module (without a static import), or `undefined` where the runtime has none. */
const nodeCrypto = builtin<typeof NodeCrypto>('node:crypto')

/** How Node's synchronous `crypto.verify` checks a JWS algorithm, and the key it needs. */
interface SyncAlgorithm {
  /** the WebCrypto algorithm the key was imported for (jose imports it for the token's alg) */
  readonly name: string
  readonly hash: string
  readonly curve?: string
  readonly padding?: number
  readonly saltLength?: number
}

/** The algorithms verified synchronously: the RSA and ECDSA ones; any other goes through jose. */
function syncAlgorithm(alg: string): SyncAlgorithm | undefined {
  const c = nodeCrypto?.constants
  if (!c) return undefined
  const bits = alg.slice(2)
  const hash = bits === '256' || bits === '384' || bits === '512' ? `SHA-${bits}` : undefined
  if (hash === undefined) return undefined
  if (alg.startsWith('RS')) {
    return { name: 'RSASSA-PKCS1-v1_5', hash, padding: c.RSA_PKCS1_PADDING }
  }
  if (alg.startsWith('PS')) {
    return { name: 'RSA-PSS', hash, padding: c.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }
  }
  if (alg.startsWith('ES')) {
    return { name: 'ECDSA', hash, curve: bits === '512' ? 'P-521' : `P-${bits}` }
  }
  return undefined
}

const BASE64URL = /^[A-Za-z0-9_-]*$/
const isBase64url = (part: string) => BASE64URL.test(part) && part.length % 4 !== 1

/** The KeyObject of each CryptoKey a key set gave (a WeakMap: it lives as long as the key). */
const keyObjects = new WeakMap<CryptoKey, NodeCrypto.KeyObject>()

function keyObjectOf(crypto: typeof NodeCrypto, key: CryptoKey): NodeCrypto.KeyObject {
  let object = keyObjects.get(key)
  if (object === undefined) {
    object = crypto.KeyObject.from(key)
    keyObjects.set(key, object)
  }
  return object
}

/** Whether `key` is a public verification key imported for `expected` (jose's own checks). */
function fits(key: unknown, expected: SyncAlgorithm): key is CryptoKey {
  if (!(key instanceof CryptoKey) || key.type !== 'public' || !key.usages.includes('verify')) {
    return false
  }
  const algorithm = key.algorithm as {
    name: string
    hash?: { name: string }
    namedCurve?: string
    modulusLength?: number
  }
  if (algorithm.name !== expected.name) return false
  if (expected.curve !== undefined) return algorithm.namedCurve === expected.curve
  // RSA: the hash the key was imported with, and at least 2048 bits (as jose requires)
  return (
    algorithm.hash?.name === expected.hash &&
    typeof algorithm.modulusLength === 'number' &&
    algorithm.modulusLength >= 2048
  )
}

/**
 * Checks the signature of the compact JWS `token` (an ID token) with the provider's keys and the
 * one algorithm accepted from it; throws when it does not verify.
 *
 * A token in the usual form (a JSON object header whose `alg` is `alg`, without `crit` or `b64`,
 * base64url parts; an RSA or ECDSA algorithm; a key the set imported for it) is verified here with
 * Node's synchronous `crypto.verify`, with the key the set selects (kid, refetch after a
 * rotation): what jose checks, without WebCrypto's thread-pool job (some 60 µs of CPU for an
 * RS256 signature, against 25). Anything else, and every runtime without Node's crypto, goes to
 * jose's `compactVerify`, which decides (and throws its own errors for what is wrong).
 */
export async function verifySignature(
  keys: ProviderKeys,
  token: string,
  alg: string,
): Promise<void> {
  const expected = syncAlgorithm(alg)
  const parts = token.split('.')
  if (expected && nodeCrypto && parts.length === 3) {
    const [encodedHeader, payload, signature] = parts as [string, string, string]
    const header = parseHeader(encodedHeader)
    if (
      header !== undefined &&
      header.alg === alg &&
      !('crit' in header) &&
      !('b64' in header) &&
      isBase64url(payload) &&
      isBase64url(signature)
    ) {
      const key = await keys.key(
        header as unknown as CompactJWSHeaderParameters,
        {
          payload,
          protected: encodedHeader,
          signature,
        } as FlattenedJWSInput,
      )
      if (fits(key, expected)) {
        let verified: boolean | undefined
        try {
          verified = nodeCrypto.verify(
            expected.hash.replace('-', '').toLowerCase(),
            Buffer.from(`${encodedHeader}.${payload}`, 'ascii'),
            {
              key: keyObjectOf(nodeCrypto, key),
              ...(expected.padding === undefined ? {} : { padding: expected.padding }),
              ...(expected.saltLength === undefined ? {} : { saltLength: expected.saltLength }),
              ...(expected.curve === undefined ? {} : { dsaEncoding: 'ieee-p1363' as const }),
            },
            Buffer.from(signature, 'base64url'),
          )
        } catch {
          // a runtime whose node:crypto lacks part of this (KeyObject.from, dsaEncoding): jose
          // decides below; a signature that does not verify never comes here
          verified = undefined
        }
        if (verified === false) throw new errors.JWSSignatureVerificationFailed()
        if (verified === true) return
      }
    }
  }
  await compactVerify(token, keys.key as CompactVerifyGetKey, { algorithms: [alg] })
}

/** The JOSE header of a compact JWS, when it is a base64url JSON object; else `undefined`. */
function parseHeader(encoded: string): Record<string, unknown> | undefined {
  const text = decodeBase64urlText(encoded, true)
  if (text === undefined) return undefined
  try {
    const header: unknown = JSON.parse(text)
    return header !== null && typeof header === 'object' && !Array.isArray(header)
      ? (header as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
