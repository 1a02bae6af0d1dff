/**
 * A session as it is sealed: compressed when that makes it smaller. Its tokens are mostly JWTs,
 * whose base64url parts hide what they repeat (an ID token and an access token often carry the
 * same claims, a provider's groups twice over): they are stored decoded, then the whole session is
 * deflated, so what is stored twice costs little and a token with a few dozen groups still fits
 * in the session cookie.
 */
import { builtin } from '../builtin.js'
import type { SessionData } from './types.js'

/** The token members of a session, stored decoded when they are JWTs. */
const TOKENS = ['idToken', 'accessToken', 'refreshToken'] as const

/** The most bytes a packed session may inflate to (a seal is ours, checked: a bound all the same). */
const MAX_INFLATED = 4 * 1024 * 1024

type Zlib = typeof import('node:zlib')

/** Node's zlib (without a static import), or `undefined` where the runtime has none. */
const zlib = builtin<Zlib>('node:zlib')

async function deflate(text: string): Promise<Uint8Array> {
  // level 1: as small as the default level for these payloads (what is repeated is found at any
  // level; what is random stays random), in a third of the time
  if (zlib) return zlib.deflateRawSync(text, { level: 1 })
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

function base64urlDecode(part: string): string | undefined {
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/')
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4))
    return new TextDecoder('utf-8', { fatal: true }).decode(
      Uint8Array.from(binary, (c) => c.charCodeAt(0)),
    )
  } catch {
    return undefined
  }
}

function base64urlEncode(text: string): string {
  let binary = ''
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * A JWT's header and payload decoded, and its signature, when decoding is exact (encoding them
 * again gives the token back); otherwise the token itself.
 */
function expand(token: string): string | readonly [string, string, string] {
  const parts = token.split('.')
  if (parts.length !== 3) return token
  const [header, payload, signature] = parts as [string, string, string]
  const decodedHeader = base64urlDecode(header)
  const decodedPayload = base64urlDecode(payload)
  if (decodedHeader === undefined || decodedPayload === undefined) return token
  if (base64urlEncode(decodedHeader) !== header || base64urlEncode(decodedPayload) !== payload) {
    return token
  }
  return [decodedHeader, decodedPayload, signature]
}

function restore(value: unknown): unknown {
  if (!Array.isArray(value)) return value
  const [header, payload, signature] = value as [string, string, string]
  return `${base64urlEncode(header)}.${base64urlEncode(payload)}.${signature}`
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
