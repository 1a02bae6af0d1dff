/**
 * A session as it is sealed: compressed when that makes it smaller. Its tokens are mostly JWTs,
 * whose base64url parts hide what they repeat (an ID token and an access token often carry the
 * same claims, a provider's groups twice over): they are stored decoded, then the whole session is
 * deflated, so what is stored twice costs little and a token with a few dozen groups still fits
 * in the session cookie.
 */
import { builtin } from '../builtin.js'
import { decodeBase64urlText, encodeBase64urlText } from '../protocol/base64url.js'
import type { SessionData } from './types.js'

/** The token members of a session, stored decoded when they are JWTs. */
const TOKENS = ['idToken', 'accessToken', 'refreshToken'] as const

/** The most bytes a packed session may inflate to (a seal is ours, checked: a bound all the same). */
const MAX_INFLATED = 4 * 1024 * 1024

type Zlib = typeof import('node:zlib')

/** Node's zlib (without a static import), or `undefined` where the runtime has none. */
const zlib = builtin<Zlib>('node:zlib')

/**
 * The smallest deflate window (windowBits, 9 to 15) that still reaches back over all of `bytes`
 * bytes: zlib matches at most `2^windowBits - 262` bytes back. For an input that short, the output
 * is byte for byte what the default window of 15 gives (same level, same memLevel), and inflating
 * it is unchanged; but zlib allocates and clears a window of twice that size, plus its hash chain,
 * for every call: 32 KiB instead of 256 KiB for a 3 KB session, about 30 µs instead of 75.
 */
export function windowBitsFor(bytes: number): number {
  let bits = 9
  while (bits < 15 && 2 ** bits - 262 < bytes) bits++
  return bits
}

async function deflate(text: string): Promise<Uint8Array> {
  // level 1: as small as the default level for these payloads (what is repeated is found at any
  // level; what is random stays random), in a third of the time
  if (zlib) {
    const bytes = Buffer.from(text, 'utf8')
    return zlib.deflateRawSync(bytes, { level: 1, windowBits: windowBitsFor(bytes.length) })
  }
  return transform(new TextEncoder().encode(text), new CompressionStream('deflate-raw'))
}

async function inflate(bytes: Uint8Array): Promise<string> {
  if (zlib) return zlib.inflateRawSync(bytes, { maxOutputLength: MAX_INFLATED }).toString('utf8')
  const inflated = await transform(bytes, new DecompressionStream('deflate-raw'))
  if (inflated.length > MAX_INFLATED) throw new Error('a packed session inflates too far')
  return new TextDecoder().decode(inflated)
}

async function transform(bytes: Uint8Array, stream: CompressionStream | DecompressionStream) {
  const output = new Blob([bytes as BlobPart]).stream().pipeThrough(stream)
  return new Uint8Array(await new Response(output).arrayBuffer())
}

function toBase64(bytes: Uint8Array): string {
  if (zlib) return Buffer.from(bytes).toString('base64')
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

function fromBase64(text: string): Uint8Array {
  if (zlib) return Buffer.from(text, 'base64')
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
}

/**
 * A JWT's header and payload decoded, and its signature, when decoding is exact (encoding them
 * again gives the token back); otherwise the token itself.
 */
function expand(token: string): string | readonly [string, string, string] {
  const parts = token.split('.')
  if (parts.length !== 3) return token
  const [header, payload, signature] = parts as [string, string, string]
  const decodedHeader = decodeBase64urlText(header, true)
  const decodedPayload = decodeBase64urlText(payload, true)
  if (decodedHeader === undefined || decodedPayload === undefined) return token
  if (
    encodeBase64urlText(decodedHeader) !== header ||
    encodeBase64urlText(decodedPayload) !== payload
  ) {
    return token
  }
  return [decodedHeader, decodedPayload, signature]
}

function restore(value: unknown): unknown {
  if (!Array.isArray(value)) return value
  const [header, payload, signature] = value as [string, string, string]
  return `${encodeBase64urlText(header)}.${encodeBase64urlText(payload)}.${signature}`
}

/**
 * What is sealed for `data`: the session itself, or `{ z }` (its tokens decoded, the whole
 * deflated, in base64) when that is shorter.
 */
export async function packSession(data: SessionData): Promise<Record<string, unknown>> {
  const plain = JSON.stringify(data)
  const expanded: Record<string, unknown> = { ...data }
  for (const name of TOKENS) {
    const token = data[name]
    if (typeof token === 'string') expanded[name] = expand(token)
  }
  const z = toBase64(await deflate(JSON.stringify(expanded)))
  // `{"z":"…"}` against the plain JSON
  return z.length + 8 < plain.length ? { z } : { ...data }
}

/** The session of what `packSession` made (anything else is returned as it is). */
export async function unpackSession(
  payload: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { z, k } = payload
  if (typeof z !== 'string') return payload
  const unpacked = JSON.parse(await inflate(fromBase64(z))) as Record<string, unknown>
  for (const name of TOKENS) {
    if (name in unpacked) unpacked[name] = restore(unpacked[name])
  }
  return k === undefined ? unpacked : { ...unpacked, k }
}
