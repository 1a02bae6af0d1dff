/**
 * The client's TLS certificate (`clientCertificate`), for mutual TLS (RFC 8705): client
 * authentication by `tls_client_auth` or `self_signed_tls_client_auth`, and certificate-bound
 * access tokens. Checked at start-up (the certificate and key must parse, belong together and be
 * valid now); every request to the provider, and `fetch` to an API, then goes over a connection
 * that presents it. Node's `fetch` cannot present a client certificate without the `undici`
 * package, so this is a small `fetch` over `node:https`: it never follows redirects (a bound token
 * is for the one URL asked), and fails the way `fetch` does (a `TypeError` whose `cause` is the
 * network error; the signal's reason when aborted).
 */

import type * as NodeCrypto from 'node:crypto'
import type * as NodeHttps from 'node:https'
import type * as NodeStream from 'node:stream'
import type * as NodeTls from 'node:tls'
import { builtin } from '../builtin.js'

/** The client certificate option: PEM text (or its bytes). */
export interface ClientCertificateOptions {
  /**
   * the client's certificate, PEM; intermediate CA certificates may follow it (they are sent
   * in the handshake too)
   */
  cert: string | Uint8Array
  /** its private key, PEM (PKCS #8, PKCS #1 or SEC1) */
  key: string | Uint8Array
  /** the key's passphrase, when it is encrypted */
  passphrase?: string
  /**
   * CA certificates (PEM) trusted for the provider's and the APIs' server certificates on these
   * connections, beside Node's own (a private PKI); default Node's only
   */
  ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>
}

/** A checked client certificate, and the `fetch` that presents it. */
export interface ClientCertificate {
  /** `fetch` over TLS with the certificate; http URLs go to the runtime's own `fetch` */
  readonly fetch: typeof fetch
  /** the certificate's SHA-256 thumbprint, base64url (`cnf.x5t#S256` of bound tokens) */
  readonly thumbprint: string
  /** whether it is self-signed (then `self_signed_tls_client_auth` fits it) */
  readonly selfSigned: boolean
  /** when it expires, epoch ms */
  readonly validTo: number
}

/** Why a certificate cannot be the client's: the text after the option's name. */
export class ClientCertificateError extends Error {
  constructor(
    /** the option at fault, e.g. `clientCertificate.key` */
    readonly option: string,
    message: string,
  ) {
    super(message)
  }
}

interface NodeModules {
  crypto: typeof NodeCrypto
  https: typeof NodeHttps
  tls: typeof NodeTls
  stream: typeof NodeStream
}

/** Node's modules (without a static import), or `undefined` where the runtime has none. */
function nodeModules(): NodeModules | undefined {
  const crypto = builtin<typeof NodeCrypto>('node:crypto')
  const https = builtin<typeof NodeHttps>('node:https')
  const tls = builtin<typeof NodeTls>('node:tls')
  const stream = builtin<typeof NodeStream>('node:stream')
  return crypto && https && tls && stream ? { crypto, https, tls, stream } : undefined
}

function isPem(value: unknown): value is string | Uint8Array {
  return typeof value === 'string' || value instanceof Uint8Array
}

/** The certificates of a PEM text, each checked to parse. */
function certificates(
  crypto: typeof NodeCrypto,
  option: string,
  pem: string | Uint8Array,
): NodeCrypto.X509Certificate[] {
  const text = typeof pem === 'string' ? pem : new TextDecoder().decode(pem)
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)
  if (!blocks) {
    throw new ClientCertificateError(
      option,
      'is not a PEM certificate ("-----BEGIN CERTIFICATE-----"): give the certificate text, not its file name',
    )
  }
  return blocks.map((block) => {
    try {
      return new crypto.X509Certificate(block)
    } catch {
      throw new ClientCertificateError(option, 'holds a certificate that does not parse')
    }
  })
}

/**
 * The CA certificates Node trusts by default: its bundled ones and NODE_EXTRA_CA_CERTS (and the
 * system's, with --use-system-ca), which an explicit `ca` would otherwise replace. Node before
 * 22.15 cannot list them: its bundled ones and the NODE_EXTRA_CA_CERTS file, read here.
 */
function defaultCas(tls: typeof NodeTls): readonly string[] {
  const listed = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates
  if (listed) return listed('default')
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env
  const extra = env?.NODE_EXTRA_CA_CERTS
  if (!extra) return tls.rootCertificates
  try {
    const fs = builtin<typeof import('node:fs')>('node:fs')
    return [...tls.rootCertificates, fs?.readFileSync(extra, 'utf8') ?? '']
  } catch {
    // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS
    return tls.rootCertificates
  }
}

/**
 * Checks `options` (at start-up, `now` by the app's clock) and makes the `fetch` that presents
 * the certificate. Throws a `ClientCertificateError` naming the member at fault.
 */
