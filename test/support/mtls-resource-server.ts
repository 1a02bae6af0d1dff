/**
 * A resource server that accepts certificate-bound tokens only (RFC 8705 §3), as a careful API
 * does: https on 127.0.0.1 with client certificates requested; the bearer token is introspected at
 * the provider (authenticating as the app's client, with its certificate), and its
 * `cnf.x5t#S256` must be the SHA-256 thumbprint of the certificate this very connection
 * presented. It answers `{ sub, x5t }`, or 401 `invalid_token` saying why in `verdicts`.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { request as httpsRequest, createServer as httpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'

export interface MtlsResourceServer {
  readonly url: string
  /** every request's verdict, in order: `ok`, or why it was refused */
  readonly verdicts: string[]
  /** the bearer tokens it was sent, in order */
  readonly tokens: string[]
  /** how the API introspects: the provider's introspection endpoint, as the app's client */
  introspection: {
    endpoint: string
    clientId: string
    cert: string
    key: string
    ca: string
  }
  close(): Promise<void>
}

/** POSTs `form` to `url` over TLS with a client certificate; the answer's status and JSON. */
export function postWithCertificate(
  url: string,
  form: Record<string, string>,
  tls: { cert: string; key: string; ca: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = new URLSearchParams(form).toString()
  return new Promise((resolve, reject) => {
    const sent = httpsRequest(
      url,
      {
        method: 'POST',
        ...tls,
        agent: false,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(Buffer.byteLength(body)),
          accept: 'application/json',
        },
      },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (chunk: Buffer) => parts.push(chunk))
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8')
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} })
        })
        res.on('error', reject)
      },
    )
    sent.on('error', reject)
    sent.end(body)
  })
}

export async function startMtlsResourceServer(tls: {
  cert: string
  key: string
  /** the CA whose client certificates it accepts (self-signed ones are accepted too: the binding decides) */
  ca: string
}): Promise<MtlsResourceServer> {
  const verdicts: string[] = []
  const tokens: string[] = []
  const state: MtlsResourceServer = {
    url: '',
    verdicts,
    tokens,
    introspection: { endpoint: '', clientId: '', cert: '', key: '', ca: '' },
    close: async () => undefined,
  }
  const server = httpsServer(
    { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false },
    async (req, res) => {
      const refuse = (why: string) => {
        verdicts.push(why)
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end()
      }
      const [scheme, token] = (req.headers.authorization ?? '').split(' ')
      if (scheme !== 'Bearer' || !token) return refuse('no bearer token')
      tokens.push(token)
      const presented = (req.socket as TLSSocket).getPeerX509Certificate()
      if (!presented) return refuse('no client certificate')
      const x5t = createHash('sha256').update(presented.raw).digest('base64url')
      const { endpoint, clientId, ...credentials } = state.introspection
      let introspected: { active?: boolean; sub?: string; cnf?: Record<string, unknown> }
      try {
        const answer = await postWithCertificate(
          endpoint,
          { token, client_id: clientId },
          credentials,
        )
        introspected = answer.body
      } catch (error) {
        return refuse(`introspection failed: ${(error as Error).message}`)
      }
      if (!introspected.active) return refuse('inactive token')
      if (introspected.cnf?.['x5t#S256'] !== x5t) return refuse('bound to another certificate')
      verdicts.push('ok')
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ sub: introspected.sub, x5t }))
    },
  )
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  Object.assign(state, {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  })
  return state
}
