/**
 * The client's own private key (`clientPrivateKey`): it signs private_key_jwt client assertions
 * (RFC 7523) and request objects (RFC 9101). Checked when the options are, synchronously: a
 * public key given as the private one, a key whose `alg` does not fit it, or a symmetric key is
 * refused at start-up with the option's name.
 */
import type * as NodeCrypto from 'node:crypto'
import { nodeCrypto } from '../seal/iron.js'

/** A private JSON Web Key: `kty`, the private member `d`, and optionally `alg` and `kid`. */
export type PrivateJwk = JsonWebKey & { readonly kid?: string; readonly alg?: string }

/** A usable signing key: the key, its JWS algorithm, and the `kid` to name it by. */
export interface ClientKey {
  /**
   * the key; a JWK is imported at once where `node:crypto` is (Node.js), else at discovery
   * through WebCrypto (an edge runtime)
   */
  readonly key: CryptoKey | (() => Promise<CryptoKey>)
  readonly alg: string
  readonly kid: string | undefined
}

/** The client key's `CryptoKey`, imported now if it was not. */
export async function signingKey(key: ClientKey): Promise<CryptoKey> {
  return typeof key.key === 'function' ? key.key() : key.key
}

/** Why a key cannot be the client's: the text after the option's name. */
export class ClientKeyError extends Error {}

/** The smallest RSA modulus accepted for signing (RFC 7518 §3.3). */
const MIN_RSA_BITS = 2048

const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const EC_ALGS: Readonly<Record<string, string>> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
}

/** The WebCrypto parameters that sign with `alg`. */
function webCryptoAlgorithm(alg: string, curve: string | undefined) {
  const hash = `SHA-${alg.slice(2)}`
  if (alg.startsWith('RS')) return { name: 'RSASSA-PKCS1-v1_5', hash }
  if (alg.startsWith('PS')) return { name: 'RSA-PSS', hash }
  if (alg.startsWith('ES')) return { name: 'ECDSA', namedCurve: curve as string }
  return { name: 'Ed25519' }
}

/** The algorithm a key signs with: its `alg` when it fits the key, else the key type's default. */
function algorithmOf(kty: string, curve: string | undefined, alg: string | undefined): string {
  if (kty === 'RSA') {
    if (alg === undefined) return 'RS256'
    if (RSA_ALGS.includes(alg)) return alg
    throw new ClientKeyError(
      `is an RSA key, but its "alg" is ${alg}: use one of ${RSA_ALGS.join(', ')}`,
    )
  }
  if (kty === 'EC') {
    const fits = curve === undefined ? undefined : EC_ALGS[curve]
    if (fits === undefined)
      throw new ClientKeyError(
        `is an EC key on an unsupported curve (${curve}): use P-256, P-384 or P-521`,
      )
    if (alg === undefined || alg === fits) return fits
    throw new ClientKeyError(
      `is an EC ${curve} key, but its "alg" is ${alg}: it signs with ${fits}`,
    )
  }
  if (kty === 'OKP') {
    if (curve !== 'Ed25519')
      throw new ClientKeyError(`is an OKP key on ${curve}: only Ed25519 signs (EdDSA)`)
    // RFC 8037's EdDSA, or RFC 9864's fully-specified Ed25519 when the JWK names it
    if (alg === undefined || alg === 'EdDSA') return 'EdDSA'
    if (alg === 'Ed25519') return 'Ed25519'
    throw new ClientKeyError(`is an Ed25519 key, but its "alg" is ${alg}: it signs with EdDSA`)
  }
  throw new ClientKeyError(
    `has "kty" ${kty}: a signing key is RSA, EC or OKP (Ed25519), never a shared secret`,
  )
}