export function clientCertificate(options: unknown, now: number): ClientCertificate {
  const node = nodeModules()
  if (!node) {
    throw new ClientCertificateError(
      'clientCertificate',
      'needs the Node.js runtime (mutual TLS is not possible on an edge runtime)',
    )
  }
  if (options === null || typeof options !== 'object') {
    throw new ClientCertificateError('clientCertificate', 'must be an object { cert, key }')
  }
  const { cert, key, passphrase, ca } = options as Partial<ClientCertificateOptions>
  if (!isPem(cert)) {
    throw new ClientCertificateError('clientCertificate.cert', 'must be the PEM certificate text')
  }
  if (!isPem(key)) {
    throw new ClientCertificateError('clientCertificate.key', 'must be the PEM private key text')
  }
  if (passphrase !== undefined && typeof passphrase !== 'string') {
    throw new ClientCertificateError('clientCertificate.passphrase', 'must be a string')
  }
  const [leaf] = certificates(node.crypto, 'clientCertificate.cert', cert) as [
    NodeCrypto.X509Certificate,
  ]
  let privateKey: NodeCrypto.KeyObject
  try {
    privateKey = node.crypto.createPrivateKey({
      key: typeof key === 'string' ? key : Buffer.from(key),
      ...(passphrase === undefined ? {} : { passphrase }),
    })
  } catch (error) {
    const code = (error as { code?: unknown }).code
    throw new ClientCertificateError(
      'clientCertificate.key',
      code === 'ERR_MISSING_PASSPHRASE' || /bad decrypt/i.test(String(error))
        ? 'is encrypted: give "clientCertificate.passphrase" (the right one)'
        : 'is not a PEM private key (a certificate or public key given as the key?)',
    )
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new ClientCertificateError(
      'clientCertificate.key',
      'is not the private key of "clientCertificate.cert"',
    )
  }
  const validFrom = Date.parse(leaf.validFrom)
  const validTo = Date.parse(leaf.validTo)
  if (now > validTo) {
    throw new ClientCertificateError(
      'clientCertificate.cert',
      `expired on ${new Date(validTo).toISOString()}: give a renewed certificate`,
    )
  }
  if (now < validFrom) {
    throw new ClientCertificateError(
      'clientCertificate.cert',
      `is not valid before ${new Date(validFrom).toISOString()}`,
    )
  }
  let trusted: string[] | undefined
  if (ca !== undefined) {
    const list = Array.isArray(ca) ? ca : [ca]
    if (list.length === 0 || !list.every(isPem)) {
      throw new ClientCertificateError(
        'clientCertificate.ca',
        'must be PEM CA certificates (a text or a list of them)',
      )
    }
    trusted = [
      ...defaultCas(node.tls),
      ...list.flatMap((pem) =>
        certificates(node.crypto, 'clientCertificate.ca', pem).map((c) => c.toString()),
      ),
    ]
  }
  const agent = new node.https.Agent({
    cert: typeof cert === 'string' ? cert : Buffer.from(cert),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    ...(trusted ? { ca: trusted } : {}),
    // as Node's global agent: connections are reused, an idle one is closed after 5 s (before a
    // load balancer drops it silently and a token request hangs on it)
    keepAlive: true,
    timeout: 5_000,
  })
  return {
    fetch: certificateFetch(node, agent),
    thumbprint: Buffer.from(node.crypto.createHash('sha256').update(leaf.raw).digest()).toString(
      'base64url',
    ),
    // its own issuer, its signature its own key's (checkIssued would also want keyCertSign)
    selfSigned: leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey),
    validTo,
  }
}

/** Statuses whose response has no body (Fetch's "null body status"; 1xx never reach here). */
const NULL_BODY = new Set([204, 205, 304])

function certificateFetch(node: NodeModules, agent: NodeHttps.Agent): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init)
    const url = new URL(request.url)
    // http is for development against a loopback provider (allowInsecureRequests): no TLS
    // there, and no redirect followed either
    if (url.protocol !== 'https:') return fetch(new Request(request, { redirect: 'manual' }))
    const { signal } = request
    signal.throwIfAborted()
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined
    const headers: Record<string, string> = {}
    request.headers.forEach((value, name) => {
      headers[name] = value
    })
    if (body) headers['content-length'] = String(body.length)
    return new Promise<Response>((resolve, reject) => {
      // aborted while the body was read
      if (signal.aborted) {
        reject(signal.reason)
        return
      }
      const sent = node.https.request(url, { method: request.method, headers, agent }, (res) => {
        const status = res.statusCode ?? 0
        const empty = NULL_BODY.has(status) || request.method === 'HEAD'
        if (empty) res.resume()
        res.once('close', () => signal.removeEventListener('abort', abort))
        try {
          const responseHeaders = new Headers()
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            responseHeaders.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string)
          }
          resolve(
            new Response(
              empty ? null : (node.stream.Readable.toWeb(res) as ReadableStream<Uint8Array>),
              { status, statusText: res.statusMessage ?? '', headers: responseHeaders },
            ),
          )
        } catch (error) {
          res.destroy()
          reject(new TypeError('fetch failed', { cause: error }))
        }
      })
      const abort = () => sent.destroy(signal.reason as Error)
      signal.addEventListener('abort', abort, { once: true })
      sent.once('error', (error) => {
        signal.removeEventListener('abort', abort)
        reject(signal.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }))
      })
      sent.end(body)
    })
  }
}
