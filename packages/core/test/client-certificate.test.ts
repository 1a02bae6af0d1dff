/**
 * The `fetch` that presents the client certificate (mutual TLS, RFC 8705): what openid-client and
 * `fetch` with the session's token rely on from a `fetch`, against https servers on 127.0.0.1 with
 * certificates made here: the certificate reaches the server, bodies and headers go both ways, a
 * redirect is returned rather than followed, a null-body status has no body, and failures look
 * like `fetch`'s (a `TypeError` with the network error as `cause`, the signal's reason on abort).
 */
import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { createCertificateAuthority } from '@codeflow/dev-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientCertificate } from '../src/protocol/client-certificate.js'

const ca = createCertificateAuthority()
const server = ca.issue({ subject: 'CN=127.0.0.1', hosts: ['127.0.0.1'], usage: 'server' })
const client = ca.issue({ subject: 'CN=client,O=tests' })

describe('the client certificate fetch', () => {
  let https: Server
  let origin: string
  let hang: () => void = () => undefined
  beforeAll(async () => {
    https = createServer(
      { ...server, ca: ca.cert, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const socket = req.socket as TLSSocket
        const chunks: Buffer[] = []
        req.on('data', (chunk: Buffer) => chunks.push(chunk))
        req.on('end', () => {
          if (req.url === '/redirect') {
            res.writeHead(302, { location: '/elsewhere' }).end()
          } else if (req.url === '/empty') {
            res.writeHead(204).end()
          } else if (req.url === '/hang') {
            hang = () => res.destroy()
          } else {
            res.writeHead(201, { 'content-type': 'application/json', 'x-a': 'one' })
            res.end(
              JSON.stringify({
                method: req.method,
                body: Buffer.concat(chunks).toString('utf8'),
                type: req.headers['content-type'],
                custom: req.headers['x-custom'],
                peer: socket.getPeerX509Certificate()?.subject,
                authorized: socket.authorized,
              }),
            )
          }
        })
      },
    )
    https.listen(0, '127.0.0.1')
    await once(https, 'listening')
    origin = `https://127.0.0.1:${(https.address() as AddressInfo).port}`
  })
  afterAll(() => {
    hang()
    https.closeAllConnections()
    https.close()
  })

  const transport = () =>
    clientCertificate({ cert: client.cert, key: client.key, ca: ca.cert }, Date.now())

  it('presents the certificate, sends the body and headers, and reads the answer', async () => {
    const response = await transport().fetch(`${origin}/echo`, {
      method: 'POST',
      headers: { 'x-custom': 'yes' },
      body: new URLSearchParams({ grant_type: 'refresh_token' }),
    })
    expect(response.status).toBe(201)
    expect(response.headers.get('x-a')).toBe('one')
    expect(await response.json()).toEqual({
      method: 'POST',
      body: 'grant_type=refresh_token',
      type: 'application/x-www-form-urlencoded;charset=UTF-8',
      custom: 'yes',
      peer: 'O=tests\nCN=client',
      authorized: true,
    })
  })

  it('takes a Request as fetch does', async () => {
    const response = await transport().fetch(
      new Request(`${origin}/echo`, { method: 'PUT', body: 'text' }),
    )
    expect(await response.json()).toMatchObject({ method: 'PUT', body: 'text' })
  })

  it('returns a redirect instead of following it, and no body for 204', async () => {
    const redirect = await transport().fetch(`${origin}/redirect`)
    expect(redirect.status).toBe(302)
    expect(redirect.headers.get('location')).toBe('/elsewhere')
    const empty = await transport().fetch(`${origin}/empty`)
    expect(empty.status).toBe(204)
    expect(empty.body).toBeNull()
  })

  it('fails with the signal’s reason when it times out', async () => {
    const error = await transport()
      .fetch(`${origin}/hang`, { signal: AbortSignal.timeout(200) })
      .catch((e: unknown) => e)
    expect((error as Error).name).toBe('TimeoutError')
  })

  it('fails with the signal’s reason when aborted while its body is read', async () => {
    const controller = new AbortController()
    const body = new ReadableStream<Uint8Array>({
      pull(stream) {
        controller.abort(new Error('stopped by the app'))
        stream.enqueue(new TextEncoder().encode('part'))
        stream.close()
      },
    })
    const error = await transport()
      .fetch(`${origin}/echo`, {
        method: 'POST',
        body,
        signal: controller.signal,
        duplex: 'half',
      } as RequestInit)
      .catch((e: unknown) => e)
    expect((error as Error).message).toBe('stopped by the app')
  })

  it('does not follow a redirect on http either (a loopback provider in development)', async () => {
    const http = createHttpServer((_req, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end()
    })
    http.listen(0, '127.0.0.1')
    await once(http, 'listening')
    try {
      const response = await transport().fetch(
        `http://127.0.0.1:${(http.address() as AddressInfo).port}/`,
      )
      expect(response.status).toBe(302)
    } finally {
      http.closeAllConnections()
      http.close()
    }
  })

  it('fails as fetch does when the server cannot be reached or is not trusted', async () => {
    const refused = await transport()
      .fetch('https://127.0.0.1:1/')
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(TypeError)
    expect((refused as TypeError).cause).toMatchObject({ code: 'ECONNREFUSED' })
    // without the CA, the server's certificate is not trusted
    const untrusted = await clientCertificate({ cert: client.cert, key: client.key }, Date.now())
      .fetch(`${origin}/echo`)
      .catch((e: unknown) => e)
    expect(untrusted).toBeInstanceOf(TypeError)
    // which of the two depends on whether the server sends its CA in the chain
    expect(String((untrusted as { cause: { code?: unknown } }).cause.code)).toMatch(
      /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/,
    )
  })

  it('tells a self-signed certificate from an issued one, and gives the thumbprint', () => {
    expect(transport().selfSigned).toBe(false)
    expect(transport().thumbprint).toBe(client.thumbprint)
  })
})
