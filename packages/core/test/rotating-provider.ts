/**
 * A provider that only refreshes tokens, rotating the refresh token at every use and refusing a
 * spent one (invalid_grant), as providers that rotate refresh tokens do (RFC 9700 §4.14.2). Its
 * refresh responses carry no ID token. Shared by the core's and the adapters' unit tests.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A running rotating provider. */
export interface RotatingProvider {
  readonly issuer: string
  /** requests to the token endpoint so far */
  readonly tokenRequests: number
  /** makes `token` a refresh token the provider accepts, once */
  grant(token: string): void
  close(): Promise<void>
}

/** Starts a rotating provider on 127.0.0.1 and a free port. */
export async function startRotatingProvider(): Promise<RotatingProvider> {
  const valid = new Set<string>()
  let issued = 0
  let tokenRequests = 0
  let issuer = ''
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(body))
    }
    if (req.url === '/.well-known/openid-configuration') {
      return send(200, {
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      })
    }
    let body = ''
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString()
    })
    req.on('end', () => {
      tokenRequests++
      const form = new URLSearchParams(body)
      if (
        form.get('grant_type') !== 'refresh_token' ||
        !valid.delete(form.get('refresh_token') ?? '')
      ) {
        return send(400, { error: 'invalid_grant' })
      }
      issued++
      valid.add(`refresh-${issued}`)
      send(200, {
        access_token: `access-${issued}`,
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: `refresh-${issued}`,
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    issuer,
    get tokenRequests() {
      return tokenRequests
    },
    grant(token) {
      valid.add(token)
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