/** The algorithm of a WebCrypto private key. */
function cryptoKeyAlgorithm(key: CryptoKey): { alg: string; curve?: string } {
  const algorithm = key.algorithm as KeyAlgorithm & { hash?: { name: string }; namedCurve?: string }
  const bits = algorithm.hash?.name.replace('SHA-', '')
  if (algorithm.name === 'RSASSA-PKCS1-v1_5' || algorithm.name === 'RSA-PSS') {
    if (bits !== '256' && bits !== '384' && bits !== '512') {
      throw new ClientKeyError(
        `is an RSA CryptoKey for ${algorithm.hash?.name ?? 'no hash'}: sign with SHA-256, SHA-384 or SHA-512`,
      )
    }
    const { modulusLength } = algorithm as KeyAlgorithm & { modulusLength?: number }
    if (modulusLength !== undefined && modulusLength < MIN_RSA_BITS) {
      throw new ClientKeyError(
        `is a ${modulusLength}-bit RSA key: RFC 7518 §3.3 asks for 2048 bits or more`,
      )
    }
  }
  switch (algorithm.name) {
    case 'RSASSA-PKCS1-v1_5':
      return { alg: `RS${bits}` }
    case 'RSA-PSS':
      return { alg: `PS${bits}` }
    case 'ECDSA': {
      const alg = EC_ALGS[algorithm.namedCurve ?? '']
      if (alg === undefined) throw new ClientKeyError(`is an ECDSA key on an unsupported curve`)
      return { alg, curve: algorithm.namedCurve as string }
    }
    case 'Ed25519':
      return { alg: 'EdDSA' }
    default:
      throw new ClientKeyError(`is a ${algorithm.name} key: it must sign (RSA, ECDSA or Ed25519)`)
  }
}

/**
 * The client key of `value` (a private JWK or a private `CryptoKey`); throws a `ClientKeyError`
 * saying what is wrong with it.
 */
export function clientKey(value: unknown, kid?: string): ClientKey {
  if (typeof CryptoKey !== 'undefined' && value instanceof CryptoKey) {
    if (value.type !== 'private') {
      throw new ClientKeyError(`is a ${value.type} CryptoKey: give the private key`)
    }
    if (!value.usages.includes('sign')) {
      throw new ClientKeyError('is a CryptoKey without the "sign" usage')
    }
    return { key: value, alg: cryptoKeyAlgorithm(value).alg, kid }
  }
  if (typeof value === 'string' && value.includes('-----BEGIN')) {
    if (nodeCrypto === undefined) {
      throw new ClientKeyError(
        'is a PEM key, which this runtime cannot read: give a JWK or a CryptoKey',
      )
    }
    if (!/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(value)) {
      throw new ClientKeyError('is a PEM text without a private key: give the private key')
    }
    let jwk: PrivateJwk
    try {
      jwk = nodeCrypto.createPrivateKey(value).export({ format: 'jwk' }) as PrivateJwk
    } catch (error) {
      throw new ClientKeyError(`is not a readable PEM private key (${(error as Error).message})`)
    }
    return clientKey(jwk, kid)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ClientKeyError(
      'must be a private JWK (an object with "kty" and "d") or a private CryptoKey',
    )
  }
  const jwk = value as PrivateJwk
  if (typeof jwk.kty !== 'string') throw new ClientKeyError('must be a JWK: it has no "kty"')
  const alg = algorithmOf(jwk.kty, jwk.crv, jwk.alg)
  if (typeof jwk.d !== 'string') {
    throw new ClientKeyError('is a public key: give the private JWK (with its "d" member)')
  }
  if (jwk.kty === 'RSA' && typeof jwk.n === 'string') {
    // the modulus's bits, from its base64url length (leading zero bytes are not encoded)
    const bits = Math.floor((jwk.n.replace(/=+$/, '').length * 6) / 8) * 8
    if (bits < MIN_RSA_BITS) {
      throw new ClientKeyError(`is a ${bits}-bit RSA key: RFC 7518 §3.3 asks for 2048 bits or more`)
    }
  }
  const kidOf = kid ?? (typeof jwk.kid === 'string' ? jwk.kid : undefined)
  const algorithm = webCryptoAlgorithm(alg, jwk.crv)
  if (nodeCrypto === undefined) {
    const imported = crypto.subtle.importKey('jwk', jwk, algorithm, false, ['sign'])
    // an unhandled rejection now would be reported before discovery awaits it
    imported.catch(() => undefined)
    return { key: () => imported, alg, kid: kidOf }
  }
  let key: CryptoKey
  try {
    const keyObject = nodeCrypto.createPrivateKey({
      key: jwk as NodeCrypto.JsonWebKey,
      format: 'jwk',
    })
    // Node 22 checks some key material only here
    key = keyObject.toCryptoKey(algorithm, false, ['sign']) as unknown as CryptoKey
  } catch (error) {
    throw new ClientKeyError(`is not a valid private JWK (${(error as Error).message})`)
  }
  return { key, alg, kid: kidOf }
}
