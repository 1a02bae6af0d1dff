/**
 * base64url text, as a JWT's parts and a packed session hold it: decoded and encoded with Node's
 * Buffer where there is one (native: a few µs for a token, where a byte-by-byte `Uint8Array.from`
 * over atob's output took tens), else with atob/btoa. Decoding is as strict on both paths: only
 * the base64url alphabet, no padding, and no length that no byte string encodes to (one character
 * past a multiple of four); anything else is `undefined`.
 */

type NodeBufferClass = {
  from(
    text: string,
    encoding: 'base64url' | 'utf8',
  ): Uint8Array & {
    toString(encoding: 'utf8' | 'base64url'): string
  }
}

/** Node's Buffer, or `undefined` where the runtime has none (an edge runtime, a browser). */
const NodeBuffer = (globalThis as { Buffer?: NodeBufferClass }).Buffer

const ALPHABET = /^[A-Za-z0-9_-]*$/
const lenient = new TextDecoder()
const strict = new TextDecoder('utf-8', { fatal: true })

/** The bytes base64url `text` encodes, or `undefined` when it is not base64url. */
function bytesOf(text: string): Uint8Array | undefined {
  if (!ALPHABET.test(text) || text.length % 4 === 1) return undefined
  if (NodeBuffer) return NodeBuffer.from(text, 'base64url')
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/')
  let binary: string
  try {
    binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4))
  } catch {
    return undefined
  }
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/**
 * The UTF-8 text that base64url `text` encodes, or `undefined` when it is not base64url. With
 * `fatal`, bytes that are not UTF-8 are `undefined` too; otherwise they decode as U+FFFD.
 */
export function decodeBase64urlText(text: string, fatal = false): string | undefined {
  const bytes = bytesOf(text)
  if (bytes === undefined) return undefined
  try {
    return (fatal ? strict : lenient).decode(bytes)
  } catch {
    return undefined
  }
}

/** The base64url (unpadded) of the UTF-8 bytes of `text`. */
export function encodeBase64urlText(text: string): string {
  if (NodeBuffer) return NodeBuffer.from(text, 'utf8').toString('base64url')
  let binary = ''
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
